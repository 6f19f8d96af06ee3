"""The conformance report (YAML and JSON), in the shape of the Gateway API ``ConformanceReport``
(gateway-api ``conformance/apis/v1``): ``apiVersion``/``kind``, ``implementation`` (organization,
project, URL, version, contact), ``date``, ``mode`` and ``profiles``, each profile with a
``summary`` and its ``core`` status (``result``, ``statistics`` with ``Passed``/``Failed``/
``Skipped``, ``failedTests``, ``skippedTests``). Two profiles: ``CONTROL-PLANE`` (control plane,
validation and upgrade checks) and ``DATA-PLANE`` (injection and traffic); a profile no check of
which ran is left out, as Gateway API lists only the profiles a run enabled.

The suite's own fields follow: suite version, Istio releases (version, build, hub, tag),
Kubernetes and tool versions, the overall result, per-scenario entries with durations, the
stand-ins of a kwok-mode run and the traffic probe's figures during an upgrade.

Result rules, per profile, per scenario and for the whole run (as in Gateway API, plus one):
- ``success``: every check passed;
- ``success-with-known-issues``: every check passed but some failed only with the known
  upstream issues they were expected to show (suites/known_issues.yaml), each listed in the
  scenario's ``knownIssues`` with its id, consequence and workaround;
- ``partial``: no check failed, but some were skipped;
- ``failure``: at least one check failed or errored (a failing fixture is an error).
Statistics count ``KnownIssues`` (checks) beside Gateway API's ``Passed``/``Failed``/``Skipped``.
The writer validates the report against ``conformance-report.schema.json`` before writing it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from clusters.providers import capabilities_of
from reports.categories import classify
from reports.outcomes import KNOWN_ISSUE, CheckOutcome, group_by_scenario
from run.info import SUITE_NAME, RunInfo, stand_in_entry

SCHEMA_PATH = Path(__file__).resolve().parent / "conformance-report.schema.json"
API_VERSION = "conformance.eicp.istio.io/v1"
REPORT_STEM = "conformance-report"
_SEVERITY = {"passed": 0, KNOWN_ISSUE: 1, "skipped": 2, "failed": 3, "error": 4}
SUCCESS_WITH_KNOWN_ISSUES = "success-with-known-issues"
# checks bucket -> statistics key
BUCKETS = {"passed": "Passed", "failed": "Failed", "skipped": "Skipped", "knownIssue": "KnownIssues"}
NOT_APPLICABLE = "not applicable"
# Profile name -> the check families it holds (families are the checks' pytest markers).
PROFILES: dict[str, tuple[str, ...]] = {
    "CONTROL-PLANE": ("controlplane", "validation", "upgrade"),
    "DATA-PLANE": ("injection", "traffic"),
}
IMPLEMENTATION = {
    "organization": "istio",
    "project": "istio",
    "url": "https://istio.io/",
    "contact": ["https://github.com/istio/istio/issues"],
}


class ReportInvalid(ValueError):
    """The report does not match its schema: a bug in the writer, named precisely."""


def result_of(statistics: Mapping[str, int]) -> str:
    known = statistics.get("KnownIssues", 0)
    if statistics["Failed"]:
        return "failure"
    if statistics["Skipped"] or not (statistics["Passed"] or known):
        return "partial"
    return SUCCESS_WITH_KNOWN_ISSUES if known else "success"


def statistics_of(checks: Mapping[str, list[str]]) -> dict[str, int]:
    return {key: len(checks.get(bucket, [])) for bucket, key in BUCKETS.items()}


def check_label(outcome: CheckOutcome) -> str:
    return f"{outcome.identity.family}/{outcome.identity.check}"


def _scenario_entry(
    scenario: str, release: str, outcomes: list[CheckOutcome], diagnostics: str | None
) -> dict[str, Any]:
    worst: dict[str, CheckOutcome] = {}
    for outcome in outcomes:
        label = check_label(outcome)
        if label not in worst or _SEVERITY[outcome.outcome] > _SEVERITY[worst[label].outcome]:
            worst[label] = outcome
    checks: dict[str, list[str]] = {bucket: [] for bucket in BUCKETS}
    failures = []
    known_issues: list[dict[str, Any]] = []
    skip_reasons: dict[str, str] = {}
    for label, outcome in worst.items():
        bucket = {"error": "failed", KNOWN_ISSUE: "knownIssue"}.get(outcome.outcome, outcome.outcome)
        checks[bucket].append(label)
        if bucket == "knownIssue":
            known_issues += [known_issue_entry(label, outcome, issue) for issue in outcome.known_issues]
        if bucket == "skipped":
            skip_reasons[label] = outcome.message
        if bucket == "failed":
            failures.append(
                {
                    "check": label,
                    "family": outcome.identity.family,
                    "outcome": outcome.outcome,
                    "category": outcome.category or classify(outcome.message),
                    "message": outcome.message,
                }
            )
    statistics = statistics_of(checks)
    name = f"{scenario}-{release}" if release else scenario
    return {
        "name": name,
        "scenario": scenario,
        "istioVersion": release,
        "result": result_of(statistics),
        # Not applicable: nothing ran because the scenario does not apply to this release (a
        # skip that says so), as opposed to checks skipped for another reason.
        "applicable": bool(statistics["Passed"] or statistics["Failed"])
        or not all(NOT_APPLICABLE in reason.lower() for reason in skip_reasons.values()),
        "statistics": statistics,
        "checks": checks,
        "skipReasons": skip_reasons,
        "failures": failures,
        "knownIssues": known_issues,
        "durationSeconds": round(sum(outcome.total_duration for outcome in outcomes), 3),
        "checkDurationsSeconds": {
            check_label(outcome): round(outcome.call_duration, 3) for outcome in outcomes
        },
        "diagnostics": diagnostics,
    }


def known_issue_entry(label: str, outcome: CheckOutcome, issue: Mapping[str, Any]) -> dict[str, Any]:
    """One known issue a check of the scenario showed, as the table describes it."""
    return {
        "id": str(issue.get("id")),
        "title": str(issue.get("title", "")),
        "check": label,
        "affected": str(issue.get("affected", "")),
        "consequence": str(issue.get("consequence", "")),
        "workaround": str(issue.get("workaround", "")),
        "workaroundOption": issue.get("workaround_option"),
        "upstream": issue.get("upstream"),
        "message": outcome.message,
    }


def profile_of(family: str) -> str:
    return next((name for name, families in PROFILES.items() if family in families), "CONTROL-PLANE")


def profiles_of(scenarios: list[dict[str, Any]], families: Mapping[str, str]) -> list[dict[str, Any]]:
    """One Gateway-API-style profile report per profile that had checks; tests named
    ``<scenario>/<family>/<check>``."""
    profiles = []
    for name in PROFILES:
        tests: dict[str, list[str]] = {bucket: [] for bucket in BUCKETS}
        for scenario in scenarios:
            for bucket, labels in scenario["checks"].items():
                tests[bucket].extend(
                    f"{scenario['name']}/{label}" for label in labels if profile_of(families[label]) == name
                )
        if not any(tests.values()):
            continue
        statistics = statistics_of(tests)
        result = result_of(statistics)
        known = f", {statistics['KnownIssues']} with known issues" if statistics["KnownIssues"] else ""
        summary = (
            f"Core tests {'succeeded' if result == 'success' else result}: {statistics['Passed']} passed, "
            f"{statistics['Failed']} failed, {statistics['Skipped']} skipped{known}."
        )
        profiles.append(
            {
                "name": name,
                "summary": summary,
                "core": {
                    "result": result,
                    "statistics": statistics,
                    "failedTests": tests["failed"],
                    "skippedTests": tests["skipped"],
                    "knownIssueTests": tests["knownIssue"],
                },
            }
        )
    return profiles


def build_report(
    info: RunInfo,
    outcomes: Iterable[CheckOutcome],
    diagnostics: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The report as plain data; ``diagnostics`` maps scenario names to their diagnostics dir."""
    diagnostics = diagnostics or {}
    outcomes = list(outcomes)
    families = {check_label(outcome): outcome.identity.family for outcome in outcomes}
    # What the run noted (run/info.py RunFacts), else what is true of any run of its mode
    # (its provider's capabilities, clusters/providers.py).
    capabilities = capabilities_of(info.mode)
    stand_ins = [dict(entry) for entry in info.stand_ins] or [
        stand_in_entry(text) for text in (capabilities.stands_in if capabilities else ())
    ]
    scenarios = [
        _scenario_entry(
            scenario, release, items, diagnostics.get(f"{scenario}-{release}" if release else scenario)
        )
        for (scenario, release), items in group_by_scenario(outcomes).items()
    ]
    totals = {key: sum(entry["statistics"][key] for entry in scenarios) for key in BUCKETS.values()}
    by_result = {
        result: [s["name"] for s in scenarios if s["result"] == result]
        for result in ("success", SUCCESS_WITH_KNOWN_ISSUES, "partial", "failure")
    }
    issues = sorted({issue["id"] for s in scenarios for issue in s["knownIssues"]})
    summary = (
        f"{len(by_result['success'])} of {len(scenarios)} scenarios succeeded"
        + "".join(
            f"; {result}: {', '.join(names)}"
            for result, names in by_result.items()
            if names and result != "success"
        )
        + (f"; known issues: {', '.join(issues)}" if issues else "")
    )
    return {
        "apiVersion": API_VERSION,
        "kind": "ConformanceReport",
        "implementation": {**IMPLEMENTATION, "version": info.istio_build},
        "date": info.date,
        "mode": info.mode,
        "profiles": profiles_of(scenarios, families),
        "suite": {"name": SUITE_NAME, "version": info.suite_version},
        "istio": info.releases,
        "upgradeTo": info.upgrade_to,
        "kubernetesVersion": info.kubernetes_version,
        "kubernetesVersions": dict(info.kubernetes),
        "tools": dict(info.tools),
        "result": result_of(totals) if scenarios else "failure",
        "summary": summary if scenarios else "no conformance checks ran",
        "statistics": totals,
        "scenarios": scenarios,
        "standIns": stand_ins,
        "workarounds": [dict(entry) for entry in info.workarounds],
        "upgradeProbes": [dict(entry) for entry in info.upgrade_probes],
        **({"timeouts": info.timeouts} if info.timeouts else {}),
        "upgradeXdsProbes": [dict(entry) for entry in info.upgrade_xds_probes],
    }


@cache
def load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def validate(report: Mapping[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(
        load_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(report), key=lambda error: list(error.absolute_path))
    if errors:
        lines = [
            f"- {'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}" for error in errors
        ]
        raise ReportInvalid("conformance report does not match its schema:\n" + "\n".join(lines))


def write_report(report: Mapping[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Validate, then write ``conformance-report.yaml`` and ``.json``; return both paths."""
    validate(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    yaml_path = out_dir / f"{REPORT_STEM}.yaml"
    json_path = out_dir / f"{REPORT_STEM}.json"
    yaml_path.write_text(yaml.safe_dump(dict(report), sort_keys=False, allow_unicode=True))
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    return yaml_path, json_path
