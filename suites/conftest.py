"""Fixtures shared by the conformance checks (the reader for the scenario under test, judging) and
the checks each scenario must run (suites/registry.py)."""

from __future__ import annotations

import pytest

from programs.redaction import Redactor
from suites.evaluation.evaluators.verdict import Verdict, diagnostics_hint
from suites.evaluation.readers import InstalledScenarioLike, Observer
from suites.evaluation.reporting import Judge, judge
from suites.registry import required_checks


@pytest.fixture
def observer(installed_scenario: InstalledScenarioLike) -> Observer:
    return Observer.of(installed_scenario)


@pytest.fixture
def diagnostics(installed_scenario: InstalledScenarioLike) -> str:
    return diagnostics_hint(installed_scenario.diagnostics_dir)


@pytest.fixture
def verdict_of(request: pytest.FixtureRequest, redactor: Redactor) -> Judge:
    """Call with a verdict: records its facts, and on failure attaches its evidence and fails the test."""

    def apply(verdict: Verdict) -> None:
        judge(verdict, redactor, request.node)

    return apply


def pytest_eicp_required_checks(
    config: pytest.Config, scenarios: list[str], upgrade: bool
) -> dict[str, list[tuple[str, str]]]:
    """What each scenario must run for ``success``: the check registry's required set."""
    return {scenario: required_checks(scenario, upgrade) for scenario in scenarios}
