"""Fixtures shared by the conformance checks: the reader for the scenario under test, and judging."""

from __future__ import annotations

import pytest

from programs.redaction import Redactor
from suites.evaluation.evaluators.verdict import Verdict, diagnostics_hint
from suites.evaluation.readers import InstalledScenarioLike, Observer
from suites.evaluation.reporting import Judge, judge


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
