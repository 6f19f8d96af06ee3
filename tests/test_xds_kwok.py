"""Synthetic proxies against the real external istiod (layer 3, kwok mode).

Runs the suite as its users do (``pytest suites --topology-mode kwok --scenario
ip-passthrough`` and ``dns-tls``, the offline tier's istioctl and the pilot-discovery of the same source),
narrowed to the two checks the synthetic proxies serve: istiod's real ``/debug/syncz`` lists
every injected pod's proxy as connected and synced, and the config it sent the client's proxy
(its route, cluster and EDS for helloworld, as an Envoy config dump) sends the v1 pod every request. Afterwards no synthetic proxy process is left, and the
conformance report names the stand-in. Root, iproute2 and the kwok tier's binaries are needed;
without them the test skips and says why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from clusters.kwok.xds_proxies import STAND_IN
from programs.tool_policy import KWOK_MODE_TOOLS
from programs.tools import ResolvedTool
from scenarios.releases import load_pins
from tests.test_kwok_netns import kwok_host_usable
from tests.test_kwok_tier import child_env

pytestmark = [pytest.mark.kwok, pytest.mark.slow, pytest.mark.xdist_group("kwok-tier")]

ROOT = Path(__file__).resolve().parent.parent
CHECKS = (
    "test_proxies_connected_and_synced_to_external_istiod",
    "test_client_sidecars_route_helloworld_evenly",
)
CHILD_TIMEOUT_S = 900.0


def _xdsclient_processes(run_id: str) -> list[str]:
    """The synthetic proxies of one suite run: xdsclient processes whose environment holds its
    ``EICP_RUN_ID`` (every process the run starts inherits it), never another run's on this machine."""
    marker = f"EICP_RUN_ID={run_id}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        try:
            exe = os.readlink(proc / "exe")
            if not exe.endswith("/xdsclient"):
                continue
            environment = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue  # not a process, or one that ended meanwhile
        if marker in environment:
            found.append(f"{proc.name}: {exe}")
    return found


@pytest.mark.parametrize("scenario", ["ip-passthrough", "dns-tls"])
def test_synthetic_proxies_are_synced_and_get_helloworlds_endpoints(
    scenario: str, real_tool: Callable[[str], ResolvedTool], tmp_path: Path
) -> None:
    """dns-tls: the proxies reach ``<hostname>:15012`` by name from the remote cluster's network
    namespace, verify the gateway stand-in with the run's root, and istiod authenticates them by
    their token (TLS ends at the gateway)."""
    reason = kwok_host_usable()
    if reason:
        pytest.skip(reason)
    run_id = "xdst" + uuid.uuid4().hex[:8]  # the child run's id (fixtures/core.py keeps a given one)
    for built in ("istioctl-offline", "pilot-discovery-offline", "xdsclient-offline"):
        real_tool(built)  # built (or found cached) here, so the child run finds them cached
    tool_paths = [
        arg for name in KWOK_MODE_TOOLS for arg in ("--tool-path", f"{name}={real_tool(name).path}")
    ]
    report = tmp_path / "report"
    argv = [
        sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", "-n", "0",
        "--topology-mode", "kwok", "--scenario", scenario,
        "--istio-source", f"istio.io/istio@{load_pins().tier_source()}", *tool_paths,
        "--report-dir", str(report), "-k", " or ".join(CHECKS), "-q",
    ]  # fmt: skip
    child = subprocess.run(
        argv,
        cwd=ROOT,
        env={**child_env(), "EICP_RUN_ID": run_id},
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    tail = (child.stdout + child.stderr)[-4000:]
    assert child.returncode == 0, f"the child run failed:\n{tail}"
    outcomes = {
        case.get("name", "").split("[")[0]: [child.tag for child in case]
        for case in ET.parse(report / "junit.xml").getroot().iter("testcase")  # noqa: S314 -- our own run's output
    }
    for check in CHECKS:
        assert check in outcomes, (check, tail)
        assert not {"failure", "error", "skipped"} & set(outcomes[check]), (check, outcomes[check], tail)
    conformance = json.loads((report / "conformance-report.json").read_text())
    component, _, stood_in = STAND_IN.partition(" (")
    listed = json.dumps(conformance)
    assert json.dumps(component) in listed and json.dumps(stood_in.removesuffix(")")) in listed, (
        "the synthetic proxies are not listed as a stand-in"
    )
    left = _xdsclient_processes(run_id)
    assert left == [], f"the run's synthetic proxy processes were left running: {left}"
