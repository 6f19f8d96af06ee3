"""The checks that istio.io's doc test for the page has, proven both ways on recorded-shape objects:
the external cluster's own mutating webhooks untouched by the external istiod's install; the
remote's egress gateway (helm) and ingress gateways (Istio APIs, Gateway API) rolled out,
injected by the external istiod and synced."""

from __future__ import annotations

from dataclasses import replace

import pytest

from scenarios.common import RenderContext
from scenarios.egress import egress_gateway_expectation
from scenarios.expectations import GatewayExpectation, ScenarioExpectations
from scenarios.facts import Facts
from scenarios.ip_passthrough import expectations as ip_passthrough_expectations
from suites.evaluation.evaluators.external_cluster import evaluate_external_webhooks
from suites.evaluation.evaluators.gateways import evaluate_gateway_workload
from tests import checks_fakes as fake
from tests import gateway_fakes

Obj = fake.Obj


def expectations(**facts: str) -> ScenarioExpectations:
    known = Facts(cluster_names={"remote": fake.REMOTE_CLUSTER}, external_istiod_addr=fake.EXTERNAL_IP)
    return ip_passthrough_expectations(RenderContext(fake.release(), replace(known, **facts)))  # type: ignore[arg-type]


# --- the external cluster's webhooks -------------------------------------------------------


def test_the_external_clusters_own_webhooks_pass() -> None:
    verdict = evaluate_external_webhooks(
        gateway_fakes.external_cluster_webhooks(), expectations(), diagnostics="d"
    )
    assert verdict.ok, verdict.message
    assert "istio-sidecar-injector -> service istio-system/istiod/inject" in verdict.observed


def test_a_webhook_named_for_the_external_istiod_fails_as_the_doc_test_does() -> None:
    # What the doc test greps for: the remote's injector configuration, found on the external cluster.
    webhooks = gateway_fakes.external_cluster_webhooks()
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


# --- the remote's gateways -----------------------------------------------------------------


def egress() -> tuple[ScenarioExpectations, GatewayExpectation]:
    exp = expectations(egress_gateway="helm")
    gateway = exp.egress_gateway
    assert gateway is not None
    return exp, gateway


def judge_egress(
    *,
    deployment: Obj | None = None,
    pods: Obj | None = None,
    service: Obj | None = None,
    syncz: list[Obj] | None = None,
) -> tuple[bool, list[str]]:
    exp, gateway = egress()
    pods = pods if pods is not None else fake.as_list(gateway_fakes.gateway_pod("istio-egressgateway"))
    verdict = evaluate_gateway_workload(
        "injection/egress-gateway",
        gateway,
        deployment if deployment is not None else gateway_fakes.gateway_deployment("istio-egressgateway"),
        pods,
        service if service is not None else gateway_fakes.cluster_ip_service("istio-egressgateway"),
        syncz if syncz is not None else fake.syncz_for(pods),
        exp,
        diagnostics="d",
    )
    return verdict.ok, list(verdict.problems)


def test_the_egress_gateway_expected_is_the_doc_tests() -> None:
    _, gateway = egress()
    assert gateway == GatewayExpectation(
        "remote", "external-istiod", "istio-egressgateway", "istio-egressgateway", "ClusterIP", gateway.how
    )
    assert egress_gateway_expectation(RenderContext(fake.release(), Facts())) is None  # --egress-gateway none
    assert expectations().egress_gateway is None


def test_a_healthy_egress_gateway_passes() -> None:
    ok, problems = judge_egress()
    assert ok, problems


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        (
            {"deployment": gateway_fakes.gateway_deployment("istio-egressgateway", available=False)},
            "Deployment is not Available",
        ),
        ({"pods": fake.as_list()}, "no pod of the Deployment"),
        (
            {"pods": fake.as_list(gateway_fakes.gateway_pod("istio-egressgateway", sidecar="none"))},
            "the pod was not injected: istio-proxy still has the chart's image 'auto'",
        ),
        ({"pods": fake.as_list(gateway_fakes.gateway_pod("istio-egressgateway", ready=False))}, "not Ready"),
        (
            {"pods": fake.as_list(gateway_fakes.gateway_pod("istio-egressgateway", tag="1.28.0"))},
            "is not proxyv2:",
        ),
        (
            {
                "pods": fake.as_list(
                    gateway_fakes.gateway_pod(
                        "istio-egressgateway", discovery="istiod.istio-system.svc:15012"
                    )
                )
            },
            "not the external control plane",
        ),
        (
            {"pods": fake.as_list(gateway_fakes.gateway_pod("istio-egressgateway", cluster_id="Kubernetes"))},
            "was injected for cluster 'Kubernetes'",
        ),
        ({"syncz": []}, "its proxy is not connected to the external istiod"),
        (
            {
                "syncz": [
                    fake.syncz_entry("istio-egressgateway-7bcd5c6bbd-kmtl4.external-istiod", stale="cluster")
                ]
            },
            "CDS stale",
        ),
        (
            {"service": fake.lb_service("istio-egressgateway", "external-istiod")},
            "type LoadBalancer, not ClusterIP",
        ),
    ],
)
def test_an_unhealthy_egress_gateway_fails_naming_why(broken: dict[str, object], problem: str) -> None:
    ok, problems = judge_egress(**broken)  # type: ignore[arg-type]
    assert not ok
    assert any(problem in text for text in problems), problems


def test_a_gateway_whose_proxy_runs_as_a_sidecar_fails() -> None:
    pod = gateway_fakes.gateway_pod("istio-egressgateway")
    pod["spec"]["containers"][0]["args"][1] = "sidecar"
    ok, problems = judge_egress(pods=fake.as_list(pod))
    assert not ok and any("does not run as a gateway" in text for text in problems), problems


def gateway_api(*, programmed: bool = True, address: str | None = "172.18.0.202") -> Obj:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "helloworld-gateway", "namespace": "sample"},
        "status": {
            "addresses": [{"type": "IPAddress", "value": address}] if address else [],
            "conditions": [
                {"type": "Accepted", "status": "True", "reason": "Accepted"},
                {
                    "type": "Programmed",
                    "status": "True" if programmed else "False",
                    "reason": "Programmed" if programmed else "AddressNotAssigned",
                },
            ],
        },
    }


def judge_gateway_api(api_gateway: Obj | None, lb_ip: str | None = "172.18.0.202") -> tuple[bool, list[str]]:
    exp = expectations(ingress="gateway-api")
    [ingress] = exp.ingress
    assert ingress.gateway == "helloworld-gateway" and ingress.service == "helloworld-gateway-istio"
    pods = fake.as_list(gateway_fakes.gateway_pod("helloworld-gateway-istio", namespace="sample"))
    verdict = evaluate_gateway_workload(
        "injection/ingress-gateway[gateway-api]",
        ingress.workload(),
        gateway_fakes.gateway_deployment("helloworld-gateway-istio", namespace="sample"),
        pods,
        fake.lb_service("helloworld-gateway-istio", "sample", ip=lb_ip),
        fake.syncz_for(pods),
        exp,
        diagnostics="d",
        api_gateway=api_gateway,
        api_gateway_name=ingress.gateway,
    )
    return verdict.ok, list(verdict.problems)


def test_a_programmed_gateway_api_gateway_at_its_services_address_passes() -> None:
    ok, problems = judge_gateway_api(gateway_api())
    assert ok, problems


@pytest.mark.parametrize(
    ("api_gateway", "lb_ip", "problem"),
    [
        (None, "172.18.0.202", "no Gateway helloworld-gateway"),
        (
            gateway_api(programmed=False),
            "172.18.0.202",
            "is not Programmed: Programmed=False (AddressNotAssigned)",
        ),
        (gateway_api(address=None), "172.18.0.202", "reports no address"),
        (gateway_api(address="10.0.0.9"), "172.18.0.202", "not its Service's load-balancer address"),
        (gateway_api(), None, "has no LoadBalancer address"),
    ],
)
def test_a_gateway_api_gateway_not_programmed_at_its_address_fails(
    api_gateway: Obj | None, lb_ip: str | None, problem: str
) -> None:
    ok, problems = judge_gateway_api(api_gateway, lb_ip)
    assert not ok and any(problem in text for text in problems), problems
