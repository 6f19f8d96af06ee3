"""The Allure results of a fake run rendered by the real Allure Report 3 command line (npm
package ``allure``, pinned by reports/allure3/package-lock.json, installed into .tools/node by
ci/selftest.sh), then the generated report's data checked, and its overview page screenshotted
by headless Chromium and checked to show the failed check.

Allure 3 rather than Allure 2 (``allure-commandline``): Allure 2 needs a Java runtime, which
this project's machines and the CI image do not otherwise need; Allure 3 runs on the Node.js
already there, reads the same ``allure-results`` (allure-pytest 2.x), merges several results
directories in one ``allure generate`` call (the nightly fan-in), and writes its report data
as JSON files a test can read.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from programs.runner import CommandRunner
from reports.allure_files import write_allure3_config
from reports.categories import category_name
from scenarios.releases import load_pins
from tests import report_fake_suite as fake_suite
from tests.fakeexec import FakeTools
from tests.report_support import chromium_screenshot, decode_png, keep_artifact

pytestmark = pytest.mark.realtools

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = REPO_ROOT / "reports" / "allure3" / "package.json"
ALLURE_VERSION = json.loads(PACKAGE.read_text())["dependencies"]["allure"]
SCENARIOS = ("ip-passthrough", "dns-tls", "sail")
PATCH = str(load_pins().resolve_release("1.30").version)  # the fake run's --istio-version 1.30

CHECKS = """
import pytest


class EnvironmentFault(RuntimeError):
    '''As install.installer.EnvironmentFault: the environment failed, not Istio.'''


@pytest.mark.controlplane
def test_external_istiod_available(installed_scenario, scenario_id, release, runner):
    result = runner.run(["kubectl", "--context", "ctx-external", "get", "nodes"])
    assert "Ready" in result.stdout


@pytest.mark.controlplane
def test_external_gateway_has_address(installed_scenario, scenario_id, release):
    if scenario_id == "sail":
        raise EnvironmentFault(
            "LoadBalancer istio-system/istio-ingressgateway got no address: timed out after 300s"
        )


@pytest.mark.injection
def test_sidecar_injected(installed_scenario, scenario_id, release, runner):
    runner.run(["kubectl", "--context", "ctx-remote", "get", "pods", "-n", "sample", "-o", "json"])
    assert scenario_id != "dns-tls", "pod sample/helloworld has no istio-proxy container"


@pytest.mark.traffic
def test_curl_reaches_helloworld(installed_scenario, scenario_id, release):
    if scenario_id == "sail":
        pytest.skip("traffic through the Sail ingress is not supported here")
"""
FAILED = f"test_sidecar_injected[dns-tls-{PATCH}]"
BROKEN = f"test_external_gateway_has_address[sail-{PATCH}]"
SKIPPED = f"test_curl_reaches_helloworld[sail-{PATCH}]"


def allure_binary() -> Path:
    chosen = os.environ.get("EICP_ALLURE_BIN")
    binary = Path(chosen) if chosen else REPO_ROOT / ".tools" / "node" / "node_modules" / ".bin" / "allure"
    if not binary.exists():
        reason = (
            f"the Allure Report {ALLURE_VERSION} command line is not installed at {binary} "
            "(bash ci/selftest.sh installs it with npm ci from reports/allure3/)"
        )
        if os.environ.get("CI"):
            pytest.fail(reason + "; CI must not skip the Allure report checks")
        pytest.skip(reason)
    return binary


@dataclass
class AllureReport:
    results: Path
    out: Path
    run_output: str
    binary: Path
    config: Path

    def test_results(self) -> dict[str, dict[str, Any]]:
        rows = (json.loads(path.read_text()) for path in (self.out / "data" / "test-results").glob("*.json"))
        return {row["name"]: row for row in rows}

    def widget(self, name: str) -> Any:
        return json.loads((self.out / "widgets" / name).read_text())


@pytest.fixture(scope="module")
def allure_report(tmp_path_factory: pytest.TempPathFactory) -> AllureReport:
    binary = allure_binary()
    root = tmp_path_factory.mktemp("allure3")
    runner = CommandRunner(default_timeout_s=120)
    run = fake_suite.run_fake_suite(root, FakeTools(root / "fake"), runner, checks=CHECKS)
    # The environment fault is a failed test to pytest (an exception in the call), broken to Allure.
    assert run.returncode == 1 and "2 failed, 9 passed, 1 skipped" in run.output, run.output
    config = write_allure3_config(root / "allurerc.mjs", "eicp self-test")
    out = root / "allure-report"
    version = runner.run([str(binary), "--version"], timeout_s=60)
    assert version.stdout.strip() == ALLURE_VERSION
    runner.run(
        [str(binary), "generate", "--config", str(config), str(run.alluredir), "-o", str(out)],
        timeout_s=180,
        cwd=root,
        env={"NO_COLOR": "1"},
    )
    return AllureReport(run.alluredir, out, run.output, binary, config)


def test_every_check_is_in_the_report_with_its_labels(allure_report: AllureReport) -> None:
    results = allure_report.test_results()
    checks = ("test_external_istiod_available", "test_external_gateway_has_address", "test_sidecar_injected")
    expected = {
        f"{check}[{scenario}-{PATCH}]"
        for check in (*checks, "test_curl_reaches_helloworld")
        for scenario in SCENARIOS
    }
    assert set(results) == expected
    statuses = {name: row["status"] for name, row in results.items()}
    assert statuses[FAILED] == "failed" and statuses[BROKEN] == "broken" and statuses[SKIPPED] == "skipped"
    assert sorted(statuses.values()).count("passed") == 9
    for name, row in results.items():
        labels = {label["name"]: label["value"] for label in row["labels"]}
        scenario = name.split("[", 1)[1].removesuffix(f"-{PATCH}]")
        assert labels["scenario"] == scenario, name
        assert labels["istio_version"] == PATCH, name
        assert labels["kubernetes_version"] == "external=v1.34.0, remote=v1.34.0", name
        assert labels["parentSuite"] == f"Istio {PATCH}" and labels["suite"] == scenario, name
    summary = json.loads((allure_report.out / "summary.json").read_text())
    assert summary["stats"] == {"total": 12, "passed": 9, "failed": 1, "broken": 1, "skipped": 1}


def _steps(steps: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for step in steps:
        yield step
        yield from _steps(step.get("steps", []))


def test_command_steps_carry_their_output_as_attachments(allure_report: AllureReport) -> None:
    row = allure_report.test_results()[f"test_external_istiod_available[dns-tls-{PATCH}]"]
    [step] = [step for step in row["steps"] if step.get("type") == "step"]
    assert step["name"] == "kubectl --context ctx-external get nodes"
    assert step["status"] == "passed"
    [attachment] = [item["link"] for item in step["steps"] if item.get("type") == "attachment"]
    assert attachment["name"] == "stdout" and attachment["contentType"] == "text/plain"
    stored = allure_report.out / "data" / "attachments" / f"{attachment['id']}{attachment['ext']}"
    assert stored.read_text() == "NAME STATUS\nc-control-plane Ready\n"
    failed = allure_report.test_results()[FAILED]
    names = [step["name"] for step in _steps(failed["steps"]) if step.get("type") == "step"]
    assert names[0] == "kubectl --context ctx-remote get pods -n sample -o json"
    assert failed["error"]["message"].startswith("AssertionError: pod sample/helloworld has no istio-proxy")


def test_categories_separate_environment_faults_from_product_failures(allure_report: AllureReport) -> None:
    tree = allure_report.widget("default/categories.json")
    nodes = tree["nodes"]
    members: dict[str, set[str]] = {}
    for root in tree["roots"]:

        def leaves(node_id: str) -> Iterator[str]:
            node = nodes[node_id]
            if node.get("type") == "tr":
                yield node["name"]
            for child in node.get("childrenIds", []):
                yield from leaves(child)

        members[nodes[root]["name"]] = set(leaves(root))
    assert members == {
        "Environment: LoadBalancer address not assigned": {BROKEN},
        "Product: failed checks": {FAILED},
    }
    # The suite's own classifier (conformance report, HTML) agrees with Allure's placement.
    for name, row in allure_report.test_results().items():
        if row["status"] in ("failed", "broken"):
            error = row["error"]
            placed = category_name(error["message"], error.get("trace", ""), row["status"])
            assert name in members[placed]


def test_environment_widget_names_the_versions(allure_report: AllureReport) -> None:
    environment = {
        entry["name"]: entry["values"] for entry in allure_report.widget("allure_environment.json")
    }
    assert environment["istio.version"] == [PATCH]
    assert environment["kubernetes.version"] == ["v1.34.0"]
    assert environment["mode"] == ["kind"]
    assert environment["tool.kind"] == ["v0.33.0"]
    assert environment["scenarios"] == [f"dns-tls-{PATCH}, ip-passthrough-{PATCH}, sail-{PATCH}"]


@pytest.fixture
def served_report(allure_report: AllureReport) -> Iterator[str]:
    """The report over HTTP on loopback: Allure 3's page loads its data with fetch(), which
    Chromium refuses for file:// pages."""
    handler = functools.partial(_QuietHandler, directory=str(allure_report.out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


# Allure 3.18's status colours (the tree's leaf icons), as Chromium paints them in sRGB.
FAILED_RED = (244, 63, 59)
ICON_COLUMN = range(120, 146)  # x of the leaf icons at a 1280 px wide window, half scale


def _icon_rows(pixels: list[tuple[int, ...]], width: int, colour: tuple[int, int, int]) -> list[int]:
    """Top y of each run of rows where ``colour`` appears in the leaf-icon column."""
    rows = sorted(
        {i // width for i, pixel in enumerate(pixels) if pixel == colour and i % width in ICON_COLUMN}
    )
    return [row for index, row in enumerate(rows) if index == 0 or rows[index - 1] != row - 1]


def test_overview_screenshot_shows_the_failed_check(
    allure_report: AllureReport,
    served_report: str,
    tmp_path: Path,
    runner: CommandRunner,
    pytestconfig: pytest.Config,
) -> None:
    dom = chromium_screenshot(runner, served_report, tmp_path, dump_dom=True)
    # The rendered overview lists the failed check as a failed leaf of the results tree.
    leaves = [
        (chunk.split('data-testid="tree-leaf-status-', 1)[1].split('"', 1)[0], chunk)
        for chunk in dom.split('data-testid="tree-leaf"')[1:]
    ]
    statuses = [status for status, _chunk in leaves]
    assert statuses.count("failed") == 1, statuses
    failed_index = statuses.index("failed")
    assert f">{FAILED}</span>" in leaves[failed_index][1]
    shot = tmp_path / "allure-overview.png"
    chromium_screenshot(runner, served_report, tmp_path, screenshot=shot, window="1280,1600")
    keep_artifact(pytestconfig, shot)
    width, _height, pixels = decode_png(shot.read_bytes())
    # One red leaf icon, in the failed check's row: among the rows of coloured leaf icons
    # (green passed, red failed), the red one is where the DOM puts the failed leaf.
    red_rows = _icon_rows(pixels, width, FAILED_RED)
    assert len(red_rows) == 1, red_rows
    passed_green = _dominant_green(pixels, width)
    green_rows = _icon_rows(pixels, width, passed_green)
    coloured = sorted([*green_rows, *red_rows])
    expected_index = sum(1 for status in statuses[:failed_index] if status == "passed")
    assert coloured.index(red_rows[0]) == expected_index, (coloured, red_rows, statuses)


def _dominant_green(pixels: list[tuple[int, ...]], width: int) -> tuple[int, int, int]:
    greens: dict[tuple[int, ...], int] = {}
    for i, pixel in enumerate(pixels):
        if i % width in ICON_COLUMN and pixel[1] > 150 and pixel[0] < 100 and pixel[2] < 130:
            greens[pixel] = greens.get(pixel, 0) + 1
    assert greens, "no green (passed) leaf icon in the screenshot"
    best = max(greens, key=lambda colour: greens[colour])
    return (best[0], best[1], best[2])


def test_results_of_several_jobs_merge_into_one_report(
    allure_report: AllureReport, tmp_path: Path, runner: CommandRunner
) -> None:
    """The nightly's fan-in: one ``allure generate`` over every job's results directory."""
    jobs = {scenario: tmp_path / f"eicp-1.30-{scenario}" / "allure-results" for scenario in SCENARIOS}
    for scenario, target in jobs.items():
        target.mkdir(parents=True)
        for path in allure_report.results.iterdir():
            theirs = f"[{scenario}-{PATCH}]"
            if path.name.endswith("-result.json") and theirs not in json.loads(path.read_text())["name"]:
                continue
            shutil.copy2(path, target / path.name)  # attachments, containers, environment, categories
    out = tmp_path / "merged-report"
    runner.run(
        [
            str(allure_report.binary),
            "generate",
            "--config",
            str(allure_report.config),
            *map(str, jobs.values()),
            "-o",
            str(out),
        ],
        timeout_s=180,
        cwd=tmp_path,
        env={"NO_COLOR": "1"},
    )
    merged = AllureReport(allure_report.results, out, "", allure_report.binary, allure_report.config)
    assert set(merged.test_results()) == set(allure_report.test_results())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stats"] == {"total": 12, "passed": 9, "failed": 1, "broken": 1, "skipped": 1}
