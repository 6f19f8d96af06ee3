"""What istio.io's doc test for the page installs beyond the guide's required path, as the
renderers render it: the optional egress gateway (helm, ``istio/gateway``, ``service.type=ClusterIP``
in ``external-istiod`` on the remote) only when asked and only where the guide has it, undone
before the namespaces go; the Gateway API variant's gateway Deployment waited for; the upgrade
restarting the egress gateway with the other gateway-injected gateways."""

from __future__ import annotations

import pytest

from install.upgrade_gateways import gateway_restarts
from scenarios import sail_support
from scenarios.egress import EGRESS_GATEWAY, GATEWAY_CHART, GATEWAY_SOURCE_CHART, ISTIO_HELM_REPO
from scenarios.registry import EGRESS_GATEWAY as EGRESS_PART
from scenarios.registry import SCENARIO_IDS, optional_parts, render
from scenarios.releases import load_pins
from scenarios.steps import Action
from tests.test_render_golden import facts, release

ISTIOCTL_SCENARIOS = ("ip-passthrough", "dns-tls", "second-remote")


def names(scenario: str, **overrides: str) -> list[str]:
    return [step.name for step in render(scenario, release("1.30"), facts(**overrides)).plan.steps]


@pytest.mark.parametrize("scenario", ISTIOCTL_SCENARIOS)
def test_the_egress_gateway_is_rendered_only_when_asked(scenario: str) -> None:
    assert "remote-egressgateway" not in names(scenario)
    rendered = render(scenario, release("1.30"), facts(egress_gateway="helm"))
    steps = {step.name: step for step in rendered.plan.steps}
    install = steps["remote-egressgateway"]
    assert install.role == "remote" and install.action is Action.HELM_INSTALL
    assert install.params == {
        "release": EGRESS_GATEWAY,
        "repo": ISTIO_HELM_REPO,
        "chart": GATEWAY_CHART,
        "version": str(release("1.30").version),
        "namespace": "external-istiod",
        "create_namespace": False,  # the namespace is the remote profile's; helm must not own it
        "values": {"service": {"type": "ClusterIP"}},
        "source_chart": GATEWAY_SOURCE_CHART,
    }
    wait = steps["remote-wait-egressgateway"]
    assert (
        wait.params["resource"] == f"deployment/{EGRESS_GATEWAY}"
        and wait.params["namespace"] == "external-istiod"
    )
    order = [step.name for step in rendered.plan.steps]
    # seed 001 §Enable gateways: the ingress gateway, then the optional ones, then the sample's ingress.
    assert order.index("remote-ingressgateway") < order.index("remote-egressgateway")
    assert order.index("remote-wait-egressgateway") < order.index("remote-helloworld-gateway")
    uninstall = [step.name for step in rendered.plan.uninstall]
    assert uninstall.index("uninstall-remote-egressgateway") < uninstall.index(
        "delete-remote-namespace-external-istiod"
    )
    assert rendered.expectations.egress_gateway is not None
    assert rendered.expectations.egress_gateway.service_type == "ClusterIP"
    assert optional_parts(scenario, facts(egress_gateway="helm")) == {EGRESS_PART}
    assert optional_parts(scenario, facts()) == frozenset()


def test_sail_has_no_egress_gateway_even_when_asked() -> None:
    pins = load_pins()
    newest = next(v for v in (sail_support.newest_installable(p) for p in pins.profiles.values()) if v)
    sail = render("sail", pins.resolve_release(newest), facts(egress_gateway="helm"))
    assert not [step for step in sail.plan.steps if step.name == "remote-egressgateway"]
    assert sail.expectations.egress_gateway is None
    assert optional_parts("sail", facts(egress_gateway="helm")) == frozenset()
    assert set(SCENARIO_IDS) == {*ISTIOCTL_SCENARIOS, "sail"}


def test_the_egress_gateway_comes_with_the_gateway_api_variant_as_in_the_doc_test() -> None:
    order = names("ip-passthrough", ingress="gateway-api", egress_gateway="helm")
    assert "remote-ingressgateway" not in order  # the guide: the Gateway API needs no gateway component
    assert order[-6:] == [
        "remote-egressgateway",
        "remote-wait-egressgateway",
        "remote-gateway-api-crds",
        "remote-helloworld-gateway-api",
        "remote-wait-helloworld-gateway-api",
        "remote-wait-helloworld-gateway-api-deployment",
    ]
    crds = next(
        step
        for step in render("ip-passthrough", release("1.30"), facts(ingress="gateway-api")).plan.steps
        if step.action is Action.INSTALL_GATEWAY_API_CRDS
    )
    assert crds.params["go_module"] == "sigs.k8s.io/gateway-api"
    assert crds.params["version"] == release("1.30").profile.gateway_api_version


def test_an_upgrade_restarts_the_egress_gateway_so_it_runs_release_bs_proxy() -> None:
    plan = render("ip-passthrough", release("1.30"), facts(egress_gateway="helm")).plan
    restarts = {(restart.role, restart.namespace, restart.deployment) for restart in gateway_restarts(plan)}
    assert ("remote", "external-istiod", EGRESS_GATEWAY) in restarts
    wait = next(r.wait for r in gateway_restarts(plan) if r.deployment == EGRESS_GATEWAY)
    assert wait.name == "remote-wait-egressgateway"  # B's own rollout wait
