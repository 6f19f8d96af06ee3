"""The checks that istio.io's doc test for the page has, proven both ways on recorded-shape objects:
the external cluster's own mutating webhooks untouched by the external istiod's install."""

from __future__ import annotations

from scenarios.common import RenderContext
from scenarios.expectations import ScenarioExpectations
from scenarios.facts import Facts
from scenarios.ip_passthrough import expectations as ip_passthrough_expectations
from suites.evaluation.evaluators.external_cluster import evaluate_external_webhooks
from tests import checks_fakes as fake


def expectations() -> ScenarioExpectations:
    known = Facts(cluster_names={"remote": fake.REMOTE_CLUSTER}, external_istiod_addr=fake.EXTERNAL_IP)
    return ip_passthrough_expectations(RenderContext(fake.release(), known))


# --- the external cluster's webhooks -------------------------------------------------------


def test_the_external_clusters_own_webhooks_pass() -> None:
    verdict = evaluate_external_webhooks(fake.external_cluster_webhooks(), expectations(), diagnostics="d")
    assert verdict.ok, verdict.message
    assert "istio-sidecar-injector -> service istio-system/istiod/inject" in verdict.observed


def test_a_webhook_named_for_the_external_istiod_fails_as_the_doc_test_does() -> None:
    # What the doc test greps for: the remote's injector configuration, found on the external cluster.
    webhooks = fake.external_cluster_webhooks()
    webhooks["items"].append(fake.mutating("istio-sidecar-injector-external-istiod", path="/inject"))
    verdict = evaluate_external_webhooks(webhooks, expectations(), diagnostics="d")
    assert not verdict.ok
    assert any(
        "istio-sidecar-injector-external-istiod is named for external-istiod" in p for p in verdict.problems
    )
    assert any(
        "calls the external istiod (service external-istiod/istiod/inject)" in p for p in verdict.problems
    )
    assert "external-mutating-webhook-configurations" in verdict.evidence


def test_a_webhook_of_another_name_calling_the_external_istiod_fails() -> None:
    by_service = fake.as_list(fake.mutating("istio-revision-tag-default", path="/inject"))
    by_url = fake.as_list(
        fake.mutating(
            "istio-revision-tag-default", url=f"https://{fake.EXTERNAL_IP}:15017/inject/cluster/x/net/y"
        )
    )
    for webhooks, target in ((by_service, "service external-istiod/istiod"), (by_url, fake.EXTERNAL_IP)):
        verdict = evaluate_external_webhooks(webhooks, expectations(), diagnostics="d")
        assert not verdict.ok
        assert all(target in problem for problem in verdict.problems), verdict.problems
        assert not any("is named for" in problem for problem in verdict.problems)


def test_no_mutating_webhooks_on_the_external_cluster_pass() -> None:
    assert evaluate_external_webhooks(fake.as_list(), expectations(), diagnostics="d").ok
