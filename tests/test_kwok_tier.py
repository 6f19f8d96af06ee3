"""The kwok tier is real (layer 3): break the external istiod and the injection check says how.

Each test runs the suite as its users do (``pytest suites --topology-mode kwok --scenario
ip-passthrough``, the offline tier's istioctl and the pilot-discovery of the same source) with
tests/test_kwok_tier_faults.py breaking the control plane right before the injection check:

- istiod stopped: the remote API server's call to the injection webhook is refused, and the
  check's message carries the API server's own ``connect: connection refused``;
- a caBundle that did not sign istiod's certificate: the API server's TLS verification fails,
  and the message carries its ``x509`` error.

Neither message can come from a fake: they are what kube-apiserver says when it calls the
webhook URL the remote profile configured and reaches (or cannot reach) the real process.
Root, iproute2 and the kwok tier's binaries are needed; without them the tests skip and say why.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from programs.tool_policy import KWOK_MODE_TOOLS
from programs.tools import ResolvedTool
from scenarios.releases import load_pins
from tests.test_kwok_netns import netns_usable
from tests.test_kwok_tier_faults import CHECK, FAULT_ENV

# One xdist group: the tier's child runs take a topology each, one after another.
pytestmark = [pytest.mark.kwok, pytest.mark.slow, pytest.mark.xdist_group("kwok-tier")]

ROOT = Path(__file__).resolve().parent.parent
CHILD_TIMEOUT_S = 900.0


def child_env() -> dict[str, str]:
    """This environment without the parent session's run identity: a child suite run is a run
    of its own (its own run id, not an xdist worker of the self-tests)."""
    return {
        key: value
        for key, value in os.environ.items()
        if key != "EICP_RUN_ID" and not key.startswith("PYTEST_XDIST")
    }


def _suite_argv(real_tool: Callable[[str], ResolvedTool], report_dir: Path) -> list[str]:
    reason = netns_usable()
    if reason:
        pytest.skip(reason)
    tool_paths = [
        arg for name in KWOK_MODE_TOOLS for arg in ("--tool-path", f"{name}={real_tool(name).path}")
    ]
    istioctl = real_tool("istioctl-offline")
    pilot = real_tool("pilot-discovery-offline")
    tag = load_pins().offline_istioctl["reports_as"]
    return [
        sys.executable,
        "-m",
        "pytest",
        "suites",
        "-p",
        "no:cacheprovider",
        "-p",
        "tests.test_kwok_tier_faults",
        "-n",
        "0",
        "--topology-mode",
        "kwok",
        "--scenario",
        "ip-passthrough",
        "--istioctl",
        str(istioctl.path),
        "--istio-version",
        "1.31",
        "--istio-tag",
        tag,
        *tool_paths,
        "--tool-path",
        f"pilot-discovery={pilot.path}",
        "--report-dir",
        str(report_dir),
        "-k",
        CHECK,
        "-q",
    ]


def _failure_of_injection_check(junit: Path) -> str:
    for case in ET.parse(junit).getroot().iter("testcase"):  # noqa: S314 -- our own run's output
        if case.get("name", "").startswith(CHECK):
            problem = case.find("failure")
            if problem is None:
                problem = case.find("error")
            assert problem is not None, f"{CHECK} did not fail in the child run"
            return f"{problem.get('message', '')}\n{problem.text or ''}"
    raise AssertionError(f"no {CHECK} in {junit}")


@pytest.mark.parametrize(
    ("fault", "api_server_says"),
    [("stop-istiod", "connect: connection refused"), ("wrong-ca-bundle", "x509")],
    ids=["istiod-stopped", "wrong-ca-bundle"],
)
def test_injection_check_reports_what_the_api_server_says(
    fault: str, api_server_says: str, real_tool: Callable[[str], ResolvedTool], tmp_path: Path
) -> None:
    report = tmp_path / "report"
    argv = _suite_argv(real_tool, report)
    child = subprocess.run(
        argv,
        cwd=ROOT,
        env={**child_env(), FAULT_ENV: fault},
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    tail = (child.stdout + child.stderr)[-4000:]
    assert child.returncode == 1, f"the child run should fail only its injection check:\n{tail}"
    message = _failure_of_injection_check(report / "junit.xml")
    assert "a new pod in sample (dry run) was not admitted" in message, message
    assert api_server_says in message, message
    assert "failed calling webhook" in message, message
