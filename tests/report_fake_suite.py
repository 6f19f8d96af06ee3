"""The fake conformance suite of the report self-tests: three scenarios over fake clusters (one
check failing, one skipped), run by pytest in a subprocess with the report plugin
(``run_fake_suite``). tests/test_report_outputs.py checks every output of it; other report
tests run it with checks or a conftest of their own."""

from __future__ import annotations

import os
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from programs.runner import CommandRunner
from scenarios.releases import load_pins
from tests.fakeexec import FakeTools
from tests.report_support import REGISTERED_TOKEN, script_kubectl

REPO_ROOT = Path(__file__).resolve().parent.parent
V30 = str(load_pins().resolve_release("1.30").version)  # the release under test, from the table

CONFTEST = """
import dataclasses
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from fixtures.options import SUITE_CONFIG
from install.session import DiagnosticsNote
from reports.diagnostics import collect_diagnostics
from run.state import run_state
from tests.report_support import PRIVATE_KEY, REGISTERED_TOKEN, make_topology
from tests.fakeexec import FakeTools

pytest_plugins = ["fixtures.options", "fixtures.core", "fixtures.reports_plugin"]
SCENARIOS = ("ip-passthrough", "dns-tls", "sail")


def pytest_configure(config):
    for family in ("controlplane", "injection", "validation", "traffic", "upgrade"):
        config.addinivalue_line("markers", f"{family}: check family")


def pytest_generate_tests(metafunc):
    if "scenario_id" in metafunc.fixturenames:
        release = metafunc.config.stash[SUITE_CONFIG].releases[0]
        metafunc.parametrize(
            ("scenario_id", "release"),
            [(scenario, release) for scenario in SCENARIOS],
            ids=[f"{scenario}-{release.version}" for scenario in SCENARIOS],
            scope="session",
        )


# What install/session.py's ScenarioSession keeps and answers: its clusters, its diagnostics once.
SESSIONS = {}
NOTES = {}


def pytest_eicp_scenario_failed(config, label, nodeid, when):
    if label in NOTES:
        return dataclasses.replace(NOTES[label], collected_now=False)
    topology, runner = SESSIONS[label]
    report_dir = config.stash[SUITE_CONFIG].report_dir.resolve()
    out_dir = report_dir / "diagnostics" / label
    with run_state(config).timeline.phase("diagnostics", f"collect diagnostics of {label}", scenario=label):
        result = collect_diagnostics(topology, {"remote": ["sample"]}, out_dir, runner, 300.0)
    NOTES[label] = DiagnosticsNote(f"diagnostics/{label}", result.summary(), True)
    return NOTES[label]


@pytest.fixture(scope="session")
def installed_scenario(scenario_id, release, runner, redactor, run_dir, timeline, run_facts):
    redactor.register(REGISTERED_TOKEN)  # as the installer does with a remote secret's token
    redactor.register(PRIVATE_KEY)  # as the suite's PKI does with the keys it generates
    timeline.record("cluster", "create external", "external", None, time.time(), 0.4, "passed")
    label = f"{scenario_id}-{release.version}"
    with timeline.phase("install", f"install {scenario_id}", role="external", scenario=label):
        # A command whose output carries the token (like create-remote-secret).
        runner.run(["kubectl", "--context", "ctx-external", "get", "secret", "remote-x", "-o", "yaml"])
        time.sleep(0.05)
    run_facts.note_kubernetes_version("external", "v1.34.0")
    run_facts.note_kubernetes_version("remote", "v1.34.0")
    tools = FakeTools(Path(os.environ["FAKE_TOOLS_ROOT"]))
    topology = make_topology(tools, runner, run_dir, ("external", "remote"))
    SESSIONS[label] = (topology, runner)
    return SimpleNamespace(topology=topology, namespaces_by_role={"remote": ["sample"]})
"""

CHECKS = """
import pytest

from tests.report_support import BEARER_TOKEN, REGISTERED_TOKEN


@pytest.mark.controlplane
def test_external_istiod_available(installed_scenario, scenario_id, release):
    assert installed_scenario.topology.has("external")


@pytest.mark.injection
def test_sidecar_injected(installed_scenario, scenario_id, release, runner):
    if scenario_id == "dns-tls":
        result = runner.run(["kubectl", "--context", "ctx-remote", "logs", "-n", "sample", "helloworld"])
        print("proxy log:", result.stdout)
        secrets = f"remote token {REGISTERED_TOKEN}, Bearer {BEARER_TOKEN}"
        assert "injected" in result.stdout, f"no sidecar; {secrets}"


@pytest.mark.traffic
def test_curl_reaches_helloworld(installed_scenario, scenario_id, release):
    if scenario_id == "sail":
        pytest.skip("traffic through the Sail ingress is not supported here")
"""


@dataclass
class FakeRun:
    project: Path
    report_dir: Path
    alluredir: Path
    output: str
    returncode: int
    tools: FakeTools


def run_fake_suite(
    tmp_path: Path,
    fake_tools: FakeTools,
    runner: CommandRunner,
    extra: tuple[str, ...] = (),
    checks: str = CHECKS,
) -> FakeRun:
    project = tmp_path / "project"
    (project / "suites").mkdir(parents=True)
    (project / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    (project / "suites" / "test_checks.py").write_text(textwrap.dedent(checks))
    kubectl = fake_tools.install("kubectl")
    kubectl.on(
        r"get secret",
        stdout=f"apiVersion: v1\nkind: Secret\nstringData:\n  remote: |\n    token: {REGISTERED_TOKEN}\n",
    )
    script_kubectl(kubectl)
    report_dir = project / "report"
    alluredir = report_dir / "allure-results"
    # A clean environment: an outer xdist worker's PYTEST_XDIST_WORKER must not leak into the run.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "EICP_"))}
    env.update(
        {
            "PYTHONPATH": str(REPO_ROOT),
            "FAKE_TOOLS_ROOT": str(fake_tools.root),
            "PATH": fake_tools.path_env(),
            "EICP_RUN_ID": "selftest",
            "EICP_RUNS_DIR": str(project / "runs"),
            "EICP_TOOLS_DIR": str(project / "tools"),
        }
    )
    isolated = CommandRunner(redactor=runner.redactor, base_env=env, default_timeout_s=120)
    result = isolated.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "--istio-version",
            "1.30",
            "--report-dir",
            str(report_dir),
            "--alluredir",
            str(alluredir),
            "--clean-alluredir",
            "-rA",
            *extra,
        ],
        cwd=project,
        check=False,
        timeout_s=120,
    )
    return FakeRun(
        project, report_dir, alluredir, result.stdout + result.stderr, result.returncode, fake_tools
    )
