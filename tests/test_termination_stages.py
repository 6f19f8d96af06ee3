"""A signal at any stage of a kind run (layer 4: the simulated clusters of
tests/e2e_cluster_sim.py): the cleanup goes on to its end, a second signal says what is left
and how to remove it, the run exits 2 and leaves nothing.

Every stage of a run is held open by one slow fake command and gets the signal there, for each
of SIGINT, SIGTERM and SIGHUP:

- while the run works (cluster creation, the install, a check, diagnostics of a failed check),
  the slow command is stopped, never awaited, and the run tears down;
- while it cleans up (the uninstall, the restore check, the clusters' deletion), the slow
  command is not stopped: it finishes, and every later cleanup step runs too.

Then: exit code 2, the second signal's message with the removal commands, no kind cluster left
(the fake's state), no cloud-provider-kind daemon, no fake process, no run directory (its
kubeconfigs), no cluster record.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import e2e_child, e2e_cluster_sim
from tests.e2e_child import Child, fake_processes
from tests.fakeexec import FakeTools
from tests.topology_child import first

pytestmark = pytest.mark.slow

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
HELD_S = 60.0  # a working stage's command: stopped by the first signal, never awaited
CLEANUP_S = 3.5  # a cleanup's command: must run to its end though signals arrive meanwhile
REMOTE = rf"--context kind-{e2e_cluster_sim.CLUSTERS['remote']} "
# The uninstall proof's listing, as the simulation answers it (tests/e2e_cluster_sim.py).
LISTING: dict[str, object] = {
    "stdout": "namespace/default\nnamespace/kube-system\n",
    "stdout_from_state": "namespaces-remote",
}
DELETION = r"^delete cluster --name (\S+)"


@dataclass(frozen=True)
class Stage:
    name: str
    tool: str
    pattern: str  # the command that holds the stage open
    cleanup: bool
    behaviour: dict[str, object]  # what the held command does besides (tests/fakeexec.py rules)
    prepare: Callable[[FakeTools], None] = lambda tools: None  # changes to the simulation


def _uninstall_noted(tools: FakeTools) -> None:
    """The remote's sample namespace deletion notes that the uninstall reached it: the restore
    check's listing is the next one (the install lists the clusters too, for its ledger)."""
    first(
        tools.tools["kubectl"],
        REMOTE + r"delete .*(namespace/sample)$",
        remove_state=("namespaces-remote", r"\1"),
        add_state=("uninstalled", r"\1"),
    )


def _failing_check(tools: FakeTools) -> None:
    """The istiod version check fails (another version answers): diagnostics are collected."""
    first(
        tools.tools["kubectl"],
        r"exec -n external-istiod \S+ -c discovery -- pilot-discovery version -o json$",
        expand=False,
        stdout='{"clientVersion": {"version": "1.0.0", "revision": "other"}}',
    )


STAGES = (
    Stage("creation", "kind", r"^create cluster --name (\S+)", False, {"add_state": ("clusters", r"\1")}),
    Stage("install", "istioctl", r"^install -y -f \S+/controlplane-gateway\.yaml", False, {}),
    Stage("checks", "kubectl", r"-- pilot-discovery version -o json$", False, {}),
    Stage("diagnostics", "kubectl", r" get nodes -o wide$", False, {}, _failing_check),
    Stage(
        "uninstall",
        "kubectl",
        REMOTE + r"delete .*(namespace/sample)$",
        True,
        {"remove_state": ("namespaces-remote", r"\1")},
    ),
    Stage(
        "restore-check",
        "kubectl",
        REMOTE + r"get namespaces,customresourcedefinitions,\S+ -o name$",
        True,
        {**LISTING, "when_state": "uninstalled"},
        prepare=_uninstall_noted,
    ),
    Stage(
        "cluster-deletion",
        "kind",
        r"^delete cluster --name (\S+)",
        True,
        {"remove_state": ("clusters", r"\1")},
    ),
)


def _hold(stage: Stage) -> Callable[[FakeTools, str], None]:
    def prepare(tools: FakeTools, api_url: str) -> None:
        stage.prepare(tools)
        if not stage.cleanup:  # the second signal arrives while the clusters are deleted
            first(tools.tools["kind"], DELETION, sleep=CLEANUP_S, remove_state=("clusters", r"\1"))
        sleep = CLEANUP_S if stage.cleanup else HELD_S
        first(tools.tools[stage.tool], stage.pattern, sleep=sleep, **stage.behaviour)

    return prepare


def _signal_at(child: Child, stage: Stage, sig: signal.Signals) -> str:
    # The restore check's listing is the first after the uninstall (the install lists too).
    skipped = 0
    if "when_state" in stage.behaviour:
        while not child.tools.state(str(stage.behaviour["when_state"])) and child.process.poll() is None:
            time.sleep(0.1)
        skipped = len(child.tools.started(stage.tool))

    def arrived() -> bool:
        return any(
            re.search(stage.pattern, line) is not None for line in child.tools.started(stage.tool)[skipped:]
        )

    deadline = time.monotonic() + 180
    while not arrived() and child.process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert arrived(), f"the run never reached its {stage.name}: {child.output(timeout_s=60)[-3000:]}"
    time.sleep(0.5)
    child.process.send_signal(sig)
    time.sleep(1.2)  # a second signal, not the same cancel (the handler merges signals within 1 s)
    child.process.send_signal(sig)
    return child.output(timeout_s=240)


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda sig: sig.name)
@pytest.mark.parametrize("stage", STAGES, ids=lambda stage: stage.name)
def test_a_signal_at_each_stage_ends_the_run_cleanly(
    tmp_path: Path, stage: Stage, sig: signal.Signals
) -> None:
    with e2e_child.started(tmp_path, _hold(stage)) as child:
        output = _signal_at(child, stage, sig)
        code = child.process.returncode
    assert code == 2, output[-4000:]
    finished = [
        call.line
        for call in child.tools.calls(stage.tool)
        if _matches(stage, call.line) and call.ended - call.started >= CLEANUP_S
    ]
    if stage.cleanup:
        assert f"{sig.name} received during the " in output, output[-4000:]
        assert finished, f"the {stage.name} command was cut short"
    else:
        assert f"{sig.name} received: tearing down" in output, output[-4000:]
        assert not finished, f"the {stage.name} command was awaited: {finished}"
    assert f"{sig.name} during teardown: teardown goes on" in output, output[-4000:]
    assert "If it is killed now, this is left:" in output
    _nothing_left(child)


def _matches(stage: Stage, line: str) -> bool:
    return re.search(stage.pattern, line) is not None


def _nothing_left(child: Child) -> None:
    assert child.tools.state("clusters") == []
    assert child.tools.state("namespaces-external") == child.tools.state("namespaces-remote") == []
    assert not (child.state_dir / "cloud-provider-kind.json").exists()
    assert fake_processes(child.tools.bin_dir) == []
    assert list((child.state_dir / "clusters").glob("*.json")) == []
    assert not child.run_dir.exists()
