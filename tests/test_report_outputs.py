"""End to end: a fake conformance suite (three scenarios over fake clusters) run by pytest in a
subprocess with the report plugin, then every output checked: JUnit, conformance report
(schema-valid, results right), HTML summary, Allure environment/categories/labels, diagnostics,
and no known secret anywhere in the report directory."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures.options import SUITE_CONFIG
from programs.runner import CommandRunner
from reports.conformance import validate
from scenarios.releases import load_pins
from tests.fakeexec import FakeTools
from tests.report_support import (
    BEARER_TOKEN,
    KEY_BODY,
    KEY_TAIL,
    REGISTERED_TOKEN,
    decode_png,
    leaks,
    script_kubectl,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
V30 = str(load_pins().resolve_release("1.30").version)  # the release under test, from the table
pytest_plugins = ["pytester"]

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


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory: pytest.TempPathFactory) -> FakeRun:
    # Module scope: one subprocess run serves every output check below.
    root = tmp_path_factory.mktemp("reports")
    return run_fake_suite(root, FakeTools(root / "fake"), CommandRunner(default_timeout_s=120))


def test_run_fails_because_a_check_failed(fake_run: FakeRun) -> None:
    assert fake_run.returncode == 1, fake_run.output
    assert "1 failed, 7 passed, 1 skipped" in fake_run.output


def test_junit_has_one_case_per_check_per_scenario(fake_run: FakeRun) -> None:
    tree = ET.parse(fake_run.report_dir / "junit.xml")  # noqa: S314 -- our own run's output
    cases = tree.getroot().iter("testcase")
    by_name = {case.get("name"): case for case in cases}
    assert len(by_name) == 9
    assert set(by_name) >= {
        f"test_sidecar_injected[dns-tls-{V30}]",
        f"test_external_istiod_available[ip-passthrough-{V30}]",
        f"test_curl_reaches_helloworld[sail-{V30}]",
    }
    failed = by_name[f"test_sidecar_injected[dns-tls-{V30}]"]
    assert failed.find("failure") is not None
    properties = {prop.get("name"): prop.get("value") for prop in failed.iter("property")}
    assert properties["eicp.scenario"] == "dns-tls"
    assert properties["eicp.family"] == "injection"
    assert properties["eicp.diagnostics"] == f"diagnostics/dns-tls-{V30}"
    assert by_name[f"test_curl_reaches_helloworld[sail-{V30}]"].find("skipped") is not None


def test_conformance_report_is_valid_and_right(fake_run: FakeRun) -> None:
    from_yaml = yaml.safe_load((fake_run.report_dir / "conformance-report.yaml").read_text())
    from_json = json.loads((fake_run.report_dir / "conformance-report.json").read_text())
    assert from_yaml == from_json
    validate(from_json)
    assert from_json["result"] == "failure"
    assert from_json["istio"][0]["version"] == V30
    assert from_json["kubernetesVersion"] == "v1.34.0"
    assert from_json["tools"]["kind"] == "v0.33.0"
    assert from_json["tools"]["cloud-provider-kind"] == load_pins().tools["cloud-provider-kind"]["version"]
    assert from_json["mode"] == "kind"
    scenarios = {entry["name"]: entry for entry in from_json["scenarios"]}
    assert {name: entry["result"] for name, entry in scenarios.items()} == {
        f"ip-passthrough-{V30}": "success",
        f"dns-tls-{V30}": "failure",
        f"sail-{V30}": "partial",
    }
    dns = scenarios[f"dns-tls-{V30}"]
    assert dns["checks"]["failed"] == ["injection/test_sidecar_injected"]
    assert dns["statistics"] == {"Passed": 2, "Failed": 1, "Skipped": 0, "KnownIssues": 0}
    assert dns["failures"][0]["category"] == "product"
    assert dns["diagnostics"] == f"diagnostics/dns-tls-{V30}"
    assert scenarios[f"sail-{V30}"]["checks"]["skipped"] == ["traffic/test_curl_reaches_helloworld"]
    assert scenarios[f"ip-passthrough-{V30}"]["diagnostics"] is None
    assert from_json["statistics"] == {"Passed": 7, "Failed": 1, "Skipped": 1, "KnownIssues": 0}


def test_diagnostics_were_collected_for_the_failing_scenario_only(fake_run: FakeRun) -> None:
    diagnostics = fake_run.report_dir / "diagnostics"
    assert [path.name for path in diagnostics.iterdir()] == [f"dns-tls-{V30}"]
    scenario = diagnostics / f"dns-tls-{V30}"
    assert (
        scenario / "external-eicp-external/external-istiod/logs/istiod-5d8f7-abcde/discovery.log"
    ).is_file()
    assert (scenario / "remote-eicp-remote/sample/pods.yaml").is_file()
    assert f"diagnostics of dns-tls-{V30}: {scenario}" in fake_run.output  # named in the failure output


def test_html_summary_has_matrix_and_timeline(fake_run: FakeRun) -> None:
    page = (fake_run.report_dir / "summary.html").read_text()
    assert page.count('class="cell pass"') == 7
    assert page.count('class="cell fail"') == 1
    assert page.count('class="cell skip"') == 1
    assert "<svg" in page
    assert "install: install dns-tls" in page
    assert "check: test_sidecar_injected" in page
    assert "cluster: create external" in page
    for external in ("<script", "<link", "src=", "@import", "url("):
        assert external not in page


def test_allure_files(fake_run: FakeRun) -> None:
    props = dict(
        line.split("=", 1)
        for line in (fake_run.alluredir / "environment.properties").read_text().splitlines()
    )
    assert props["istio.version"] == V30
    assert props["kubernetes.version"] == "v1.34.0"
    assert props["tool.kind"] == "v0.33.0"
    categories = json.loads((fake_run.alluredir / "categories.json").read_text())
    assert categories[0]["name"].startswith("Environment:")
    results = [json.loads(path.read_text()) for path in fake_run.alluredir.glob("*-result.json")]
    failed = next(result for result in results if result["status"] == "failed")
    labels = {(label["name"], label["value"]) for label in failed["labels"]}
    assert {("scenario", "dns-tls"), ("istio_version", V30), ("check_family", "injection")} <= labels
    assert ("kubernetes_version", "external=v1.34.0, remote=v1.34.0") in labels
    assert "diagnostics" in {attachment["name"] for attachment in failed["attachments"]}
    assert {"name": "release", "value": f"'{V30}'"} in failed["parameters"]
    # Every command is a step with its output attached.
    steps = [step["name"] for result in results for step in result.get("steps", [])]
    assert any("kubectl --context ctx-remote logs" in name for name in steps)


def test_no_secret_anywhere_in_the_report_directory(fake_run: FakeRun) -> None:
    # The secrets did pass through: in cluster state, command output and the failure message.
    assert REGISTERED_TOKEN.encode() in (fake_run.tools.root / "kubectl.spec.json").read_bytes()
    assert "remote token &lt;redacted&gt;" in (fake_run.report_dir / "junit.xml").read_text()
    # Files that must hold secrets (kubeconfigs) live in the run directory, outside the report
    # directory, and it is removed at the end of a run that keeps no clusters.
    assert leaks(fake_run.report_dir) == []
    assert not (fake_run.project / "runs" / "selftest").exists()
    for secret in (REGISTERED_TOKEN, BEARER_TOKEN, KEY_BODY):
        assert secret not in fake_run.output


# Colours the page uses (reports/html.py): matrix cells and timeline bars.
PASS_CELL, FAIL_CELL = (200, 230, 201), (255, 205, 210)
CLUSTER_BAR, INSTALL_BAR = (43, 140, 190), (65, 171, 93)


@pytest.mark.realtools
def test_summary_renders_in_headless_chromium(
    fake_run: FakeRun, tmp_path: Path, runner: CommandRunner, pytestconfig: pytest.Config
) -> None:
    # Debian's chromium package (not a pinned suite tool, so not resolved by the ToolResolver).
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    artifacts = pytestconfig.stash[SUITE_CONFIG].report_dir.resolve() / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "summary-screenshot.png"
    shot.unlink(missing_ok=True)
    runner.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium'}",
            f"--screenshot={shot}",
            # Half scale keeps the PNG small enough to decode in pure Python quickly; sRGB keeps
            # the page's colours exact so the test can look for them.
            "--window-size=1280,1600",
            "--force-device-scale-factor=0.5",
            "--force-color-profile=srgb",
            "--hide-scrollbars",
            (fake_run.report_dir / "summary.html").as_uri(),
        ],
        timeout_s=90,
    )
    width, height, pixels = decode_png(shot.read_bytes())
    colours = Counter(pixels)
    assert (width, height) == (640, 800)
    assert len(colours) > 50, "the screenshot is (nearly) a single colour"
    # The matrix: seven passed cells and one failed cell; the timeline: cluster and install bars.
    assert colours[PASS_CELL] > 7 * 300, colours.most_common(10)
    assert colours[FAIL_CELL] > 300
    assert colours[CLUSTER_BAR] > 200
    assert colours[INSTALL_BAR] > 200


def test_xdist_workers_report_to_the_controller(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    run = run_fake_suite(tmp_path, fake_tools, runner, extra=("-n", "2"))
    assert run.returncode == 1, run.output
    report = json.loads((run.report_dir / "conformance-report.json").read_text())
    validate(report)
    assert report["statistics"] == {"Passed": 7, "Failed": 1, "Skipped": 1, "KnownIssues": 0}
    # Kubernetes versions, phases and commands were noted on the workers.
    assert report["kubernetesVersion"] == "v1.34.0"
    page = (run.report_dir / "summary.html").read_text()
    assert "install: install dns-tls" in page
    assert f"collect diagnostics of dns-tls-{V30}" in page
    # Commands ran on the workers: 3 installs, 1 failing check's command, the diagnostics.
    counted = re.search(r"<p>(\d+) commands, ", page)
    assert counted is not None
    assert int(counted.group(1)) > 20
    assert "<td>diagnostics: " in page  # at least 11 of the 15 slowest are diagnostics commands
    assert (run.report_dir / f"diagnostics/dns-tls-{V30}/SUMMARY.txt").is_file()
    assert len(list(ET.parse(run.report_dir / "junit.xml").getroot().iter("testcase"))) == 9  # noqa: S314


def test_no_fragment_of_a_private_key_in_the_report_directory(fake_run: FakeRun) -> None:
    fragments = {line[start : start + 24] for line in (KEY_BODY, KEY_TAIL) for start in range(len(line) - 23)}
    found = [
        path
        for path in fake_run.report_dir.rglob("*")
        if path.is_file() and any(fragment.encode() in path.read_bytes() for fragment in fragments)
    ]
    assert found == []


# -- honest results ------------------------------------------------------------

HONEST_CONFTEST = """
import os

import pytest

from install.session import UninstallFailed

pytest_plugins = ["fixtures.options", "fixtures.core", "fixtures.scenario_plugin", "fixtures.reports_plugin"]


def pytest_configure(config):
    config.addinivalue_line("markers", "controlplane: check family")


def pytest_eicp_required_checks(config, scenarios, upgrade):
    # As suites/conftest.py answers from suites/registry.py: every check below is required.
    return {scenario: [("controlplane", "test_a"), ("controlplane", "test_b")] for scenario in scenarios}


@pytest.fixture(scope="session")
def fake_install(scenario_id, release):
    yield
    if os.environ.get("BROKEN_UNINSTALL"):
        raise UninstallFailed(f"uninstall of {scenario_id} failed; later scenarios on these clusters are not safe")
"""

HONEST_CHECKS = """
import pytest

pytestmark = pytest.mark.controlplane

def test_a(fake_install, scenario_id, release): pass
def test_b(fake_install, scenario_id, release): pass
"""


def _honest_run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    pytester.makeconftest(HONEST_CONFTEST)
    pytester.makepyfile(test_checks=HONEST_CHECKS)
    result = pytester.runpytest(
        "--scenario", "ip-passthrough", "--istio-version", "1.30", "--report-dir", str(pytester.path / "r"), *args
    )  # fmt: skip
    report = json.loads((pytester.path / "r" / "conformance-report.json").read_text())
    validate(report)
    [scenario] = report["scenarios"]
    return result, scenario


def test_a_run_narrowed_with_k_is_partial_never_success(pytester: pytest.Pytester) -> None:
    result, scenario = _honest_run(pytester, "-k", "test_a")
    result.assert_outcomes(passed=1, deselected=1)
    assert scenario["result"] == "partial"
    assert scenario["checks"]["passed"] == ["controlplane/test_a"]
    assert scenario["checks"]["skipped"] == ["controlplane/test_b"]  # required, not run


def test_every_required_check_run_and_passed_is_success(pytester: pytest.Pytester) -> None:
    result, scenario = _honest_run(pytester)
    result.assert_outcomes(passed=2)
    assert scenario["result"] == "success"


def test_an_uninstall_failure_is_the_scenarios_teardown_not_the_last_check(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROKEN_UNINSTALL", "1")
    result, scenario = _honest_run(pytester)
    result.assert_outcomes(passed=2, errors=1)  # pytest itself still names the last item's teardown
    assert scenario["result"] == "failure"
    assert set(scenario["checks"]["passed"]) == {"controlplane/test_a", "controlplane/test_b"}
    assert scenario["checks"]["failed"] == ["teardown/scenario-uninstall-and-restore"]
    [failure] = scenario["failures"]
    assert failure["outcome"] == "error" and "uninstall of ip-passthrough failed" in failure["message"]
