"""Validation: on every config cluster, istiod's validating webhook rejects invalid config, admits valid."""

from __future__ import annotations

import pytest

from suites.evaluation.evaluators.validation import ProbeOutcome, ProbePlan, evaluate_validation, probes
from suites.evaluation.evaluators.verdict import combine
from suites.evaluation.readers import InstalledScenarioLike, Observer
from suites.evaluation.reporting import Judge

pytestmark = pytest.mark.validation


def _check(
    installed: InstalledScenarioLike, observer: Observer, diagnostics: str, verdict_of: Judge, *, valid: bool
) -> None:
    exp = installed.expectations
    verdicts = []
    for role in exp.config_clusters:
        expected_configs = tuple(
            hook.name for hook in exp.webhooks.get(role, ()) if hook.kind == "validating"
        )
        _, validating = observer.webhook_configurations(role)
        sent = []
        outcomes: list[ProbeOutcome] = []
        for labels in ProbePlan.for_configs(validating, expected_configs).label_sets:
            for probe in probes(exp.sample_namespace, labels):
                if probe.valid == valid:
                    sent.append(probe)
                    outcomes.append(observer.dry_run(role, probe, labels))
        leftovers = observer.probe_leftovers(role, sent)
        verdicts.append(
            evaluate_validation(
                role, outcomes, validating, expected_configs, leftovers, diagnostics=diagnostics
            )
        )
    if not verdicts:
        pytest.fail(f"the expectations of {exp.scenario} name no config cluster (a renderer bug)")
    verdict_of(combine("validation", verdicts, diagnostics))


def test_invalid_config_rejected_by_istiod(
    installed_scenario: InstalledScenarioLike, observer: Observer, diagnostics: str, verdict_of: Judge
) -> None:
    _check(installed_scenario, observer, diagnostics, verdict_of, valid=False)


def test_valid_config_admitted(
    installed_scenario: InstalledScenarioLike, observer: Observer, diagnostics: str, verdict_of: Judge
) -> None:
    _check(installed_scenario, observer, diagnostics, verdict_of, valid=True)
