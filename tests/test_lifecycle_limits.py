"""Kind cluster sets at the host's limits: preflight, memory, images, node readiness, parallel
creation, Ctrl-C, and the deadlines of every wait (fake kind/docker/kubectl)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from clusters.kind.cloud_provider_kind import CloudProviderKind, ProcessId
from clusters.kind.lifecycle import (
    ProvisioningError,
    RegistryBusy,
    RunRegistry,
)
from clusters.preflight import PreflightError
from programs.redaction import Redactor
from programs.runner import CommandRunner
from tests import topology_child
from tests.fakeexec import FakeTools
from tests.lifecycle_support import (
    RUN,
    SWEEP,
    MakeProvisioner,
    all_lines,
    fit_host,
    provisioner_factory,
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


def test_no_docker_stops_before_any_kind_call(fakes: FakeTools, make: MakeProvisioner) -> None:
    first(fakes.tools["docker"], r"^info", exit=1, stderr="Cannot connect to the Docker daemon\n")
    with pytest.raises(PreflightError, match="Docker daemon does not answer"):
        make().provision(["external", "remote"])
    assert fakes.lines("kind") == []


def test_memory_is_checked_for_the_clusters_still_to_create(
    fakes: FakeTools, make: MakeProvisioner, host: Path
) -> None:
    (host / "meminfo").write_text("MemAvailable:   3145728 kB\n")  # 3 GiB: one cluster, not two
    with pytest.raises(PreflightError, match="2 kind cluster"):
        make().provision(["external", "remote"])
    assert not [line for line in fakes.lines("kind") if line.startswith("create")]


def test_memory_check_counts_every_workers_cluster_set(
    fakes: FakeTools, make: MakeProvisioner, host: Path
) -> None:
    (host / "meminfo").write_text("MemAvailable:   6291456 kB\n")  # 6 GiB: three clusters, not four
    with pytest.raises(PreflightError, match="4 kind cluster"):
        make(parallel_cluster_sets=2).provision(["external", "remote"])


def test_teardown_stops_cloud_provider_kind_then_deletes_and_removes_own_leftovers(
    fakes: FakeTools, make: MakeProvisioner, tmp_path: Path, redactor: Redactor, runner: CommandRunner
) -> None:
    provisioner = make()
    provisioner.cpk = CloudProviderKind(
        fakes.bin_dir / "cloud-provider-kind",
        state_dir=tmp_path / "state",
        log_dir=tmp_path / "report" / "logs",
        runner=CommandRunner(redactor=redactor),
        docker=provisioner.docker,
        own_clusters=provisioner.cluster_names,
        run_id=RUN,
        worker="main",
        startup_grace_s=0.3,
    )
    provisioner.provision(["external", "remote"])
    provisioner.cpk.ensure_started()
    daemon = json.loads((tmp_path / "state" / "cloud-provider-kind.json").read_text())["daemon"]
    fakes.set_state(
        "cpk-containers",
        [
            f"kindccm-aaaaaaaaaaaa\teicp-{RUN}-remote",  # left behind by the daemon
            "kindccm-bbbbbbbbbbbb\tsomeone-elses-cluster",
        ],
    )
    before = len(fakes.calls())
    provisioner.teardown(failed=False)
    assert not ProcessId.from_json(daemon).alive()
    run_dir = provisioner.run_dir
    assert all_lines(fakes)[before:] == [
        f"kind delete cluster --name eicp-{RUN}-external --kubeconfig {run_dir}/kubeconfig-external",
        f"kind delete cluster --name eicp-{RUN}-remote --kubeconfig {run_dir}/kubeconfig-remote",
        SWEEP[1],
        "docker rm -f kindccm-aaaaaaaaaaaa",
    ]


def test_image_preloading(fakes: FakeTools, make: MakeProvisioner, tmp_path: Path) -> None:
    archives = tmp_path / "images"
    archives.mkdir()
    for name in ("b.tar", "a.tar", "notes.txt"):
        (archives / name).write_text("x")
    provisioner = make(preload_images=("docker.io/istio/pilot:1.30.3",), image_archive_dir=archives)
    provisioner.provision(["remote"])
    name = f"eicp-{RUN}-remote"
    assert [line for line in fakes.lines("kind") if line.startswith("load")] == [
        f"load docker-image --name {name} docker.io/istio/pilot:1.30.3",
        f"load image-archive {archives}/a.tar --name {name}",
        f"load image-archive {archives}/b.tar --name {name}",
    ]


def test_nodes_never_ready_times_out_with_last_state(fakes: FakeTools, make: MakeProvisioner) -> None:
    not_ready = topology_child.NODES_JSON.replace('"status": "True"', '"status": "False"')
    first(fakes.tools["kubectl"], r"--context kind-(\S+) get nodes -o json", stdout=not_ready)
    provisioner = make(nodes_ready_deadline_s=1.0)
    with pytest.raises(ProvisioningError) as caught:
        provisioner.provision(["remote"])
    message = str(caught.value)
    assert "waiting for the nodes of the remote cluster" in message
    assert f"last observed: eicp-{RUN}-remote-control-plane Ready=False" in message


# -- parallelism (benchmark) --------------------------------------------------------------


@pytest.mark.slow
def test_three_clusters_are_created_in_parallel(
    fake_tools: FakeTools, make: MakeProvisioner, benchmark: object
) -> None:
    topology_child.install_cluster_fakes(fake_tools, create_sleep=2.0)
    provisioner = make()

    def bring_up() -> int:
        return len(provisioner.provision(["external", "remote", "second"]).clusters)

    # One round: a second one would find the clusters of the first. The time measured includes
    # the preflight, the sweep and node preparation (fake commands cost ~0.1-0.3 s each here).
    assert benchmark.pedantic(bring_up, rounds=1, iterations=1) == 3  # type: ignore[attr-defined]
    provisioner.teardown(failed=False)
    creates = [call for call in fake_tools.calls("kind") if call.args[:2] == ("create", "cluster")]
    assert len(creates) == 3
    # The proof of parallelism is structural: all three 2 s creations were running at once.
    assert max(call.started for call in creates) < min(call.ended for call in creates)


# -- Ctrl-C --------------------------------------------------------------------------------


def test_ctrl_c_during_creation_deletes_the_clusters(fake_tools: FakeTools, tmp_path: Path) -> None:
    topology_child.install_cluster_fakes(fake_tools)
    first(
        fake_tools.tools["kind"], r"^create cluster --name (\S+)", sleep=60.0, add_state=("creating", r"\1")
    )
    test_file = topology_child.write_project(tmp_path / "child", "def test_x(topology):\n    pass\n")
    argv = topology_child.command(
        test_file,
        "--tool-path",
        f"kind={fake_tools.bin_dir / 'kind'}",
        "--tool-path",
        f"kubectl={fake_tools.bin_dir / 'kubectl'}",
        "--tool-path",
        f"cloud-provider-kind={fake_tools.bin_dir / 'cloud-provider-kind'}",
        "--scenario",
        "second-remote",
    )
    child = subprocess.Popen(
        argv,
        env=topology_child.environment(fake_tools.path_env(), tmp_path / "state"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(fake_tools.state("creating")) < 3 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(fake_tools.state("creating")) == 3, "the three kind create calls never started"
        time.sleep(0.3)
        child.send_signal(signal.SIGINT)
        output, _ = child.communicate(timeout=90)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 2, output  # pytest's "interrupted"
    assert "KeyboardInterrupt" in output
    run_dir = topology_child.run_dir(tmp_path / "state")
    names = [f"eicp-{topology_child.RUN_ID}-{role}" for role in ("external", "remote", "second")]
    kind_lines = fake_tools.lines("kind")
    assert [line for line in kind_lines if line.startswith("delete")] == [
        f"delete cluster --name {name} --kubeconfig {run_dir}/kubeconfig-{role}"
        for name, role in zip(names, ("external", "remote", "second"), strict=True)
    ]
    # The creations were stopped, not awaited: none of them finished.
    assert not [line for line in kind_lines if line.startswith("create")]
    assert not [line for line in kind_lines if line.startswith("get kubeconfig")]
    assert _pids_running(str(fake_tools.bin_dir / "kind")) == []  # no kind create left running
    assert list((tmp_path / "state" / "clusters").glob("*.json")) == []  # no record of a cluster left


def _pids_running(path: str) -> list[int]:
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if path.encode() in argv[:2] and b"create" in argv:
            pids.append(int(entry.name))
    return pids


# -- bounded waits ----------------------------------------------------------


def test_the_cluster_set_lock_wait_is_bounded_and_names_its_holder(
    fakes: FakeTools, make: MakeProvisioner, tmp_path: Path
) -> None:
    provisioner = make(lock_timeout_s=0.5)
    other = RunRegistry(tmp_path / "state")
    with other.locked(holder="run 1120999999"):
        started = time.monotonic()
        with pytest.raises(RegistryBusy) as caught:
            provisioner.provision(["external", "remote"])
        assert time.monotonic() - started < 10
    message = str(caught.value)
    assert "was not free within 0 s" in message or "was not free within 1 s" in message
    assert f"held by pid {os.getpid()} run 1120999999 since" in message
    assert not [line for line in fakes.lines("kind") if line.startswith("create")]


def test_the_parallel_bring_up_has_an_overall_deadline(fake_tools: FakeTools, make: MakeProvisioner) -> None:
    topology_child.install_cluster_fakes(fake_tools, create_sleep=30.0)
    provisioner = make(bring_up_deadline_s=1.0)
    started = time.monotonic()
    with pytest.raises(ProvisioningError) as caught:
        provisioner.provision(["external", "remote"])
    assert time.monotonic() - started < 25  # the creations were ended, not awaited
    assert "bring-up did not finish within the overall deadline of 1 s" in str(caught.value)
    assert sorted(
        line.split(" --kubeconfig")[0] for line in fake_tools.lines("kind") if line.startswith("delete")
    ) == [
        f"delete cluster --name eicp-{RUN}-external",
        f"delete cluster --name eicp-{RUN}-remote",
    ]
