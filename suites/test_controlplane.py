"""Control plane: the external istiod, its gateway, the remote secrets, the remote webhook configurations."""

from __future__ import annotations

import pytest

from run.timeouts import CHECK_CLUSTERS
from suites.evaluation.evaluators.clusters import evaluate_registered_clusters, registered_by_scenario
from suites.evaluation.evaluators.controlplane import (
    evaluate_gateway,
    evaluate_istiod,
    evaluate_remote_secrets,
    evaluate_webhooks,
)
from suites.evaluation.evaluators.external_cluster import evaluate_external_webhooks
from suites.evaluation.evaluators.verdict import Verdict, combine
from suites.evaluation.polling import verdict_until_ok
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


def test_istiod_registers_exactly_the_scenario_clusters(
    installed_scenario: InstalledScenarioLike, observer: Observer, diagnostics: str, verdict_of: Judge
) -> None:
    """Read from istiod itself (``/debug/clusterz`` of every replica): its config cluster and one
    cluster per remote secret of the scenario, nothing else, all synced."""
    exp = installed_scenario.expectations
    expected, config_secret = registered_by_scenario(
        exp.cluster_names, exp.remote_secrets, exp.config_clusters
    )

    def evaluate() -> Verdict:
        listed = observer.istiod_debug("/debug/clusterz")
        return evaluate_registered_clusters(listed, expected, config_secret, diagnostics=diagnostics)

    # Settled once nothing but known issues is wrong: a known issue does not go away by waiting.
    verdict_of(
        verdict_until_ok(
            "istiod's registered clusters",
            evaluate,
            CHECK_CLUSTERS.seconds(),
            settled=lambda v: not v.problems,
        )
    )


def test_external_cluster_webhooks_untouched(
    installed_scenario: InstalledScenarioLike, observer: Observer, diagnostics: str, verdict_of: Judge
) -> None:
    """istio.io's doc test: the external istiod's install adds no mutating webhook for itself to
    the external cluster (its webhooks live on the remotes)."""
    mutating, _ = observer.webhook_configurations("external")
    verdict_of(evaluate_external_webhooks(mutating, installed_scenario.expectations, diagnostics=diagnostics))
