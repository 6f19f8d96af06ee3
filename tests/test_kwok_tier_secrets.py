"""Planted and real secrets of a failed kwok-tier run appear nowhere (layer 3), and the run
leaves nothing behind when it exits.

The child run (tests/kwok_child.py) installs ip-passthrough on real API servers with the real
istiod; its plugin (tests/kwok_tier_secrets.py) plants one secret of every family
(tests/planted_secrets.py) in a ConfigMap, an Event and the istiod pod's annotations, reads
the Secrets of the external istiod's namespace through the suite's runner as kubectl prints
them, and fails the check with the carrier in its message and captured output, so that the
run's diagnostics dump those real objects. Then every file of the report directory and of the
Allure results, and the terminal output, are searched for the planted secrets and for the
run's real credentials (the kubeconfigs' client keys, the remote secret's token).

And at the end : once the child has exited, no process it started is alive
(kube-apiservers, etcds, kwok controllers, the istiod host, synthetic proxies) and none of its
network namespaces, test-host files or kubeconfigs is left.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from programs.tools import ResolvedTool
from tests.kwok_child import KwokChild
from tests.kwok_tier_secrets import CHECK, PLANT_OUT_ENV
from tests.planted_secrets import FORBIDDEN, leaks_in, leaks_under

pytestmark = [pytest.mark.kwok, pytest.mark.slow, pytest.mark.xdist_group("kwok-tier")]

CHILD_TIMEOUT_S = 900.0


def test_secrets_of_a_failed_kwok_run_appear_nowhere_and_nothing_outlives_it(
    real_tool: Callable[[str], ResolvedTool], tmp_path: Path
) -> None:
    allure, planted = tmp_path / "allure", tmp_path / "real-secrets.json"
    child = KwokChild(real_tool, tmp_path, "ip-passthrough")
    process = child.start(
        "-p",
        "tests.kwok_tier_secrets",
        "-k",
        CHECK,
        f"--alluredir={allure}",
        "-rA",
        **{PLANT_OUT_ENV: str(planted)},
    )
    try:
        output, _ = process.communicate(timeout=CHILD_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=60)
    left = child.left_behind()  # right after the exit: the teardown ended when its processes did
    assert process.returncode == 1, output[-4000:]
    assert left == [], left
    assert CHECK in output and "planted failure carrying every family of secret" in output
    real = json.loads(planted.read_text())
    assert len(real) >= 4, "the kubeconfigs' client keys and the remote secret's token were read"
    forbidden = (*FORBIDDEN, *real)
    diagnostics = child.report / "diagnostics"
    assert list(diagnostics.rglob("configmaps-istio.yaml")) and list(diagnostics.rglob("events.txt"))
    dumped = "\n".join(path.read_text() for path in diagnostics.rglob("configmaps-istio.yaml"))
    assert "istio-planted" in dumped and "<redacted>" in dumped
    assert leaks_under(child.report, forbidden) == []
    assert leaks_under(allure, forbidden) == []
    assert leaks_in(output, forbidden) == []
