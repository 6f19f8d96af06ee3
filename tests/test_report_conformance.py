"""Conformance report: result rules, schema validation, YAML/JSON writing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

from reports.conformance import ReportInvalid, build_report, result_of, validate, write_report
from reports.outcomes import CheckIdentity, CheckOutcome
from run.info import RunInfo, build_run_info
from scenarios.releases import load_pins


def info() -> RunInfo:
    release = load_pins().resolve_release("1.30")
    return RunInfo(
        suite_version="0.1.0",
        date="2026-01-02T03:04:05Z",
        mode="existing",
        releases=[
            {
                "version": "1.30.3",
                "build": release.label,
                "hub": release.hub,
                "tag": "1.30.3",
                "custom": False,
            }
        ],
        upgrade_to=None,
        kubernetes={"external": "v1.34.0", "remote": "v1.33.2"},
        tools={"kind": "v0.33.0", "cloud-provider-kind": "v0.10.0"},
    )


def outcome(
    scenario: str, check: str, result: str, family: str = "controlplane", message: str = ""
) -> CheckOutcome:
    return CheckOutcome(
        CheckIdentity(scenario, "1.30.3", family, check),
        nodeid=f"suites/test_x.py::{check}[{scenario}-1.30.3]",
        outcome=result,
        call_duration=1.5,
        total_duration=2.0,
        message=message,
    )


@pytest.mark.parametrize(
    ("passed", "failed", "skipped", "expected"),
    [
        (3, 0, 0, "success"),
        (2, 0, 1, "partial"),
        (2, 1, 0, "failure"),
        (0, 1, 1, "failure"),
        (0, 0, 0, "partial"),
    ],
)
def test_result_rules(passed: int, failed: int, skipped: int, expected: str) -> None:
    assert result_of({"Passed": passed, "Failed": failed, "Skipped": skipped}) == expected


def test_report_per_scenario_and_overall() -> None:
    report = build_report(
        info(),
        [
            outcome("ip-passthrough", "test_a", "passed"),
            outcome("ip-passthrough", "test_b", "passed", "traffic"),
            outcome("dns-tls", "test_a", "passed"),
            outcome(
                "dns-tls",
                "test_b",
                "error",
                "traffic",
                "EnvironmentFault: no LoadBalancer address after 300s",
            ),
            outcome("sail", "test_a", "skipped"),
            outcome("sail", "test_b", "passed", "traffic"),
        ],
        {"dns-tls-1.30.3": "diagnostics/dns-tls-1.30.3"},
    )
    validate(report)
    results = {entry["name"]: entry["result"] for entry in report["scenarios"]}
    assert results == {
        "ip-passthrough-1.30.3": "success",
        "dns-tls-1.30.3": "failure",
        "sail-1.30.3": "partial",
    }
    assert report["result"] == "failure"
    assert report["summary"] == "1 of 3 scenarios succeeded; partial: sail-1.30.3; failure: dns-tls-1.30.3"
    dns = report["scenarios"][1]
    assert dns["failures"] == [
        {
            "check": "traffic/test_b",
            "family": "traffic",
            "outcome": "error",
            "category": "environment",
            "message": "EnvironmentFault: no LoadBalancer address after 300s",
        }
    ]
    assert dns["durationSeconds"] == 4.0
    assert dns["checkDurationsSeconds"] == {"controlplane/test_a": 1.5, "traffic/test_b": 1.5}
    assert report["kubernetesVersion"] == "external=v1.34.0, remote=v1.33.2"


def test_all_partial_scenarios_make_a_partial_run() -> None:
    report = build_report(info(), [outcome("sail", "test_a", "passed"), outcome("sail", "test_b", "skipped")])
    assert report["result"] == "partial"


def test_schema_rejects_a_wrong_report() -> None:
    report = build_report(info(), [outcome("sail", "test_a", "passed")])
    report["scenarios"][0]["result"] = "mostly-fine"
    del report["tools"]["kind"]
    with pytest.raises(ReportInvalid) as raised:
        validate(report)
    message = str(raised.value)
    assert "scenarios/0/result: 'mostly-fine' is not one of ['success', 'partial', 'failure']" in message
    assert "tools: 'kind' is a required property" in message


def test_writer_validates_then_writes_yaml_and_json(tmp_path: Path) -> None:
    report = build_report(info(), [outcome("sail", "test_a", "passed")])
    yaml_path, json_path = write_report(report, tmp_path)
    assert yaml.safe_load(yaml_path.read_text()) == json.loads(json_path.read_text()) == report
    report["mode"] = "minikube"
    with pytest.raises(ReportInvalid):
        write_report(report, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_run_info_from_suite_config(pytestconfig: pytest.Config) -> None:
    from fixtures.options import SUITE_CONFIG
    from run import info as runinfo

    runinfo.reset()
    try:
        runinfo.note_kubernetes_version("external", "v1.35.1")
        runinfo.note_kubernetes_version("remote", None)
        runinfo.note_tool("kind", "v0.33.0", source="cache")
        built = build_run_info(
            pytestconfig.stash[SUITE_CONFIG], now=dt.datetime(2026, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
        )
    finally:
        runinfo.reset()
    assert built.date == "2026-05-06T07:08:09Z"
    assert built.tools["kind"] == "v0.33.0 (cache)"
    assert built.tools["cloud-provider-kind"] == "v0.10.0"
    assert built.kubernetes == {"external": "v1.35.1", "remote": "unknown"}
    assert built.suite_version == "0.1.0"
