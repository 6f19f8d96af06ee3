"""The nightly fan-in: per-job conformance reports (success, partial, failure, not applicable,
and a kwok control-plane job) merged with a previous merged report into the release-level
report, the regression list, the Markdown step summary and the HTML matrix."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from programs.runner import CommandRunner
from reports import merge
from reports.conformance import build_report, write_report
from reports.outcomes import CheckIdentity, CheckOutcome
from run.info import RunInfo
from tests.report_support import TagCollector, chromium_screenshot, decode_png, keep_artifact

NA = "scenario sail is not applicable to Istio 1.30.5: no published Sail Operator chart installs it"
CP = ("controlplane", "test_external_istiod_available")
WEBHOOKS = ("controlplane", "test_remote_webhook_configurations")
MESH = ("traffic", "test_mesh_traffic_from_each_client")


def run_info(version: str, mode: str = "kind") -> RunInfo:
    return RunInfo(
        suite_version="0.1.0",
        date="2026-12-01T02:00:00Z",
        mode=mode,
        releases=[
            {
                "version": version,
                "build": version,
                "hub": "registry.istio.io/release",
                "tag": version,
                "custom": False,
            }
        ],
        upgrade_to=None,
        kubernetes={"external": "v1.35.1", "remote": "v1.35.1"},
        tools={"kind": "v0.33.0", "cloud-provider-kind": "v0.10.0"},
    )


def job(
    root: Path,
    name: str,
    version: str,
    scenario: str,
    results: dict[tuple[str, str], str],
    mode: str = "kind",
) -> Path:
    outcomes = [
        CheckOutcome(
            CheckIdentity(scenario, version, family, check),
            nodeid=f"suites/test_{family}.py::{check}[{scenario}-{version}]",
            outcome=outcome,
            call_duration=1.0,
            total_duration=3.0,
            message=NA
            if outcome == "skipped" and scenario == "sail"
            else ("boom" if outcome == "failed" else ""),
        )
        for (family, check), outcome in results.items()
    ]
    write_report(build_report(run_info(version, mode), outcomes), root / name)
    return root / name


def tonight(root: Path) -> Path:
    artifacts = root / "artifacts"
    job(
        artifacts,
        "eicp-1.30-ip-passthrough",
        "1.30.5",
        "ip-passthrough",
        {CP: "passed", WEBHOOKS: "passed", MESH: "passed"},
    )
    job(
        artifacts,
        "eicp-1.30-dns-tls",
        "1.30.5",
        "dns-tls",
        {CP: "passed", WEBHOOKS: "passed", MESH: "failed"},
    )
    job(artifacts, "eicp-1.30-sail", "1.30.5", "sail", {CP: "skipped", WEBHOOKS: "skipped", MESH: "skipped"})
    job(
        artifacts,
        "eicp-1.31-ip-passthrough",
        "1.31.0",
        "ip-passthrough",
        {CP: "passed", WEBHOOKS: "passed", MESH: "skipped"},
    )
    job(
        artifacts,
        "eicp-kwok-1.31",
        "1.31.0",
        "ip-passthrough",
        {CP: "passed", WEBHOOKS: "passed"},
        mode="kwok",
    )
    (artifacts / "eicp-kwok-1.31" / "summary.html").write_text("<html></html>")  # linked instead of the dir
    return artifacts


def last_night(root: Path) -> Path:
    artifacts = root / "previous-artifacts"
    job(
        artifacts,
        "eicp-1.30-dns-tls",
        "1.30.4",
        "dns-tls",
        {CP: "passed", WEBHOOKS: "passed", MESH: "passed"},
    )
    job(
        artifacts,
        "eicp-1.31-ip-passthrough",
        "1.31.0",
        "ip-passthrough",
        {CP: "passed", WEBHOOKS: "passed", MESH: "passed"},
    )
    job(
        artifacts,
        "eicp-kwok-1.31",
        "1.31.0",
        "ip-passthrough",
        {CP: "passed", WEBHOOKS: "failed"},
        mode="kwok",
    )
    previous = merge.merge(
        merge.load_jobs(merge.find_reports([artifacts]), root, None),
        None,
        now=dt.datetime(2026, 11, 30, 4, 0, tzinfo=dt.UTC),
    )
    path = root / "previous" / "merged-report.json"
    merge.write(previous, path.parent)
    return path


@pytest.fixture
def merged_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, Any], str]:
    artifacts = tonight(tmp_path)
    previous = last_night(tmp_path)
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = tmp_path / "merged"
    assert merge.main([str(artifacts), "--previous", str(previous), "--out", str(out)]) == 0
    merged = json.loads((out / "merged-report.json").read_text())
    return out, merged, summary.read_text()


def test_merged_result_per_release_and_job(merged_run: tuple[Path, dict[str, Any], str]) -> None:
    _out, merged, _summary = merged_run
    merge.validate_merged(merged)
    assert merged["kind"] == "MergedConformanceReport" and merged["result"] == "failure"
    releases = {entry["release"]: entry for entry in merged["releases"]}
    assert list(releases) == ["1.30", "1.31"]
    r130, r131 = releases["1.30"], releases["1.31"]
    assert r130["result"] == "failure" and r131["result"] == "partial"
    assert {(e["scenario"], e["mode"]): e["result"] for e in r130["scenarios"]} == {
        ("ip-passthrough", "kind"): "success",
        ("dns-tls", "kind"): "failure",
        ("sail", "kind"): "not-applicable",
    }
    assert {(e["scenario"], e["mode"]): e["result"] for e in r131["scenarios"]} == {
        ("ip-passthrough", "kind"): "partial",
        ("ip-passthrough", "kwok"): "success",
    }
    assert r130["implementation"]["version"] == "1.30.5"
    data_plane = next(p for p in r130["profiles"] if p["name"] == "DATA-PLANE")
    assert data_plane["core"]["failedTests"] == ["dns-tls-1.30.5/traffic/test_mesh_traffic_from_each_client"]
    outcomes = Counter(cell["outcome"] for cell in merged["cells"])
    assert outcomes == {"passed": 9, "failed": 1, "skipped": 1, "not-applicable": 3}
    assert [job["name"] for job in merged["jobs"]] == sorted(job["name"] for job in merged["jobs"])
    link = next(e["link"] for e in r130["scenarios"] if e["scenario"] == "dns-tls")
    assert link == "../artifacts/eicp-1.30-dns-tls"


def test_regressions_fixed_and_changed_cells(merged_run: tuple[Path, dict[str, Any], str]) -> None:
    _out, merged, _summary = merged_run
    change = merged["changes"]
    assert change["previousDate"] == "2026-11-30T04:00:00Z"
    keys = {
        kind: [(c["release"], c["mode"], c["scenario"], c["check"]) for c in change[kind]]
        for kind in change
        if kind != "previousDate"
    }
    # Keyed by minor: 1.30.4 last night and 1.30.5 tonight are the same row.
    assert keys["regressions"] == [("1.30", "kind", "dns-tls", "traffic/test_mesh_traffic_from_each_client")]
    assert keys["fixed"] == [
        ("1.31", "kwok", "ip-passthrough", "controlplane/test_remote_webhook_configurations")
    ]
    assert sorted(keys["changed"]) == sorted(
        [
            *keys["regressions"],
            *keys["fixed"],
            ("1.31", "kind", "ip-passthrough", "traffic/test_mesh_traffic_from_each_client"),
        ]
    )


def test_step_summary_lists_regressions_first(merged_run: tuple[Path, dict[str, Any], str]) -> None:
    out, _merged, summary = merged_run
    assert summary.startswith("earlier step\n## Nightly conformance: failure\n")
    assert summary.index("Regressions (passed → failed): 1") < summary.index("Fixed (failed → passed): 1")
    assert summary.index("Fixed (failed → passed): 1") < summary.index("| Release | Scenario |")
    assert "- `1.30` kind dns-tls `traffic/test_mesh_traffic_from_each_client`" in summary
    assert (
        "`1.31` kind ip-passthrough `traffic/test_mesh_traffic_from_each_client`: passed → skipped" in summary
    )
    assert (
        "| 1.30 | sail | kind | not-applicable | 0 | 0 | 3 | 0 | [eicp-1.30-sail](../artifacts/eicp-1.30-sail) |"
        in summary
    )
    assert (out / "summary.md").read_text() == summary.removeprefix("earlier step\n")


def test_html_matrix_changes_first_and_links_to_jobs(merged_run: tuple[Path, dict[str, Any], str]) -> None:
    out, _merged, _summary = merged_run
    html = (out / "nightly.html").read_text()
    page = TagCollector()
    page.feed(html)
    ids = [attrs["id"] for _tag, attrs in page.tags if attrs.get("id")]
    assert ids == ["regressions", "fixed", "changed"]
    assert html.index('id="regressions"') < html.index("pass/fail per release") < html.index('class="matrix"')
    links = [str(attrs["href"]) for tag, attrs in page.tags if tag == "a"]
    assert sorted(links) == sorted(
        f"../artifacts/{name}"
        for name in (
            "eicp-1.30-ip-passthrough",
            "eicp-1.30-dns-tls",
            "eicp-1.30-sail",
            "eicp-1.31-ip-passthrough",
            "eicp-kwok-1.31/summary.html",
        )
    )
    cells = Counter(
        attrs["class"] for tag, attrs in page.tags if tag == "td" and "cell" in (attrs.get("class") or "")
    )
    assert cells == {
        "cell pass": 8,
        "cell fail regressed": 1,
        "cell na": 3,
        "cell skip": 1,
        "cell pass fixed": 1,
        "cell none": 1,
    }
    bars = [attrs["class"] for tag, attrs in page.tags if tag == "rect"]
    assert bars == ["bar-passed", "bar-failed", "bar-not-applicable", "bar-passed", "bar-skipped"]


def test_bad_input_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "eicp-x" / "conformance-report.json"
    broken.parent.mkdir()
    broken.write_text(json.dumps({"kind": "ConformanceReport"}))
    assert merge.main([str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "'apiVersion' is a required property" in capsys.readouterr().err
    assert merge.main([str(tmp_path / "empty-dir-missing")]) == 2
    assert not (tmp_path / "out").exists()


# Colours of reports/merge_html.py: the per-release bars and the matrix cells (reports/html.py).
BAR_PASSED, BAR_FAILED, BAR_NA = (67, 160, 71), (229, 57, 53), (215, 204, 200)
FAIL_CELL, PASS_CELL = (255, 205, 210), (200, 230, 201)
REGRESSED_OUTLINE = (183, 28, 28)


@pytest.mark.realtools
def test_merged_html_screenshot_shows_bars_matrix_and_the_regression(
    merged_run: tuple[Path, dict[str, Any], str],
    tmp_path: Path,
    runner: CommandRunner,
    pytestconfig: pytest.Config,
) -> None:
    out, _merged, _summary = merged_run
    shot = tmp_path / "nightly.png"
    chromium_screenshot(
        runner, (out / "nightly.html").as_uri(), tmp_path, screenshot=shot, window="1400,1800"
    )
    keep_artifact(pytestconfig, shot)
    width, height, pixels = decode_png(shot.read_bytes())
    colours = Counter(pixels)
    assert (width, height) == (700, 900)
    # Two release bars: 1.30 with passed, failed and n/a parts; 1.31 with passed (and skipped).
    for colour in (BAR_PASSED, BAR_FAILED, BAR_NA):
        assert colours[colour] > 100, (colour, colours.most_common(12))
    rows_with = {
        colour: {i // width for i, p in enumerate(pixels) if p == colour}
        for colour in (BAR_PASSED, BAR_FAILED)
    }
    assert min(rows_with[BAR_FAILED]) >= min(rows_with[BAR_PASSED])  # the failed part is on a bar
    # The matrix: passed cells, and the regressed cell outlined.
    assert colours[PASS_CELL] > 8 * 30 and colours[FAIL_CELL] > 10 and colours[REGRESSED_OUTLINE] > 10


def test_the_command_line_entry_point(tmp_path: Path, runner: CommandRunner) -> None:
    artifacts = tonight(tmp_path)
    out = tmp_path / "merged"
    result = runner.run(
        [
            sys.executable,
            "-m",
            "reports.merge",
            str(artifacts),
            "--previous",
            str(tmp_path / "none.json"),
            "--out",
            str(out),
        ],
        cwd=Path(__file__).resolve().parent.parent,
        env={"GITHUB_STEP_SUMMARY": ""},
    )
    assert result.stdout.split() == [
        str(out / name) for name in ("merged-report.json", "merged-report.yaml", "nightly.html", "summary.md")
    ]
    assert f"no previous merged report at {tmp_path / 'none.json'}" in result.stderr
    assert "No previous merged report: nothing to compare with." in (out / "summary.md").read_text()


def test_a_known_issue_is_a_cell_of_its_own_and_failing_after_it_is_a_regression(tmp_path: Path) -> None:
    clusters = ("controlplane", "test_istiod_registers_exactly_the_scenario_clusters")
    before_dir = job(
        tmp_path / "before",
        "eicp-kwok-1.31",
        "1.31.1",
        "second-remote",
        {CP: "passed", clusters: "known-issue"},
        "kwok",
    )
    before = merge.merge(merge.load_jobs([before_dir / "conformance-report.json"], tmp_path, None), None)
    merge.validate_merged(before)
    assert before["releases"][0]["result"] == "success-with-known-issues"
    cell = next(c for c in before["cells"] if c["check"] == "/".join(clusters))
    assert cell["outcome"] == "known-issue"
    after_dir = job(
        tmp_path / "after",
        "eicp-kwok-1.31",
        "1.31.1",
        "second-remote",
        {CP: "passed", clusters: "failed"},
        "kwok",
    )
    after = merge.merge(merge.load_jobs([after_dir / "conformance-report.json"], tmp_path, None), before)
    assert [(c["check"], c["before"], c["after"]) for c in after["changes"]["regressions"]] == [
        ("/".join(clusters), "known-issue", "failed")
    ]
    assert "| 1.31 | second-remote | kwok | failure | 1 | 1 | 0 | 0 |" in merge.markdown(after)
