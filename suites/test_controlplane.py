"""Control plane: the external istiod, its gateway, the remote secrets, the remote webhook configurations."""

from __future__ import annotations

import pytest

from suites.evaluation.applicability import applicable_in_this_mode  # noqa: F401 (autouse: skips what the mode cannot run)
from suites.evaluation.evaluators.controlplane import (
    evaluate_gateway,
    evaluate_istiod,
    evaluate_remote_secrets,
    evaluate_webhooks,
)
from suites.evaluation.evaluators.verdict import combine
from suites.evaluation.readers import InstalledScenarioLike, Observer
from suites.evaluation.reporting import Judge

pytestmark = pytest.mark.controlplane


def test_external_istiod_available_with_release(
    installed_scenario: InstalledScenarioLike, observer: Observer, diagnostics: str, verdict_of: Judge
) -> None:
    deployment = observer.istiod_deployment()
    pods = observer.istiod_pods(deployment)
    version = observer.istiod_reported_version(pods)
    verdict_of(
        evaluate_istiod(
            deployment,
            pods,
            version,
            installed_scenario.expectations,
            diagnostics=diagnostics,
            check_reported_version=not installed_scenario.release.custom,
        )
    )


def test_external_gateway_has_address(
    installed_scenario: InstalledScenarioLike, observer: Observer, diagnostics: str, verdict_of: Judge
) -> None:
    verdict_of(
        evaluate_gateway(observer.gateway_service(), installed_scenario.expectations, diagnostics=diagnostics)
    )


def test_remote_secrets_present(
    installed_scenario: InstalledScenarioLike, observer: Observer, diagnostics: str, verdict_of: Judge
) -> None:
    exp = installed_scenario.expectations
    secrets = {role: observer.remote_secret_metadata(role) for role in exp.remote_secrets}
    uids = {role: observer.cluster_uid(role) for role in exp.remote_secrets}
    verdict_of(evaluate_remote_secrets(secrets, exp, diagnostics=diagnostics, cluster_uids=uids))


def test_remote_webhook_configurations(
    installed_scenario: InstalledScenarioLike, observer: Observer, diagnostics: str, verdict_of: Judge
) -> None:
    exp = installed_scenario.expectations
    verdicts = []
    for role, expected in sorted(exp.webhooks.items()):
        mutating, validating = observer.webhook_configurations(role)
        verdicts.append(evaluate_webhooks(role, mutating, validating, expected, diagnostics=diagnostics))
    if not verdicts:
        pytest.fail(f"the expectations of {exp.scenario} name no webhook configuration (a renderer bug)")
    verdict_of(combine("controlplane/webhooks", verdicts, diagnostics))
