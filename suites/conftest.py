"""Fixtures shared by the conformance checks (the reader for the scenario under test, judging) and
the checks each scenario must run (suites/registry.py). Which checks may run on this topology is
decided once, at collection (suites/applicability.py, applied by fixtures/scenario_plugin.py)."""

from __future__ import annotations

import json

import pytest

from clusters.providers import capabilities_of
from programs.redaction import Redactor
from scenarios.facts import Facts
from suites.evaluation.evaluators.verdict import Verdict, diagnostics_hint
from suites.evaluation.known import PROP_KNOWN_ISSUE, KnownIssueReproduced, expected_issues
from suites.evaluation.readers import InstalledScenarioLike, Observer
from suites.evaluation.reporting import Judge, judge
from suites.registry import check_id, required_checks


@pytest.fixture
def observer(installed_scenario: InstalledScenarioLike) -> Observer:
    return Observer.of(installed_scenario)


@pytest.fixture
def diagnostics(installed_scenario: InstalledScenarioLike) -> str:
    return diagnostics_hint(installed_scenario.diagnostics_dir)


@pytest.fixture
def verdict_of(
    request: pytest.FixtureRequest, redactor: Redactor, installed_scenario: InstalledScenarioLike
) -> Judge:
    """Call with a verdict: records its facts, and on failure attaches its evidence and fails the
    test. A check whose known issues (suites/known_issues.yaml) reproduce for this scenario is a
    strict expected failure that only those issues satisfy; each one travels with its reports."""
    name = getattr(request.node, "originalname", request.node.name)
    exp = installed_scenario.expectations
    expected = expected_issues(check_id(name), exp, installed_scenario.release.version)
    if expected:
        reason = "; ".join(f"known issue {issue.id}: {issue.title}" for issue in expected)
        request.applymarker(pytest.mark.xfail(strict=True, raises=KnownIssueReproduced, reason=reason))
        for issue in expected:
            request.node.user_properties.append((PROP_KNOWN_ISSUE, json.dumps(issue.report())))

    def apply(verdict: Verdict) -> None:
        judge(verdict, redactor, request.node, expected, exp)

    return apply


def pytest_eicp_required_checks(
    config: pytest.Config, scenarios: list[str], upgrade: bool
) -> dict[str, list[tuple[str, str]]]:
    """What each scenario must run for ``success``: the check registry's required set."""
    capabilities = capabilities_of(config.getoption("topology_mode", "") or "")
    # The user's choices that decide which optional parts of the guide a scenario installs.
    facts = Facts(egress_gateway=config.getoption("egress_gateway", None) or Facts.egress_gateway)
    return {scenario: required_checks(scenario, upgrade, capabilities, facts) for scenario in scenarios}
