"""The cloud-provider-kind supervisor with a fake daemon: one per host, shared, stopped by its owner."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from clusters.kind.cli import DockerCli
from clusters.kind.cloud_provider_kind import (
    CloudProviderKind,
    CloudProviderKindError,
    ProcessId,
)
from clusters.provider import ExternalLoadBalancers
from programs.redaction import Redactor
from programs.runner import CommandRunner
from tests import topology_child
from tests.fakeexec import FakeTools
from tests.topology_child import first

OWN = "eicp-1121000000-remote"
MakeCpk = Callable[..., CloudProviderKind]


@pytest.fixture
def fakes(fake_tools: FakeTools) -> FakeTools:
    topology_child.install_cluster_fakes(fake_tools)
    return fake_tools


@pytest.fixture
def make(fakes: FakeTools, tmp_path: Path, redactor: Redactor, runner: CommandRunner) -> Iterator[MakeCpk]:

    def build(binary: Path | None = None, **options: float) -> CloudProviderKind:
        return CloudProviderKind(
            binary or fakes.bin_dir / "cloud-provider-kind",
            state_dir=tmp_path / "state",
            log_dir=tmp_path / "report" / "logs",
            runner=runner,
            docker=DockerCli(runner, "docker"),
            own_clusters=lambda: [OWN],
            run_id="1121000000",
            worker="gw0",
            startup_grace_s=options.get("startup_grace_s", 0.3),
            stop_timeout_s=options.get("stop_timeout_s", 5.0),
        )

    yield build
    # Never leave a daemon behind, whatever a test did.
    state_file = tmp_path / "state" / "cloud-provider-kind.json"
    if state_file.exists():
        daemon = ProcessId.from_json(json.loads(state_file.read_text())["daemon"])
        if daemon.alive():
            os.killpg(daemon.pid, signal.SIGKILL)


def state(tmp_path: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((tmp_path / "state" / "cloud-provider-kind.json").read_text())
    return loaded


def daemon_of(tmp_path: Path) -> ProcessId:
    return ProcessId.from_json(state(tmp_path)["daemon"])  # type: ignore[arg-type]


def test_starts_once_with_the_suites_flags_and_stops(fakes: FakeTools, make: MakeCpk, tmp_path: Path) -> None:
    cpk = make()
    cpk.ensure_started()
    cpk.ensure_started()  # idempotent
    lb_logs = tmp_path / "state" / "cloud-provider-kind-logs" / "lb"  # private; the report gets copies
    assert fakes.state("cpk-starts") == [
        f"--gateway-channel disabled --enable-default-ingress=false --enable-log-dumping --logs-dir {lb_logs}"
    ]
    daemon = daemon_of(tmp_path)
    assert daemon.alive() and cpk.running()
    assert lb_logs.is_dir() and (tmp_path / "report" / "logs" / "cloud-provider-kind-lb").is_dir()
    assert cpk.release() == "stopped"
    assert (tmp_path / "report" / "logs" / "cloud-provider-kind.log").exists()
    assert not daemon.alive()
    assert not (tmp_path / "state" / "cloud-provider-kind.json").exists()
    assert not cpk.running()
    assert cpk.release() == "not started"


def test_two_workers_share_one_daemon_and_the_last_one_stops_it(
    fakes: FakeTools, make: MakeCpk, tmp_path: Path
) -> None:
    starter, other = make(), make()
    starter.ensure_started()
    other.ensure_started()
    assert len(fakes.state("cpk-starts")) == 1
    assert len(state(tmp_path)["users"]) == 2  # type: ignore[arg-type]
    daemon = daemon_of(tmp_path)
    assert starter.release() == f"handed over to pid {os.getpid()}"
    assert daemon.alive()
    assert state(tmp_path)["owner"]["key"] == other.key  # type: ignore[index]
    assert other.release() == "stopped"
    assert not daemon.alive()


def test_a_user_that_is_not_the_owner_leaves_it_running(
    fakes: FakeTools, make: MakeCpk, tmp_path: Path
) -> None:
    starter, other = make(), make()
    starter.ensure_started()
    other.ensure_started()
    assert other.release() == "left running for 1 user(s)"
    assert daemon_of(tmp_path).alive()
    assert starter.release() == "stopped"


def test_dead_daemon_is_replaced_after_removing_this_runs_leftover_containers(
    fakes: FakeTools, make: MakeCpk, tmp_path: Path
) -> None:
    first_handle = make()
    first_handle.ensure_started()
    dead = daemon_of(tmp_path)
    os.killpg(dead.pid, signal.SIGKILL)  # the daemon this test started crashes
    deadline = time.monotonic() + 10
    while dead.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    fakes.set_state(
        "cpk-containers",
        [f"kindccm-aaaaaaaaaaaa\t{OWN}", "kindccm-bbbbbbbbbbbb\tsomeone-elses-cluster"],
    )
    second = make()
    second.ensure_started()
    assert fakes.lines("docker")[-1] == "rm -f kindccm-aaaaaaaaaaaa"
    assert len(fakes.state("cpk-starts")) == 2
    assert daemon_of(tmp_path).pid != dead.pid
    assert second.release() == "stopped"
    assert first_handle.release() == "gone"


def test_release_after_the_daemon_died_cleans_up(fakes: FakeTools, make: MakeCpk, tmp_path: Path) -> None:
    cpk = make()
    cpk.ensure_started()
    daemon = daemon_of(tmp_path)
    os.killpg(daemon.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while daemon.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    fakes.set_state("cpk-containers", [f"kindccm-aaaaaaaaaaaa\t{OWN}"])
    assert cpk.release() == "gone"
    assert fakes.lines("docker")[-1] == "rm -f kindccm-aaaaaaaaaaaa"
    assert not (tmp_path / "state" / "cloud-provider-kind.json").exists()


def test_daemon_that_exits_at_once_is_reported_with_its_log(fakes: FakeTools, make: MakeCpk) -> None:
    first(
        fakes.tools["cloud-provider-kind"],
        r"^--gateway-channel",
        exit=3,
        stderr="F1121 app.go:90] cannot start: Authorization: Bearer abc.def.ghi\n",
    )
    cpk = make(startup_grace_s=5.0)
    with pytest.raises(CloudProviderKindError) as caught:
        cpk.ensure_started()
    message = str(caught.value)
    assert "exited with code 3 right after start" in message
    assert "cannot start: Authorization: Bearer <redacted>" in message
    assert "abc.def.ghi" not in message
    assert not cpk.running()


def test_daemon_ignoring_sigterm_is_killed(make: MakeCpk, tmp_path: Path) -> None:
    stubborn = tmp_path / "stubborn-cpk"
    stubborn.write_text("#!/bin/sh\ntrap '' TERM\nwhile true; do sleep 0.1; done\n")
    stubborn.chmod(0o755)
    cpk = make(binary=stubborn, stop_timeout_s=0.5)
    cpk.ensure_started()
    daemon = daemon_of(tmp_path)
    assert cpk.release() == "stopped"
    assert not daemon.alive()


def test_orphaned_daemon_is_stopped(make: MakeCpk, tmp_path: Path) -> None:
    starter = make()
    starter.ensure_started()
    daemon = daemon_of(tmp_path)
    # Every user of the daemon was killed without releasing it.
    gone = subprocess.Popen(["true"])
    gone.wait()
    raw = state(tmp_path)
    raw["users"] = [{"pid": gone.pid, "start_ticks": "1", "key": "x"}]
    raw["owner"] = raw["users"][0]  # type: ignore[index]
    (tmp_path / "state" / "cloud-provider-kind.json").write_text(json.dumps(raw))
    assert make().stop_orphan() is True
    assert not daemon.alive()


def test_live_daemon_is_not_an_orphan(make: MakeCpk, tmp_path: Path) -> None:
    starter = make()
    starter.ensure_started()
    assert make().stop_orphan() is False
    assert daemon_of(tmp_path).alive()
    assert starter.release() == "stopped"


def test_recycled_pid_is_not_mistaken_for_the_daemon() -> None:
    me = ProcessId.of(os.getpid())
    assert me.alive()
    assert not ProcessId(me.pid, "1").alive()  # same pid, another start time


def test_existing_clusters_need_no_daemon() -> None:
    ExternalLoadBalancers().ensure_started()  # does nothing, raises nothing


# -- two pytest-xdist workers ----------------------------------------------------------------


CHILD_TEST = """
import json, os, time
from pathlib import Path

import pytest


# Two groups for two workers: the suite runs xdist with --dist loadgroup only (two workers
# must never install the same scenario), so each worker gets one group.
@pytest.mark.parametrize("group", [pytest.param("a", marks=pytest.mark.xdist_group("a")),
                                   pytest.param("b", marks=pytest.mark.xdist_group("b"))])
def test_shares_one_cloud_provider_kind(load_balancers, topology, group):
    load_balancers.ensure_started()
    state = json.loads((Path(os.environ["EICP_STATE_DIR"]) / "cloud-provider-kind.json").read_text())
    out = Path(os.environ["CHILD_OUT"])
    out.mkdir(exist_ok=True)
    names = sorted(cluster.name for cluster in topology.clusters.values())
    (out / (os.environ["PYTEST_XDIST_WORKER"] + ".json")).write_text(
        json.dumps({"daemon": state["daemon"], "clusters": names})
    )
    deadline = time.monotonic() + 60  # both workers use the daemon at the same time
    while len(list(out.glob("*.json"))) < 2:
        assert time.monotonic() < deadline, "the other worker never came"
        time.sleep(0.1)
"""


@pytest.mark.slow
def test_two_xdist_workers_share_one_cloud_provider_kind(fakes: FakeTools, tmp_path: Path) -> None:
    test_file = topology_child.write_project(tmp_path / "child", CHILD_TEST)
    argv = topology_child.command(
        test_file,
        "-n",
        "2",
        "--dist",
        "loadgroup",
        "--scenario",
        "ip-passthrough",  # two roles: external and remote
        *(
            arg
            for tool in ("kind", "kubectl", "cloud-provider-kind")
            for arg in ("--tool-path", f"{tool}={fakes.bin_dir / tool}")
        ),
    )
    env = topology_child.environment(fakes.path_env(), tmp_path / "state")
    env["CHILD_OUT"] = str(tmp_path / "out")
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    seen = {path.stem: json.loads(path.read_text()) for path in (tmp_path / "out").glob("*.json")}
    assert sorted(seen) == ["gw0", "gw1"]
    assert seen["gw0"]["daemon"] == seen["gw1"]["daemon"]  # one daemon for both
    assert len(fakes.state("cpk-starts")) == 1
    assert not ProcessId.from_json(seen["gw0"]["daemon"]).alive()  # stopped at the end
    assert not (tmp_path / "state" / "cloud-provider-kind.json").exists()
    run = topology_child.RUN_ID
    for worker in ("gw0", "gw1"):  # each worker owns its cluster set, deleted at the end
        assert seen[worker]["clusters"] == [f"eicp-{run}-external-{worker}", f"eicp-{run}-remote-{worker}"]
    deletes = sorted(
        line.split(" --kubeconfig")[0] for line in fakes.lines("kind") if line.startswith("delete")
    )
    assert deletes == sorted(
        f"delete cluster --name eicp-{run}-{role}-{worker}"
        for role in ("external", "remote")
        for worker in ("gw0", "gw1")
    )
    assert fakes.state("clusters") == []
