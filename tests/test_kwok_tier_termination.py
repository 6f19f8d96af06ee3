"""A signal at any stage of a kwok run (layer 3: real control planes, the real istiod in its
own network namespace, HAProxy for its gateway): the cleanup goes on to its end, a later signal
says what is left and how to remove it, the run exits 2, and nothing outlives it: no process of
the run, no network namespace, bridge or test-host file, no run directory (its kubeconfigs).

The child runs (tests/kwok_child.py) mark each stage as they reach it (tests/kwok_stage_probe.py)
and get their signals there. A signal ends a run, so a run per working stage: cluster creation
(SIGINT), the install (SIGHUP), an istiod stand-in's start (SIGTERM), the gateway stand-in's
start (SIGINT), a check (SIGTERM), diagnostics of a failed check (SIGHUP). The teardown stages
share one run, which gets a signal in each: the uninstall (the first, SIGTERM: the bug of issue
18), then its restore check (SIGHUP), the gateway stand-in's stop (SIGINT), the istiods' stop
(SIGHUP) and the clusters' deletion (SIGTERM), each of which must run to its end. Every signal
at every stage is tests/test_termination_stages.py's (layer 4, fakes, kind mode).

Cost: seven child runs of ip-passthrough, one after another in the "kwok-tier" xdist group
(selected by the self-tests' ``-m "not realtools"``): 1009 s together on this project's shared
2-core machine under load (creation 8 s, most others 120-140 s, the install case 340 s).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from programs.tools import ResolvedTool
from tests import kwok_child
from tests.kwok_stage_probe import FAIL_ENV, PROBE_ENV

pytestmark = [pytest.mark.kwok, pytest.mark.slow, pytest.mark.xdist_group("kwok-tier")]

CHILD_TIMEOUT_S = 900.0
CHECK = "test_external_istiod_available_with_release"
WORKING = [
    ("creation", signal.SIGINT, False),
    ("install", signal.SIGHUP, False),
    ("istiod-start", signal.SIGTERM, False),
    ("gateway-start", signal.SIGINT, False),
    ("checks", signal.SIGTERM, False),
    ("diagnostics", signal.SIGHUP, True),
]
TEARDOWN = [
    ("uninstall", signal.SIGTERM),
    ("restore-check", signal.SIGHUP),
    ("gateway-stop", signal.SIGINT),
    ("istiod-stop", signal.SIGHUP),
    ("cluster-deletion", signal.SIGTERM),
]


def _run(
    real_tool: Callable[[str], ResolvedTool],
    tmp_path: Path,
    fail: bool,
    signals: list[tuple[str, signal.Signals]],
) -> str:
    """Start a child run, send each signal when its stage begins; the output, after checking
    that the run exited 2 and left nothing."""
    probe = tmp_path / "probe"
    probe.mkdir()
    child = kwok_child.KwokChild(real_tool, tmp_path, "ip-passthrough")
    process = child.start(
        "-p",
        "tests.kwok_stage_probe",
        "-k",
        CHECK,
        **{PROBE_ENV: str(probe)},
        **({FAIL_ENV: "1"} if fail else {}),
    )
    try:
        for stage, sig in signals:
            deadline = time.monotonic() + CHILD_TIMEOUT_S
            while not (probe / stage).exists() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            assert (probe / stage).exists(), f"the run never reached its {stage}: {process.poll()}"
            time.sleep(1.0)
            process.send_signal(sig)
        output, _ = process.communicate(timeout=CHILD_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=60)
    left = child.left_behind()  # right after the exit: the teardown ended when its processes did
    assert process.returncode == 2, output[-5000:]
    assert left == [], left
    return output


@pytest.mark.parametrize(("stage", "sig", "fail"), WORKING, ids=[stage for stage, _s, _f in WORKING])
def test_a_signal_while_the_run_works_stops_it_and_tears_everything_down(
    real_tool: Callable[[str], ResolvedTool], tmp_path: Path, stage: str, sig: signal.Signals, fail: bool
) -> None:
    output = _run(real_tool, tmp_path, fail, [(stage, sig)])
    assert f"{sig.name} received: tearing down" in output, output[-5000:]


def test_signals_during_the_teardown_let_every_cleanup_finish(
    real_tool: Callable[[str], ResolvedTool], tmp_path: Path
) -> None:
    output = _run(real_tool, tmp_path, False, TEARDOWN)
    assert "SIGTERM received during the uninstall of" in output, output[-5000:]
    assert "clusters restored" in output  # the uninstall and its proof ran to their end
    for later in ("SIGHUP", "SIGINT", "SIGTERM"):
        assert f"{later} during teardown: teardown goes on" in output, output[-5000:]
    assert "If it is killed now, this is left:" in output
    # The kwok clusters' leftovers (the child's prefix "eicpt...") are named with how to remove them.
    assert "kwok clusters and test hosts of this run (network namespaces): eicpt" in output, output[-5000:]
    assert "ip netns pids $ns | xargs -r kill -9; ip netns delete $ns; rm -rf /etc/netns/$ns" in output
