"""Kind cluster sets driven through fake kind/docker/kubectl: exact commands, and nothing else touched."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from filelock import FileLock

from clusters.kind.lifecycle import (
    ClusterRecord,
    ProvisioningError,
    RunIdentity,
    RunRegistry,
    worker_for_names,
)
from programs.redaction import Redactor
from programs.runner import CommandRunner
from tests import topology_child
from tests.fakeexec import FakeTools
from tests.lifecycle_support import (
    IMAGE,
    RUN,
    SWEEP,
    MakeProvisioner,
    all_lines,
    fit_host,
    lines_about,
    provisioner_factory,
    role_commands,
)
from tests.topology_child import first


@pytest.fixture
def host(tmp_path: Path) -> Path:
    return fit_host(tmp_path)


@pytest.fixture
def fakes(fake_tools: FakeTools) -> FakeTools:
    topology_child.install_cluster_fakes(fake_tools)
    return fake_tools


@pytest.fixture
def make(tmp_path: Path, runner: CommandRunner, redactor: Redactor, host: Path) -> MakeProvisioner:
    return provisioner_factory(tmp_path, runner, redactor, host)


def test_names_carry_prefix_run_role_and_worker() -> None:
    assert RunIdentity("eicp", RUN).cluster_name("remote") == "eicp-1121000000-remote"
    assert RunIdentity("eicp", RUN, "gw3").cluster_name("second") == "eicp-1121000000-second-gw3"
    assert worker_for_names("main") is None and worker_for_names("gw3") == "gw3"
    # The longest name the options allow stays within kind's limit of 50.
    assert len(RunIdentity("a" * 20, "1" * 10, "gw9999").cluster_name("external")) <= 50
    identity = RunIdentity("eicp", RUN)
    assert identity.parse("eicp-1120000000-remote-gw1") is not None
    for foreign in ("kind", "eicp-1120000000-worker", "my-eicp-1120000000-remote", "eicpx-1120000000-remote"):
        assert identity.parse(foreign) is None, foreign
    with pytest.raises(ValueError, match="EICP_RUN_ID"):
        RunIdentity("eicp", "bad id")


def test_bring_up_runs_exact_commands_and_returns_topology(
    fakes: FakeTools, make: MakeProvisioner, tmp_path: Path, redactor: Redactor
) -> None:
    provisioner = make()
    topology = provisioner.provision(["external", "remote"])
    run_dir = provisioner.run_dir
    lines = all_lines(fakes)
    assert lines[:3] == ["docker info --format {{.ServerVersion}}", *SWEEP]
    assert len(lines) == 3 + 2 * 6
    for role in ("external", "remote"):
        name = f"eicp-{RUN}-{role}"
        assert lines_about(lines[3:], name) == role_commands(fakes, role, run_dir, name)

    assert topology.mode == "kind" and topology.prefix == "eicp"
    assert sorted(topology.clusters) == ["external", "remote"]
    remote = topology["remote"]
    assert remote.name == f"eicp-{RUN}-remote"
    assert remote.context == f"kind-eicp-{RUN}-remote"
    assert remote.internal_api_server == "https://172.18.0.3:6443"
    assert remote.network == "network1"
    assert topology["external"].network is None
    assert topology["external"].internal_api_server == "https://172.18.0.2:6443"
    assert remote.created_by_suite
    assert stat.S_IMODE(remote.kubeconfig.stat().st_mode) == 0o600
    assert remote.kubeconfig.parent == run_dir
    # The client key of the kubeconfig is now a registered secret.
    assert redactor.redact("key c2VjcmV0LWNsaWVudC1rZXktZm9yLXRlc3Rz") == "key <redacted>"
    # The Kubernetes API client reads the role's own kubeconfig and context.
    assert remote.api().configuration.host == "https://127.0.0.1:41000"
    # The kind config written for kind is the role's.
    assert "podSubnet: 10.20.0.0/16" in (run_dir / "kind-remote.yaml").read_text()


def test_teardown_deletes_this_runs_clusters_in_role_order(fakes: FakeTools, make: MakeProvisioner) -> None:
    provisioner = make()
    provisioner.provision(["external", "remote", "second"])
    before = len(fakes.calls())
    assert provisioner.teardown(failed=False) is None
    run_dir = provisioner.run_dir
    assert all_lines(fakes)[before:] == [
        f"kind delete cluster --name eicp-{RUN}-external --kubeconfig {run_dir}/kubeconfig-external",
        f"kind delete cluster --name eicp-{RUN}-remote --kubeconfig {run_dir}/kubeconfig-remote",
        f"kind delete cluster --name eicp-{RUN}-second --kubeconfig {run_dir}/kubeconfig-second",
        SWEEP[1],  # no cloud-provider-kind left to clean up: look for its containers
    ]
    assert fakes.state("clusters") == []
    assert provisioner.registry.records() == []
    assert list(run_dir.glob("kubeconfig-*")) == []  # no credentials left in the report directory
    assert provisioner.teardown(failed=False) is None  # a second call does nothing
    assert len(fakes.calls()) == before + 4


def test_failed_run_exports_logs_before_deleting(
    fakes: FakeTools, make: MakeProvisioner, tmp_path: Path
) -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJub2RlLWxvZyJ9.c2lnbmF0dXJl"
    first(
        fakes.tools["kind"],
        r"^export logs (\S+) --name (\S+)",
        write_file=(r"\1/\2-control-plane/journal.log", f"kubelet: Authorization: Bearer {token}\n"),
    )
    provisioner = make()
    provisioner.provision(["external", "remote"])
    before = len(fakes.calls())
    provisioner.teardown(failed=True)
    lines = all_lines(fakes)[before:]
    # kind writes into a private temporary directory; the report gets redacted copies.
    assert [line.split()[2] + " " + line.split()[5] for line in lines[:2]] == [
        f"logs eicp-{RUN}-external",
        f"logs eicp-{RUN}-remote",
    ]
    assert not any(str(tmp_path / "report") in line for line in lines[:2])
    journal = (
        tmp_path / f"report/diagnostics/kind/eicp-{RUN}-remote/eicp-{RUN}-remote-control-plane/journal.log"
    )
    assert journal.read_text() == "kubelet: Authorization: Bearer <redacted>\n"
    assert [line.split(" --kubeconfig")[0] for line in lines[2:4]] == [
        f"kind delete cluster --name eicp-{RUN}-external",
        f"kind delete cluster --name eicp-{RUN}-remote",
    ]


def test_failure_mid_creation_deletes_everything_this_run_created(
    fakes: FakeTools, make: MakeProvisioner
) -> None:
    first(
        fakes.tools["kind"],
        r"^create cluster --name \S+-remote ",
        exit=1,
        stderr="ERROR: failed to create cluster: failed to init node with kubeadm: exit status 1\n",
    )
    provisioner = make()
    with pytest.raises(ProvisioningError) as caught:
        provisioner.provision(["external", "remote", "second"])
    assert list(caught.value.errors) == ["remote"]
    assert "failed to init node with kubeadm" in str(caught.value)
    kind_lines = fakes.lines("kind")
    assert sum(line.startswith("create cluster") for line in kind_lines) == 3  # not retried: not transient
    run_dir = provisioner.run_dir
    assert [line for line in kind_lines if line.startswith("delete")] == [
        f"delete cluster --name eicp-{RUN}-{role} --kubeconfig {run_dir}/kubeconfig-{role}"
        for role in ("external", "remote", "second")
    ]
    assert fakes.state("clusters") == []
    assert provisioner.registry.records() == []
    before = len(fakes.calls())
    provisioner.teardown(failed=True)  # the session finalizer afterwards has nothing left to do
    assert len(fakes.calls()) == before


def test_keep_on_failure_keeps_created_clusters_and_says_how_to_reach_them(
    fakes: FakeTools, make: MakeProvisioner
) -> None:
    first(fakes.tools["kind"], r"^create cluster --name \S+-remote ", exit=1, stderr="ERROR: boom\n")
    provisioner = make(keep_on_failure=True)
    with pytest.raises(ProvisioningError) as caught:
        provisioner.provision(["external", "remote"])
    assert not [line for line in fakes.lines("kind") if line.startswith("delete")]
    message = str(caught.value).split("kind clusters kept (--keep-on-failure):", 1)[1]
    name = f"eicp-{RUN}-external"
    assert (
        f"kubectl --kubeconfig {provisioner.run_dir}/kubeconfig-external --context kind-{name} get pods -A"
        in message
    )
    assert f"kind delete cluster --name {name}" in message
    assert f"eicp-{RUN}-remote" not in message  # its creation failed: nothing to keep
    records = provisioner.registry.records()
    assert [(r.name, r.kept) for r in records] == [(name, True)]


def test_known_transient_failure_is_retried_after_cleanup(fakes: FakeTools, make: MakeProvisioner) -> None:
    first(
        fakes.tools["kind"],
        r"^create cluster --name \S+-remote ",
        exit=1,
        times=1,
        stderr='ERROR: failed to create cluster: could not find a log line that matches "Reached target"\n',
    )
    provisioner = make()
    provisioner.provision(["remote"])
    name = f"eicp-{RUN}-remote"
    run_dir = provisioner.run_dir
    create = (
        f"create cluster --name {name} --config {run_dir}/kind-remote.yaml "
        f"--kubeconfig {run_dir}/kubeconfig-remote --wait 5m"
    )
    assert fakes.lines("kind")[1:5] == [
        create,
        f"delete cluster --name {name} --kubeconfig {run_dir}/kubeconfig-remote",
        create,
        f"get kubeconfig --name {name}",
    ]


def test_retries_are_bounded(fakes: FakeTools, make: MakeProvisioner) -> None:
    first(
        fakes.tools["kind"],
        r"^create cluster",
        exit=1,
        stderr="ERROR: failed to create cluster: failed to lock config file: exists\n",
    )
    provisioner = make(create_attempts=3)
    with pytest.raises(ProvisioningError, match="failed to lock config file"):
        provisioner.provision(["remote"])
    assert sum(line.startswith("create cluster") for line in fakes.lines("kind")) == 3


def test_keep_clusters_then_reuse_adopts_them_and_never_deletes_them(
    fakes: FakeTools, make: MakeProvisioner
) -> None:
    first = make(keep_clusters=True)
    first.provision(["external", "remote"])
    message = first.teardown(failed=False)
    assert message is not None and "kind clusters kept (--keep-clusters)" in message
    assert not [line for line in fakes.lines("kind") if line.startswith("delete")]
    assert sorted(fakes.state("clusters")) == [f"eicp-{RUN}-external", f"eicp-{RUN}-remote"]

    second = make(run_id="1121000100", reuse_clusters=True)
    before = len(fakes.calls())
    topology = second.provision(["external", "remote"])
    lines = all_lines(fakes)[before:]
    assert not [line for line in lines if "create cluster" in line or "delete cluster" in line]
    assert topology["remote"].name == f"eicp-{RUN}-remote"
    assert not topology["remote"].created_by_suite
    assert lines.count("kind get clusters") == 2  # sweep, then the reuse match
    message = second.teardown(failed=False)
    assert message is not None and "--reuse-clusters" in message
    assert not [line for line in fakes.lines("kind") if line.startswith("delete")]
    assert {r.name: (r.kept, r.in_use_by) for r in second.registry.records()} == {
        f"eicp-{RUN}-external": (True, None),
        f"eicp-{RUN}-remote": (True, None),
    }


def test_reuse_ignores_clusters_with_another_node_image(fakes: FakeTools, make: MakeProvisioner) -> None:
    first = make(keep_clusters=True)
    first.provision(["remote"])
    first.teardown(failed=False)
    second = make(run_id="1121000100", reuse_clusters=True, node_image="kindest/node:v1.36.4")
    topology = second.provision(["remote"])
    assert topology["remote"].name == "eicp-1121000100-remote"
    assert topology["remote"].created_by_suite


def test_sweep_removes_only_finished_earlier_runs_of_this_suite(
    fakes: FakeTools, make: MakeProvisioner, tmp_path: Path
) -> None:
    registry = RunRegistry(tmp_path / "state")
    registry.runs_dir.mkdir(parents=True)
    live_lock = FileLock(str(registry.runs_dir / "1121000001.gw0.lock"), timeout=0)
    live_lock.acquire()  # another run of the suite is going on right now
    kept = ClusterRecord(
        "eicp-1120000000-external",
        "external",
        "1120000000",
        None,
        IMAGE,
        "10.10.0.0/16",
        "10.255.10.0/24",
        1.0,
        kept=True,
    )
    registry.save(kept)
    fakes.set_state(
        "clusters",
        [
            "kind",  # not ours
            "my-eicp-1120000000-remote",  # not ours
            "eicpx-1120000000-remote",  # another prefix
            "eicp-1120000000-external",  # ours, kept on purpose
            "eicp-1120000000-remote",  # ours, a finished run: leftover
            "eicp-1120000000-second-gw1",  # ours, a finished run's worker: leftover
            "eicp-1121000001-remote-gw0",  # ours, a live run
        ],
    )
    fakes.set_state(
        "cpk-containers",
        [
            "kindccm-aaaaaaaaaaaa\teicp-1120000000-remote",  # leftover cluster's LB
            "kindccm-bbbbbbbbbbbb\tkind",  # someone else's
            "kindccm-cccccccccccc\teicp-1121000001-remote-gw0",  # live run
            "kindccm-dddddddddddd\teicp-1119000000-second",  # cluster long gone, run finished
            "kindccm-eeeeeeeeeeee\teicp-1120000000-external",  # kept cluster
            "some-other-container\teicp-1120000000-remote",  # not a cloud-provider-kind name
        ],
    )
    provisioner = make()
    provisioner.registry.hold_run(provisioner.identity)
    with provisioner.registry.locked():
        swept = provisioner.sweep_leftovers()
    assert swept == ["eicp-1120000000-remote", "eicp-1120000000-second-gw1"]
    sweep_dir = provisioner.run_dir / "sweep"
    assert all_lines(fakes) == [
        "kind get clusters",
        f"kind delete cluster --name eicp-1120000000-remote --kubeconfig {sweep_dir}/eicp-1120000000-remote.kubeconfig",
        f"kind delete cluster --name eicp-1120000000-second-gw1 --kubeconfig "
        f"{sweep_dir}/eicp-1120000000-second-gw1.kubeconfig",
        SWEEP[1],
        "docker rm -f kindccm-aaaaaaaaaaaa kindccm-dddddddddddd",
    ]
    assert [r.name for r in registry.records()] == ["eicp-1120000000-external"]
    live_lock.release()
    provisioner.registry.release_run()
