"""Shared pieces of the kind lifecycle self-tests: a fake host fit for three clusters, a
provisioner factory, and the exact commands bring-up runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from clusters.kind.cli import DockerCli, KindCli
from clusters.kind.lifecycle import KindProvisioner, KindSettings, RunIdentity, RunRegistry
from programs.redaction import Redactor
from programs.runner import CommandRunner
from tests.fakeexec import FakeTools

IMAGE = "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5"
RUN = "1121000000"
EXCLUDE = "node.kubernetes.io/exclude-from-external-load-balancers"
MakeProvisioner = Callable[..., KindProvisioner]


def fit_host(root: Path) -> Path:
    """A fake /proc of a host fit for three clusters."""
    inotify = root / "proc" / "sys" / "fs" / "inotify"
    inotify.mkdir(parents=True)
    (inotify / "max_user_watches").write_text("524288\n")
    (inotify / "max_user_instances").write_text("512\n")
    (root / "proc" / "meminfo").write_text("MemAvailable:   16777216 kB\n")
    return root / "proc"


def provisioner_factory(
    tmp_path: Path, runner: CommandRunner, redactor: Redactor, host: Path
) -> MakeProvisioner:
    def build(run_id: str = RUN, worker: str | None = None, **settings: object) -> KindProvisioner:
        run_dir = tmp_path / "run" / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        options: dict[str, object] = {
            "node_image": IMAGE,
            "retry_wait_s": 0.0,
            "nodes_ready_deadline_s": 5.0,
            "coredns_deadline_s": 5.0,
        }
        options.update(settings)
        return KindProvisioner(
            kind=KindCli(runner, "kind"),
            docker=DockerCli(runner, "docker"),
            registry=RunRegistry(tmp_path / "state"),
            identity=RunIdentity("eicp", run_id, worker),
            settings=KindSettings(**options),  # type: ignore[arg-type]
            run_dir=run_dir,
            report_dir=tmp_path / "report",
            runner=runner,
            redactor=redactor,
            kubectl_bin="kubectl",
            proc_root=host,
        )

    return build


def role_commands(fakes: FakeTools, role: str, run_dir: Path, name: str) -> list[str]:
    """What bring-up runs for one new cluster, in order (kind, docker and kubectl calls)."""
    kube = f"--kubeconfig {run_dir}/kubeconfig-{role} --context kind-{name}"
    return [
        f"kind create cluster --name {name} --config {run_dir}/kind-{role}.yaml "
        f"--kubeconfig {run_dir}/kubeconfig-{role} --wait 5m",
        f"kind get kubeconfig --name {name}",
        f"docker inspect --format {{{{json .NetworkSettings.Networks}}}} {name}-control-plane",
        f"kubectl {kube} get nodes -o json --request-timeout=30s",
        f"kubectl {kube} label node {name}-control-plane {EXCLUDE}-",
        f"kubectl {kube} -n kube-system get deployment coredns -o json --request-timeout=30s",
    ]


def all_lines(fakes: FakeTools) -> list[str]:
    return [f"{call.tool} {call.line}" for call in sorted(fakes.calls(), key=lambda c: c.ended)]


def lines_about(lines: list[str], name: str) -> list[str]:
    return [line for line in lines if name in line and "version" not in line]


SWEEP = [
    "kind get clusters",
    "docker ps -a --filter label=io.x-k8s.cloud-provider-kind.cluster --format {{.Names}}\t"
    '{{.Label "io.x-k8s.cloud-provider-kind.cluster"}}',
]
