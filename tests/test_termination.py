"""SIGTERM and SIGHUP end a run like Ctrl-C: commands stopped, clusters deleted, nothing left running.

The suite runs in a child pytest (tests/topology_child.py) on fake kind/docker/kubectl; the
signals are sent to it as CI sends them, to the pytest process alone.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from clusters.run_registry import ClusterRecord, RunRegistry
from fixtures.termination import Termination
from programs import cancellation
from tests import e2e_child, e2e_cluster_sim, topology_child
from tests.e2e_child import fake_processes
from tests.fakeexec import FakeTools
from tests.topology_child import RUN_ID, first

pytestmark = pytest.mark.slow

ROLES = ("external", "remote", "second")


def wait_for(condition: object, what: str, child: subprocess.Popen[str], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and child.poll() is None:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"never happened: {what} (child exit {child.poll()})")


def start_child(fake_tools: FakeTools, tmp_path: Path) -> subprocess.Popen[str]:
    test_file = topology_child.write_project(tmp_path / "child", "def test_x(topology):\n    pass\n")
    argv = topology_child.command(
        test_file,
        "-p",
        "fixtures.termination",
        *(
            f"--tool-path={tool}={fake_tools.bin_dir / tool}"
            for tool in ("kind", "kubectl", "cloud-provider-kind")
        ),
        "--scenario",
        "second-remote",
    )
    return subprocess.Popen(
        argv,
        env=topology_child.environment(fake_tools.path_env(), tmp_path / "state"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_sigterm_during_kind_create_deletes_everything_and_a_second_one_says_what_is_left(
    fake_tools: FakeTools, tmp_path: Path
) -> None:
    topology_child.install_cluster_fakes(fake_tools)
    kind = fake_tools.tools["kind"]
    first(kind, r"^create cluster --name (\S+)", sleep=60.0, add_state=("creating", r"\1"))
    # Deletion takes a while, so that the second signal arrives in the middle of it.
    first(
        kind,
        r"^delete cluster --name (\S+)",
        sleep=2.0,
        add_state=("deleting", r"\1"),
        remove_state=("clusters", r"\1"),
    )
    child = start_child(fake_tools, tmp_path)
    try:
        wait_for(lambda: len(fake_tools.state("creating")) == 3, "three kind create calls", child)
        time.sleep(0.3)
        child.send_signal(signal.SIGTERM)
        wait_for(lambda: fake_tools.state("deleting"), "the first kind delete", child)
        time.sleep(1.2)  # not the same cancel twice: a second signal
        child.send_signal(signal.SIGTERM)
        output, _ = child.communicate(timeout=90)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 2, output  # pytest's "interrupted"
    assert "SIGTERM received" in output
    names = [f"eicp-{RUN_ID}-{role}" for role in ROLES]
    run_dir = topology_child.run_dir(tmp_path / "state")
    kind_lines = fake_tools.lines("kind")
    assert sorted(line for line in kind_lines if line.startswith("delete")) == sorted(
        f"delete cluster --name {name} --kubeconfig {run_dir}/kubeconfig-{role}"
        for name, role in zip(names, ROLES, strict=True)
    )
    # The creations were stopped, not awaited: none of them finished.
    assert not [line for line in kind_lines if line.startswith(("create", "get kubeconfig"))]
    assert fake_processes(fake_tools.bin_dir) == []
    assert list((tmp_path / "state" / "clusters").glob("*.json")) == []
    assert not run_dir.exists()
    # The second signal: teardown went on, and the user was told what a kill would leave.
    said = (tmp_path / "child" / "report" / "logs" / "termination-main.txt").read_text()
    assert "teardown goes on" in said
    assert "SIGTERM during teardown: teardown goes on" in output, output
    assert "kind delete cluster --name eicp-" in output
    assert "--cluster-prefix eicp" in output


def test_signals_handled_and_leftovers_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The handler itself: first signal raises KeyboardInterrupt, the same cancel twice is one,
    a signal while the session ends only reports what is left (layer 1, no child process)."""
    state = tmp_path / "state"
    registry = RunRegistry(state)
    for name, run_id in ((f"eicp-{RUN_ID}-remote", RUN_ID), ("eicp-1-remote", "1")):
        registry.save(
            ClusterRecord(name, "remote", run_id, None, "kindest/node", "10.1.0.0/16", "10.2.0.0/16", 0.0)
        )
    monkeypatch.setenv("EICP_STATE_DIR", str(state))
    monkeypatch.setenv("EICP_RUN_ID", RUN_ID)
    monkeypatch.setenv("EICP_RUNS_DIR", str(tmp_path / "runs"))
    (tmp_path / "runs" / RUN_ID / "main").mkdir(parents=True)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    # Only handed to the patched suite_config, and asked for pytest's capture manager.
    config = cast(pytest.Config, SimpleNamespace(pluginmanager=SimpleNamespace(getplugin=lambda name: None)))
    monkeypatch.setattr("fixtures.termination.suite_config", lambda _config: _Suite(tmp_path))
    monkeypatch.setattr("fixtures.topology_plugin.suite_config", lambda _config: _Suite(tmp_path))
    stopped: list[signal.Signals] = []

    def stop(sig: signal.Signals) -> list[str]:
        stopped.append(sig)
        return []

    monkeypatch.setattr("fixtures.termination.signal_running_commands", stop)
    termination = Termination(config)
    with pytest.raises(KeyboardInterrupt, match="SIGHUP received"):
        termination.handle(signal.SIGHUP, None)
    assert stopped == [signal.SIGTERM]  # the running commands' groups were told first
    termination.handle(signal.SIGTERM, None)  # within a second: the same cancel, ignored
    termination.first_at -= 5
    termination.handle(signal.SIGTERM, None)
    ending = Termination(config)
    ending.tearing_down = True  # the session is ending: even a first signal never interrupts it
    ending.handle(signal.SIGTERM, None)
    assert ending.first == "SIGTERM"
    said = (tmp_path / "report" / "logs" / "termination-main.txt").read_text()
    assert said.count("SIGTERM during teardown: teardown goes on") == 1  # the second signal
    # The first signal while the session ends: the teardown goes on, the run stops after it.
    assert "SIGTERM received during the session's teardown: it goes on to its end" in said
    assert f"kind clusters of this run: eicp-{RUN_ID}-remote\n" in said.replace("eicp: ", "")
    assert "eicp-1-remote" not in said  # another run's cluster is not this run's to list
    assert f"rm -rf {tmp_path / 'runs' / RUN_ID / 'main'}" in said


def test_after_a_second_signal_kwok_leftovers_are_listed_by_the_provider(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kwok's network namespaces and bridge, through its ProviderSpec.leftovers (layer 1)."""
    from clusters.kwok import sweep
    from clusters.netns import short_link_name

    netns, sys_net = tmp_path / "netns", tmp_path / "net"
    for name in (
        f"eicp-{RUN_ID}-external",
        f"eicp-{RUN_ID}-lb0",
        f"eicp-{RUN_ID}-remote-gw1",
        "eicp-1-remote",
    ):
        (netns / name).mkdir(parents=True)
    bridge = short_link_name("ekb", f"eicp-{RUN_ID}")
    (sys_net / bridge).mkdir(parents=True)
    monkeypatch.setattr(sweep, "NETNS_DIR", netns)
    monkeypatch.setattr(sweep, "SYS_NET", sys_net)
    monkeypatch.setenv("EICP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("EICP_RUN_ID", RUN_ID)
    monkeypatch.setenv("EICP_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    suite = _Suite(tmp_path)
    suite.mode = "kwok"
    monkeypatch.setattr("fixtures.termination.suite_config", lambda _config: suite)
    monkeypatch.setattr("fixtures.topology_plugin.suite_config", lambda _config: suite)
    config = cast(pytest.Config, SimpleNamespace(pluginmanager=SimpleNamespace(getplugin=lambda name: None)))
    said = Termination(config).leftovers("SIGTERM")
    assert (
        f"kwok clusters and test hosts of this run (network namespaces): eicp-{RUN_ID}-external, eicp-{RUN_ID}-lb0\n"
        in said
    )
    assert "ip netns delete $ns; rm -rf /etc/netns/$ns" in said and f"ip link delete {bridge}" in said
    assert "kind" not in said and "eicp-1-remote" not in said and "-gw1" not in said
    sweep.registry_of(tmp_path / "state").save(
        ClusterRecord(f"eicp-{RUN_ID}-external", "external", RUN_ID, None, "kwok", "", "", 0.0, kept=True)
    )
    assert "network namespaces" not in Termination(config).leftovers("SIGTERM")  # kept on purpose


class _Suite:
    def __init__(self, root: Path) -> None:
        self.mode = "kind"
        self.cluster_prefix = "eicp"
        self.report_dir = root / "report"
        self.tools_dir = root / "cache" / "tools"


def test_sigterm_during_istioctl_install_ends_it_deletes_everything_and_writes_the_reports(
    tmp_path: Path,
) -> None:
    def slow_install(tools: FakeTools, api_url: str) -> None:
        first(
            tools.tools["istioctl"],
            r"^install -y -f \S+/controlplane-gateway\.yaml",
            sleep=120.0,
            add_state=("installing", "controlplane-gateway"),
        )

    with e2e_child.started(tmp_path, slow_install) as child:
        wait_for(lambda: child.tools.state("installing"), "istioctl install", child.process, timeout_s=120)
        assert (child.state_dir / "cloud-provider-kind.json").exists(), "the daemon runs during the install"
        time.sleep(0.3)
        child.process.send_signal(signal.SIGTERM)
        output = child.output(timeout_s=150)
        assert child.process.returncode == 2, output
    assert "SIGTERM received" in output
    # The install was stopped, not awaited: istioctl never finished (a finished call is logged).
    assert not [line for line in child.tools.lines("istioctl") if line.startswith("install")]
    assert child.tools.state("clusters") == []
    deleted = [line.split()[3] for line in child.tools.lines("kind") if line.startswith("delete cluster")]
    assert sorted(deleted) == sorted(e2e_cluster_sim.CLUSTERS.values())
    assert not (child.state_dir / "cloud-provider-kind.json").exists()  # the daemon was stopped
    assert fake_processes(child.tools.bin_dir) == []
    assert not child.run_dir.exists()
    assert (child.report_dir / "junit.xml").is_file(), output
    assert (child.report_dir / "plan.yaml").is_file(), output
    # The check whose setup was interrupted is reported failed, naming the signal.
    report = json.loads((child.report_dir / "conformance-report.json").read_text())
    assert report["result"] == "failure", json.dumps(report, indent=1)
    assert "SIGTERM received" in json.dumps(report)
    assert "SIGTERM received" in (child.report_dir / "junit.xml").read_text()
    assert (child.report_dir / "summary.html").is_file()


XDIST_CHILD = """
import pytest


@pytest.mark.parametrize("group", [pytest.param("a", marks=pytest.mark.xdist_group("a")),
                                   pytest.param("b", marks=pytest.mark.xdist_group("b"))])
def test_x(topology, group):
    pass
"""


def test_sigterm_to_the_xdist_controller_reaches_the_workers_and_they_delete_their_clusters(
    fake_tools: FakeTools, tmp_path: Path
) -> None:
    topology_child.install_cluster_fakes(fake_tools)
    first(
        fake_tools.tools["kind"], r"^create cluster --name (\S+)", sleep=60.0, add_state=("creating", r"\1")
    )
    test_file = topology_child.write_project(tmp_path / "child", XDIST_CHILD)
    argv = topology_child.command(
        test_file,
        "-p",
        "fixtures.termination",
        "-n",
        "2",
        "--dist",
        "loadgroup",
        "--scenario",
        "ip-passthrough",
        *(
            f"--tool-path={tool}={fake_tools.bin_dir / tool}"
            for tool in ("kind", "kubectl", "cloud-provider-kind")
        ),
    )
    child = subprocess.Popen(
        argv,
        env=topology_child.environment(fake_tools.path_env(), tmp_path / "state"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(
            lambda: len(fake_tools.state("creating")) == 4, "four kind create calls (two workers)", child
        )
        time.sleep(0.3)
        child.send_signal(signal.SIGTERM)  # to the controller alone, as CI does
        output, _ = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 2, output
    assert "pytest-xdist workers end their tests and tear down" in output
    deletes = sorted(
        line.split(" --kubeconfig")[0] for line in fake_tools.lines("kind") if line.startswith("delete")
    )
    assert deletes == sorted(
        f"delete cluster --name eicp-{RUN_ID}-{role}-{worker}"
        for role in ("external", "remote")
        for worker in ("gw0", "gw1")
    )
    assert not [line for line in fake_tools.lines("kind") if line.startswith("create")]
    assert fake_processes(fake_tools.bin_dir) == []
    assert list((tmp_path / "state" / "clusters").glob("*.json")) == []
    assert not (tmp_path / "runs" / RUN_ID).exists()


def test_a_first_signal_during_a_cleanup_lets_it_finish_then_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler itself (layer 1): inside a cleanup no command is stopped and nothing is
    raised; the run stops when the cleanup is over (at its end in a setup, after the check in
    a teardown); diagnostics read the cancel."""
    monkeypatch.setenv("EICP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    config = cast(pytest.Config, SimpleNamespace(pluginmanager=SimpleNamespace(getplugin=lambda name: None)))
    monkeypatch.setattr("fixtures.termination.suite_config", lambda _config: _Suite(tmp_path))
    monkeypatch.setattr("fixtures.topology_plugin.suite_config", lambda _config: _Suite(tmp_path))
    stopped: list[signal.Signals] = []

    def stop(sig: signal.Signals) -> list[str]:
        stopped.append(sig)
        return []

    monkeypatch.setattr("fixtures.termination.signal_running_commands", stop)
    termination = Termination(config)
    termination.session = cast(pytest.Session, SimpleNamespace(shouldstop=False))
    termination.install()
    seen: list[object] = []

    def uninstall() -> None:
        with cancellation.cleanup("the uninstall of x"):
            termination.handle(signal.SIGTERM, None)  # no raise here: the cleanup goes on
            seen.extend((list(stopped), cancellation.cancelled(), termination.session.shouldstop))  # type: ignore[union-attr]

    try:
        termination.phase = "setup"  # the previous scenario's uninstall runs in the next check's setup
        with pytest.raises(KeyboardInterrupt, match="SIGTERM received"):
            uninstall()  # raised once the cleanup is over
        assert seen == [[], "SIGTERM", "SIGTERM received: tearing down"]
        said = (tmp_path / "report" / "logs" / "termination-main.txt").read_text()
        assert "SIGTERM received during the uninstall of x: it goes on to its end" in said
        cancellation.reset()
        later = Termination(config)
        later.phase = "teardown"  # in a check's teardown: the loop stops after it, nothing raised
        later.handle(signal.SIGHUP, None)
        with cancellation.cleanup("the teardown of the kind clusters"):
            pass
        assert later.stop_after_cleanup and stopped == []
    finally:
        termination.uninstall()
