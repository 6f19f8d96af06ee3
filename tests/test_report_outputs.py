"""End to end: a fake conformance suite (three scenarios over fake clusters) run by pytest in a
subprocess with the report plugin, then every output checked: JUnit, conformance report
(schema-valid, results right), HTML summary, Allure environment/categories/labels, diagnostics,
and no known secret anywhere in the report directory."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
import yaml

from fixtures.options import SUITE_CONFIG
from programs.runner import CommandRunner
from reports.conformance import validate
from scenarios.releases import load_pins
from tests.fakeexec import FakeTools
from tests.report_fake_suite import V30, FakeRun, run_fake_suite
from tests.report_support import BEARER_TOKEN, KEY_BODY, KEY_TAIL, REGISTERED_TOKEN, decode_png, leaks


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
