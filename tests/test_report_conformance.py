"""Conformance report: result rules, schema validation, YAML/JSON writing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

from reports.conformance import ReportInvalid, build_report, result_of, validate, write_report
from reports.outcomes import CheckIdentity, CheckOutcome
from reports.probe_figures import upgrade_probe_entry
from run.info import RunFacts, RunInfo, build_run_info, stand_in_entry
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
    ("passed", "failed", "skipped", "known", "expected"),
    [
        (3, 0, 0, 0, "success"),
        (2, 0, 1, 0, "partial"),
        (2, 1, 0, 0, "failure"),
        (0, 1, 1, 0, "failure"),
        (0, 0, 0, 0, "partial"),
        (2, 0, 0, 1, "success-with-known-issues"),
        (0, 0, 0, 1, "success-with-known-issues"),
        (2, 0, 1, 1, "partial"),
        (2, 1, 0, 1, "failure"),
    ],
)
def test_result_rules(passed: int, failed: int, skipped: int, known: int, expected: str) -> None:
    statistics = {"Passed": passed, "Failed": failed, "Skipped": skipped, "KnownIssues": known}
    assert result_of(statistics) == expected


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


def test_gateway_api_shape_with_one_profile_per_plane() -> None:
    report = build_report(
        info(),
        [
            outcome("ip-passthrough", "test_istiod", "passed"),
            outcome("ip-passthrough", "test_webhook", "passed", "validation"),
            outcome("ip-passthrough", "test_sidecars", "passed", "injection"),
            outcome("ip-passthrough", "test_mesh", "failed", "traffic", "AssertionError: 503"),
            outcome("dns-tls", "test_istiod", "skipped", message="not on this release"),
            outcome("dns-tls", "test_mesh", "passed", "traffic"),
        ],
    )
    validate(report)
    # The keys of gateway-api conformance/apis/v1 ConformanceReport, in its order.
    assert list(report)[:6] == ["apiVersion", "kind", "implementation", "date", "mode", "profiles"]
    assert report["kind"] == "ConformanceReport"
    assert report["implementation"] == {
        "organization": "istio",
        "project": "istio",
        "url": "https://istio.io/",
        "contact": ["https://github.com/istio/istio/issues"],
        "version": info().istio_build,
    }
    control, data = report["profiles"]
    assert control == {
        "name": "CONTROL-PLANE",
        "summary": "Core tests partial: 2 passed, 0 failed, 1 skipped.",
        "core": {
            "result": "partial",
            "statistics": {"Passed": 2, "Failed": 0, "Skipped": 1, "KnownIssues": 0},
            "failedTests": [],
            "skippedTests": ["dns-tls-1.30.3/controlplane/test_istiod"],
            "knownIssueTests": [],
        },
    }
    assert data["name"] == "DATA-PLANE"
    assert data["core"]["result"] == "failure"
    assert data["core"]["statistics"] == {"Passed": 2, "Failed": 1, "Skipped": 0, "KnownIssues": 0}
    assert data["core"]["failedTests"] == ["ip-passthrough-1.30.3/traffic/test_mesh"]
    assert report["standIns"] == [] and report["upgradeProbes"] == []


def test_a_profile_without_checks_is_left_out_and_kwok_names_its_stand_ins() -> None:
    kwok = RunInfo(**{**info().__dict__, "mode": "kwok"})
    report = build_report(kwok, [outcome("ip-passthrough", "test_istiod", "passed")])
    validate(report)
    assert [profile["name"] for profile in report["profiles"]] == ["CONTROL-PLANE"]
    assert report["mode"] == "kwok"
    # Nothing noted: what every kwok run stands in for (its provider's capabilities).
    assert [entry["component"] for entry in report["standIns"]] == ["nodes, pods and their status"]
    noted = {"component": "LoadBalancer address", "standIn": "netns address", "role": "external"}
    report = build_report(
        RunInfo(**{**kwok.__dict__, "stand_ins": [noted]}), [outcome("ip-passthrough", "t", "passed")]
    )
    assert report["standIns"] == [noted]


class _Sample:
    def __init__(self, at: float, ok: bool) -> None:
        self.at, self.ok = at, ok


class _Probe:
    vantage = "remote/curl-1"
    url = "http://helloworld.sample:5000/hello"

    def __init__(self) -> None:
        # 10 requests per 5 s bucket from t=1000 for 30 s; 4 failures in the bucket at 1010.
        self.samples = [_Sample(1000 + i * 0.5, not (1010 <= 1000 + i * 0.5 < 1012)) for i in range(60)]


def test_upgrade_probe_figures_are_reported() -> None:
    worker, controller = RunFacts(), RunFacts()
    worker.note_upgrade_probe(
        upgrade_probe_entry("ip-passthrough-1.30.3", _Probe(), upgrade_window=(1005.0, 1020.0), min_ratio=0.9)
    )
    controller.merge(worker.export())  # the controller's view under xdist
    probes = controller.export()["upgradeProbes"]
    with_probes = RunInfo(**{**info().__dict__, "upgrade_probes": probes})
    report = build_report(with_probes, [outcome("ip-passthrough", "test_upgrade", "passed", "upgrade")])
    validate(report)
    [probe] = report["upgradeProbes"]
    assert (probe["requests"], probe["successes"], probe["ratio"], probe["minRatio"]) == (60, 56, 0.9333, 0.9)
    assert probe["upgradeWindow"] == {"start": 1005.0, "end": 1020.0}
    assert probe["series"][2] == {"at": 1010.0, "requests": 10, "successes": 6}
    assert sum(point["requests"] for point in probe["series"]) == 60


def test_all_partial_scenarios_make_a_partial_run() -> None:
    report = build_report(info(), [outcome("sail", "test_a", "passed"), outcome("sail", "test_b", "skipped")])
    assert report["result"] == "partial"


def test_schema_rejects_a_wrong_report() -> None:
    report = build_report(info(), [outcome("sail", "test_a", "passed")])
    report["scenarios"][0]["result"] = "mostly-fine"
    del report["tools"]["kind"]
    report["profiles"][0]["core"]["statistics"]["Passed"] = -1
    del report["implementation"]["url"]
    with pytest.raises(ReportInvalid) as raised:
        validate(report)
    message = str(raised.value)
    assert (
        "scenarios/0/result: 'mostly-fine' is not one of ['success', 'success-with-known-issues', 'partial', 'failure']"
        in message
    )
    assert "tools: 'kind' is a required property" in message
    assert "profiles/0/core/statistics/Passed: -1 is less than the minimum of 0" in message
    assert "implementation: 'url' is a required property" in message


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

    facts = RunFacts()
    facts.note_kubernetes_version("external", "v1.35.1")
    facts.note_kubernetes_version("remote", None)
    facts.note_tool("kind", "v0.33.0", source="cache")
    built = build_run_info(
        pytestconfig.stash[SUITE_CONFIG], now=dt.datetime(2026, 5, 6, 7, 8, 9, tzinfo=dt.UTC), facts=facts
    )
    assert built.date == "2026-05-06T07:08:09Z"
    assert built.tools["kind"] == "v0.33.0 (cache)"
    assert built.tools["cloud-provider-kind"] == load_pins().tools["cloud-provider-kind"]["version"]
    assert built.kubernetes == {"external": "v1.35.1", "remote": "unknown"}
    assert built.suite_version == "0.1.0"


def test_a_scenario_skipped_as_not_applicable_says_so() -> None:
    reason = "scenario sail is not applicable to Istio 1.30.3: no Sail Operator chart installs it"
    report = build_report(
        info(),
        [
            outcome("sail", "test_a", "skipped", message=reason),
            outcome("sail", "test_b", "skipped", "traffic", message=reason),
            outcome("dns-tls", "test_a", "skipped", message="no LoadBalancer support here"),
            outcome("ip-passthrough", "test_a", "passed"),
        ],
    )
    validate(report)
    sail, dns, ip = report["scenarios"]
    assert (sail["applicable"], dns["applicable"], ip["applicable"]) == (False, True, True)
    assert sail["result"] == "partial"  # Gateway API's result; applicability is said apart
    assert sail["skipReasons"] == {"controlplane/test_a": reason, "traffic/test_b": reason}


NOTE_FACTS = """
    from types import SimpleNamespace as _Probe

    from reports.probe_figures import upgrade_probe_entry

    run_facts.note_stand_in("LoadBalancer address", f"netns address for {scenario_id}", role="external")
    samples = [_Probe(at=100.0 + i, ok=i != 3) for i in range(10)]
    probe = _Probe(vantage="remote/curl", url="http://h:5000", samples=samples)
    run_facts.note_upgrade_probe(upgrade_probe_entry(label, probe, min_ratio=0.9))
"""


@pytest.mark.slow
def test_xdist_workers_send_stand_ins_and_probe_figures_to_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Layer 4: the report plugin in a child pytest under xdist carries what the workers noted."""
    from programs.runner import CommandRunner
    from tests import report_fake_suite as fake_suite
    from tests.fakeexec import FakeTools

    anchor = '    return SimpleNamespace(topology=topology, namespaces_by_role={"remote": ["sample"]})\n'
    assert anchor in fake_suite.CONFTEST
    monkeypatch.setattr(fake_suite, "CONFTEST", fake_suite.CONFTEST.replace(anchor, NOTE_FACTS + anchor))
    run = fake_suite.run_fake_suite(
        tmp_path, FakeTools(tmp_path / "fake"), CommandRunner(default_timeout_s=120), extra=("-n", "2")
    )
    assert run.returncode == 1, run.output  # the fake suite's one failing check
    report = json.loads((run.report_dir / "conformance-report.json").read_text())
    validate(report)
    scenarios = sorted(entry["scenario"] for entry in report["scenarios"])
    assert sorted(entry["standIn"] for entry in report["standIns"]) == [
        f"netns address for {scenario}" for scenario in scenarios
    ]
    probes = sorted(report["upgradeProbes"], key=lambda probe: probe["scenario"])
    # Without --dist loadgroup a scenario's session fixture may run on both workers: a probe each.
    assert {probe["scenario"] for probe in probes} == {entry["name"] for entry in report["scenarios"]}
    assert {(probe["requests"], probe["successes"], probe["ratio"]) for probe in probes} == {(10, 9, 0.9)}
    assert "Traffic during the upgrade" in (run.report_dir / "summary.html").read_text()


def test_the_cluster_providers_stand_ins_are_reported() -> None:
    kwok = RunInfo(
        **{
            **info().__dict__,
            "mode": "kwok",
            "stand_ins": [
                stand_in_entry("LoadBalancer addresses (network-namespace hosts)"),
                stand_in_entry(
                    "nodes (kwok: no kubelet, no container runtime; pods get a status, never containers)"
                ),
            ],
        }
    )
    report = build_report(kwok, [outcome("ip-passthrough", "test_istiod", "passed")])
    validate(report)
    assert report["standIns"] == [
        {"component": "LoadBalancer addresses", "standIn": "network-namespace hosts", "role": None},
        {
            "component": "nodes",
            "standIn": "kwok: no kubelet, no container runtime; pods get a status, never containers",
            "role": None,
        },
    ]


def test_an_istio_source_is_reported_as_a_source_with_its_xds_probe() -> None:
    from dataclasses import replace

    from clusters.upgrade_xds_probe import XdsProbeResult
    from fixtures.reports_plugin import xds_probe_entry
    from reports.html import _xds_probes
    from run.info import release_entry
    from tests.istio_sources_data import MASTER_SOURCE, RELEASE_SOURCE

    pins = load_pins()
    a, b = pins.source_release(MASTER_SOURCE), pins.source_release(RELEASE_SOURCE)
    result = XdsProbeResult(
        vantage="remote sample/curl-1", cluster="outbound|5000||helloworld.sample.svc.cluster.local",
        wanted="helloworld v1 endpoints", window=(100.0, 160.0), streams_opened=1, longest_gap_s=3.9,
        gap=(120.0, 123.9), switchovers=((b.tag, 3.0),), bound_s=9.0, bound_basis="3.0s + 2 x 0.5s + 5s",
        ended_good=True, ended_on=b.tag, target_tag=b.tag, syncz=None,
    )  # fmt: skip
    run = replace(
        info(), mode="kwok", releases=[release_entry(a)], upgrade_to=release_entry(b),
        upgrade_xds_probes=[xds_probe_entry("ip-passthrough-1.31-source-b01690e6", result)],
    )  # fmt: skip
    assert run.istio_version == "1.31 source b01690e6 (master), 2026-04-23"  # never "1.31" alone
    report = build_report(run, [outcome("ip-passthrough", "test_upgrade", "passed", "upgrade")])
    validate(report)
    assert report["implementation"]["version"] == "1.31 source b01690e6 (master), 2026-04-23"
    assert report["istio"][0]["source"] == {
        "spec": "istio.io/istio@v0.0.0-20260423205519-b01690e6db7d", "kind": "module", "revision": "b01690e6db7d",
        "branch": "master", "committed": "2026-04-23", "dirty": False, "stamp": "1.31-dev.b01690e6db7d",
    }  # fmt: skip
    assert report["upgradeTo"]["build"] == "1.31 source eed52ebb (release-1.31), 2026-08-27"
    [probe] = report["upgradeXdsProbes"]
    assert (probe["longestGapSeconds"], probe["boundSeconds"], probe["endedOn"]) == (3.9, 9.0, b.tag)
    assert "stand-in" not in probe["standIn"] and "no request is sent" in probe["standIn"]
    html = _xds_probes(report["upgradeXdsProbes"])
    assert "Stand-in: the upgrade&#x27;s background traffic probe" in html and "3.9 s" in html
    # A source named as a release is refused by the report's own schema, whatever wrote it.
    as_release = "1.31.1 (custom docker.io/istio:1.31-dev.b01690e6db7d)"
    for broken, where in (
        ({**report, "istio": [{**report["istio"][0], "build": as_release}]}, "istio/0/build"),
        ({**report, "upgradeTo": {**report["upgradeTo"], "build": as_release}}, "- upgradeTo: "),
    ):
        with pytest.raises(ReportInvalid, match=where):
            validate(broken)
