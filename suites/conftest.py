"""Fixtures shared by the conformance checks (the reader for the scenario under test, judging) and
the checks each scenario must run (suites/registry.py)."""

from __future__ import annotations

import json

import pytest

from programs.redaction import Redactor
from suites.evaluation.evaluators.verdict import Verdict, diagnostics_hint
from suites.evaluation.known import PROP_KNOWN_ISSUE, KnownIssueReproduced, expected_issues
from suites.evaluation.readers import InstalledScenarioLike, Observer
from suites.evaluation.reporting import Judge, judge
from suites.registry import check_id, other_mode_only, required_checks


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
    mode = config.getoption("topology_mode", None)
    return {scenario: required_checks(scenario, upgrade, mode) for scenario in scenarios}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Checks of another topology mode (suites/registry.py ``MODE_ONLY``) are deselected."""
    mode = config.getoption("topology_mode", None)
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        name = getattr(item, "originalname", item.name)
        families = [mark.name for mark in item.iter_markers()]
        other = any(other_mode_only((family, name), mode) for family in families)
        (drop if other else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
