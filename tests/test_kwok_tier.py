"""The kwok tier is real (layer 3): break the control plane or the gateway's name and TLS, and
the injection check says how, in the API server's own words.

Each test runs the suite as its users do (``pytest suites --topology-mode kwok --istio-source``
the tiers' pinned Istio source) with tests/test_kwok_tier_faults.py breaking something right
before the injection check:

- ip-passthrough, istiod stopped: the remote API server's call through the gateway stand-in
  (HAProxy, TLS passthrough) finds no istiod behind it: the connection closes (``EOF``);
- ip-passthrough, a caBundle that did not sign istiod's certificate: the API server's ``x509``
  error;
- dns-tls, a gateway certificate for another name: the API server's x509 name error (the
  webhook is called at ``https://<hostname>:15017``, verified with the caBundle);
- dns-tls, the hostname's line taken out of the remote cluster's hosts file: the API server's
  name-resolution error;
- dns-tls, the DestinationRule as the guide writes it (no CA for istiod): the API server quotes
  the gateway stand-in's 503 ("certificate verify failed"), the known issue
  gateway-verifies-istiod-with-system-roots.

Neither message can come from a fake: they are what kube-apiserver says when it calls the
webhook URL the remote profile configured and reaches (or cannot reach) the real gateway and
istiod. Every child run, failed, passed or interrupted, must leave nothing behind (network
namespaces, /etc/netns files, bridges, processes, HAProxy included). Root, iproute2, HAProxy,
curl and the kwok tier's binaries are needed; without them the tests skip and say why.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from programs.tool_policy import KWOK_MODE_TOOLS
from programs.tools import ResolvedTool
from scenarios.releases import load_pins
from tests.kwok_leftovers import haproxy_running_under, leftovers
from tests.test_kwok_netns import kwok_host_usable
from tests.test_kwok_tier_faults import CHECK, FAULT_ENV

# One xdist group: the tier's child runs take a topology each, one after another.
pytestmark = [pytest.mark.kwok, pytest.mark.slow, pytest.mark.xdist_group("kwok-tier")]

ROOT = Path(__file__).resolve().parent.parent
CHILD_TIMEOUT_S = 900.0
INTERRUPT_DEADLINE_S = 600.0


def child_env() -> dict[str, str]:
    """This environment without the parent session's run identity: a child suite run is a run
    of its own (its own run id, not an xdist worker of the self-tests)."""
    return {
        key: value
        for key, value in os.environ.items()
        if key != "EICP_RUN_ID" and not key.startswith("PYTEST_XDIST")
    }


class Child:
    """One child suite run with a cluster prefix and runs directory of its own."""

    def __init__(self, real_tool: Callable[[str], ResolvedTool], tmp_path: Path, scenario: str) -> None:
        reason = kwok_host_usable()
        if reason:
            pytest.skip(reason)
        for built in ("istioctl-offline", "pilot-discovery-offline", "xdsclient-offline"):
            real_tool(built)  # built (or found cached) here, so the child run finds them cached
        self.prefix = "eicpt" + uuid.uuid4().hex[:6]
        self.runs_dir = tmp_path / "runs"
        self.report = tmp_path / "report"
        tool_paths = [
            arg for name in KWOK_MODE_TOOLS for arg in ("--tool-path", f"{name}={real_tool(name).path}")
        ]
        self.argv = [
            sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", "-p", "tests.test_kwok_tier_faults",
            "-n", "0", "--topology-mode", "kwok", "--scenario", scenario, "--cluster-prefix", self.prefix,
            "--istio-source", f"istio.io/istio@{load_pins().tier_source()}", *tool_paths,
            "--report-dir", str(self.report), "-k", CHECK, "-q",
        ]  # fmt: skip

    def env(self, fault: str | None) -> dict[str, str]:
        return {**child_env(), "EICP_RUNS_DIR": str(self.runs_dir), **({FAULT_ENV: fault} if fault else {})}

    def run(self, fault: str | None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv, cwd=ROOT, env=self.env(fault), capture_output=True, text=True,
            timeout=CHILD_TIMEOUT_S, check=False,
        )  # fmt: skip

    def assert_nothing_left(self) -> None:
        left = leftovers(self.prefix, self.runs_dir)
        assert left == [], f"the child run left behind: {left}"

    def injection_failure(self) -> str:
        for case in ET.parse(self.report / "junit.xml").getroot().iter("testcase"):  # noqa: S314 -- our own run's output
            if case.get("name", "").startswith(CHECK):
                problem = case.find("failure")
                if problem is None:
                    problem = case.find("error")
                assert problem is not None, f"{CHECK} did not fail in the child run"
                return f"{problem.get('message', '')}\n{problem.text or ''}"
        raise AssertionError(f"no {CHECK} in {self.report / 'junit.xml'}")


@pytest.mark.parametrize(
    ("scenario", "fault", "api_server_says"),
    [
        # The passthrough gateway accepts and closes (as Envoy's TCP proxy without an upstream does).
        ("ip-passthrough", "stop-istiod", '/net/network1?timeout=10s": EOF'),
        ("ip-passthrough", "wrong-ca-bundle", "x509: certificate signed by unknown authority"),
        (
            "dns-tls",
            "wrong-gateway-name",
            "x509: certificate is valid for another-name.eicp-selftest.test, not ",
        ),
        ("dns-tls", "no-hosts-entry", "dial tcp: lookup istiod.external-istiod.eicp.test: no such host"),
        # The guide's DestinationRule: the gateway stand-in verifies istiod against the system
        # roots, as Istio configures Envoy, and answers 503; the real API server reports a
        # webhook's 503 without its body, so the check sees only that (the stand-in's log names
        # the TLS failure; known issue gateway-verifies-istiod-with-system-roots).
        (
            "dns-tls",
            "guide-destination-rule",
            "failed to call webhook: the server is currently unable to handle the request",
        ),
    ],
    ids=[
        "istiod-stopped",
        "wrong-ca-bundle",
        "gateway-certificate-for-another-name",
        "no-hosts-entry",
        "guide-destination-rule",
    ],
)
def test_injection_check_reports_what_the_api_server_says(
    scenario: str, fault: str, api_server_says: str, real_tool: Callable[[str], ResolvedTool], tmp_path: Path
) -> None:
    child = Child(real_tool, tmp_path, scenario)
    result = child.run(fault)
    tail = (result.stdout + result.stderr)[-4000:]
    assert result.returncode == 1, f"the child run should fail only its injection check:\n{tail}"
    message = child.injection_failure()
    assert "a new pod in sample (dry run) was not admitted" in message, message
    assert api_server_says in message, message
    assert "failed calling webhook" in message, message
    child.assert_nothing_left()


def test_dns_tls_injection_passes_through_the_gateway_stand_in_and_leaves_nothing(
    real_tool: Callable[[str], ResolvedTool], tmp_path: Path
) -> None:
    child = Child(real_tool, tmp_path, "dns-tls")
    result = child.run(None)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    child.assert_nothing_left()


def test_an_interrupted_dns_tls_run_leaves_nothing(
    real_tool: Callable[[str], ResolvedTool], tmp_path: Path
) -> None:
    """Ctrl-C while the gateway stand-in runs (mid-install): the run's teardown still removes
    every cluster, process, hosts file and the bridge."""
    child = Child(real_tool, tmp_path, "dns-tls")
    process = subprocess.Popen(
        child.argv, cwd=ROOT, env=child.env(None), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + INTERRUPT_DEADLINE_S
    try:
        while not haproxy_running_under(child.runs_dir):
            assert process.poll() is None, (
                f"the child ended before its gateway stand-in ran: {process.stdout}"
            )
            assert time.monotonic() < deadline, "the gateway stand-in never started"
            time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=INTERRUPT_DEADLINE_S)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 2, output[-4000:]
    child.assert_nothing_left()


def test_dns_tls_with_a_secret_of_your_own_serves_it_and_injects(
    real_tool: Callable[[str], ResolvedTool], tmp_path: Path
) -> None:
    """--external-tls-secret with its manifest (a CA and certificate this test makes): the
    installer creates it, the gateway stand-in serves it (read back from the API server), the
    remote API server verifies it with the caBundle (its ca.crt) when it calls the injector (no
    other certificate for the name exists in this run: the suite makes no gateway certificate), and
    the synthetic proxies (XDS_ROOT_CA: the image's system roots, stood in with that CA) connect.
    The guide's DestinationRule would have the gateway refuse istiod (known issue
    gateway-verifies-istiod-with-system-roots), so the run applies its workaround."""
    from tests.test_tls_secret_file import HOST, NAME, issue, secret_manifest, write

    material = issue(HOST)
    secret_file = write(tmp_path / "secret.yaml", secret_manifest(material))
    child = Child(real_tool, tmp_path, "dns-tls")
    child.argv += [
        "--external-hostname", HOST, "--external-tls-secret", NAME, "--external-tls-secret-file", str(secret_file),
        "--workaround", "gateway-trusts-istiod-ca", "-k", "test_sidecars_injected or test_proxies_connected",
    ]  # fmt: skip
    result = child.run(None)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "2 passed" in output, output[-2000:]
    assert base64.b64encode(material.key_pem).decode()[:40] not in output
    child.assert_nothing_left()
