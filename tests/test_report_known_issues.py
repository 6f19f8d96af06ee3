"""A known issue through every report of a real pytest run (the reports plugin, JUnit, Allure,
the conformance report, the HTML summary), from what a check's ``verdict_of`` leaves on the test:
the strict xfail mark carrying the issue, its table entry as a user property, the raise.

The fake suite of tests/report_fake_suite.py runs three scenarios; in ip-passthrough one check
shows the known issue config-cluster-registered-twice. The run exits 0, the scenario's result is
success-with-known-issues with the issue listed, and no diagnostics are collected for it.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from programs.runner import CommandRunner
from tests.fakeexec import FakeTools
from tests.report_fake_suite import V30, FakeRun, run_fake_suite

ISSUE = "config-cluster-registered-twice"
CHECKS = """
import json

import pytest

from suites.evaluation.known import PROP_KNOWN_ISSUE, KnownIssueReproduced, table


@pytest.mark.controlplane
def test_external_istiod_available(installed_scenario, scenario_id, release):
    assert installed_scenario.topology.has("external")


@pytest.mark.controlplane
def test_istiod_registers_exactly_the_scenario_clusters(installed_scenario, scenario_id, release, request):
    if scenario_id != "ip-passthrough":
        return
    # What suites/conftest.py's verdict_of does where the table expects the issue, and judge()
    # when the check found it.
    issue = table()["config-cluster-registered-twice"]
    reason = f"known issue {issue.id}: {issue.title}"
    request.applymarker(pytest.mark.xfail(strict=True, raises=KnownIssueReproduced, reason=reason))
    request.node.user_properties.append((PROP_KNOWN_ISSUE, json.dumps(issue.report())))
    raise KnownIssueReproduced(f"known issue {issue.id} reproduces (an expected failure)")
"""


@pytest.fixture(scope="module")
def known_run(tmp_path_factory: pytest.TempPathFactory) -> FakeRun:
    root = tmp_path_factory.mktemp("known")
    return run_fake_suite(root, FakeTools(root / "fake"), CommandRunner(default_timeout_s=120), checks=CHECKS)


def test_the_run_passes_with_the_known_issue_in_every_report(known_run: FakeRun) -> None:
    assert known_run.returncode == 0, known_run.output
    assert "5 passed, 1 xfailed" in known_run.output
    label = f"ip-passthrough-{V30}"
    # JUnit: an xfail, its reason naming the issue.
    junit = ET.parse(known_run.report_dir / "junit.xml")  # noqa: S314 -- our own run's output
    cases = {c.get("name"): c for c in junit.getroot().iter("testcase")}
    skipped = cases[f"test_istiod_registers_exactly_the_scenario_clusters[{label}]"].find("skipped")
    assert skipped is not None and skipped.get("type") == "pytest.xfail"
    assert (skipped.get("message") or "").startswith(f"known issue {ISSUE}: ")
    # The conformance report.
    report = json.loads((known_run.report_dir / "conformance-report.json").read_text())
    scenario = next(s for s in report["scenarios"] if s["name"] == label)
    assert scenario["result"] == "success-with-known-issues"
    assert scenario["checks"]["knownIssue"] == [
        "controlplane/test_istiod_registers_exactly_the_scenario_clusters"
    ]
    assert [(i["id"], i["workaroundOption"]) for i in scenario["knownIssues"]] == [
        (ISSUE, "unlabelled-config-secret")
    ]
    assert scenario["diagnostics"] is None and not (known_run.report_dir / "diagnostics" / label).exists()
    assert report["result"] == "success-with-known-issues" and f"known issues: {ISSUE}" in report["summary"]
    # The HTML summary.
    page = (known_run.report_dir / "summary.html").read_text()
    assert "<h2>Known issues</h2>" in page and f"<b>{ISSUE}</b>" in page
    # Allure: skipped with the XFAIL message, and the category that matches it.
    results = [json.loads(p.read_text()) for p in Path(known_run.alluredir).glob("*-result.json")]
    xfailed = next(
        r for r in results if r["name"] == f"test_istiod_registers_exactly_the_scenario_clusters[{label}]"
    )
    assert xfailed["status"] == "skipped"
    assert xfailed["statusDetails"]["message"].startswith(f"XFAIL known issue {ISSUE}: ")
    categories = json.loads((Path(known_run.alluredir) / "categories.json").read_text())
    assert any(c["name"] == "Known issues (expected failures)" for c in categories)
