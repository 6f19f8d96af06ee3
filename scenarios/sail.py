"""sail: the external control plane driven by the Sail Operator (seed 004 "External Control Plane").

The operator comes from its Helm chart at the release the profile pins; ``Istio`` resources do
the rest: ``default`` on the external cluster (the istiod that configures the gateway),
``external-istiod`` with ``profile: remote`` on the remote and ``profile: empty`` on the
external cluster (scenarios/sail_manifests.py). The gateway exposing istiod is a
gateway-injected Deployment, so it runs the proxy of the release under test (the upstream
example manifest pins an old proxy image).
"""

from __future__ import annotations

from typing import Any

from scenarios import sail_manifests as cr
from scenarios import sail_support
from scenarios.common import (
    DEFAULT_VALIDATOR_WEBHOOK,
    EXTERNAL_NS,
    GATEWAY_SERVICE,
    ISTIO_SYSTEM,
    SAMPLE_NS,
    RenderContext,
    RenderedScenario,
    delete_namespaces,
    namespace_steps,
    scenario_plan,
)
from scenarios.expectations import ScenarioExpectations, WebhookExpectation
from scenarios.external import ROUTING_V1, istiod_routing
from scenarios.facts import Facts
from scenarios.releases import IstioRelease
from scenarios.remote import config_cluster_expectations, config_secret_steps
from scenarios.samples import ingress_steps, sample_steps
from scenarios.steps import Action, Role, Step

SCENARIO = "sail"
ROLES: tuple[Role, ...] = ("external", "remote")
SAIL_REPO = "https://istio-ecosystem.github.io/sail-operator"
SAIL_CHART = "sail-operator"
SAIL_NS = "sail-operator"
GUIDE = "004"  # the Sail Operator's multicluster guide, whatever istio.io's guide revision
SECTION = f"{GUIDE} §External Control Plane"


def _wait(
    name: str,
    role: Role,
    resource: str,
    condition: str,
    deadline: int | float,
    seed: str,
    namespace: str | None = None,
    provides: str | None = None,
) -> Step:
    params: dict[str, Any] = {"resource": resource, "for": condition, "deadline_s": deadline}
    if namespace is not None:
        params["namespace"] = namespace
    if provides is not None:
        params["provides"] = provides
    return Step(name, role, Action.WAIT, seed, params=params)


def operator_steps(ctx: RenderContext) -> list[Step]:
    seed = "004 §Prerequisites (install the Sail Operator and CRDs to every cluster)"
    steps: list[Step] = []
    for role in ROLES:
        steps.append(
            Step(
                f"{role}-sail-operator",
                role,
                Action.HELM_INSTALL,
                seed,
                params={
                    "release": SAIL_CHART,
                    "repo": SAIL_REPO,
                    "chart": SAIL_CHART,
                    "version": sail_support.chart_version(ctx.release),
                    "namespace": SAIL_NS,
                    "create_namespace": True,
                    "values": cr.operator_values(ctx),
                },
            )
        )
        steps.append(
            _wait(
                f"{role}-wait-sail-operator",
                role,
                "deployment/sail-operator",
                "condition=Available",
                ctx.deadline("rollout"),
                seed,
                SAIL_NS,
            )
        )
    return steps


def install_steps(ctx: RenderContext) -> list[Step]:
    steps = operator_steps(ctx)
    steps += namespace_steps("external", ISTIO_SYSTEM, f"{SECTION}, step 1")
    steps.append(
        Step(
            "external-istio-default", "external", Action.APPLY, f"{SECTION}, step 1", (cr.gateway_istio(ctx),)
        )
    )
    steps.append(
        _wait(
            "external-wait-istio-default",
            "external",
            "istios/default",
            "condition=Ready",
            ctx.deadline("sail-istio-ready"),
            f"{SECTION}, step 1",
        )
    )
    steps.append(
        Step(
            "external-gateway",
            "external",
            Action.APPLY,
            f"{SECTION}, step 2 (gateway-injected)",
            cr.controlplane_gateway(),
        )
    )
    steps.append(
        _wait(
            "external-gateway-address",
            "external",
            f"service/{GATEWAY_SERVICE}",
            "load-balancer-address",
            ctx.deadline("lb-address"),
            f"{SECTION}, steps 2-3",
            ISTIO_SYSTEM,
            "external_istiod_addr",
        )
    )
    steps += namespace_steps("remote", EXTERNAL_NS, f"{SECTION}, step 4")
    steps.append(Step("remote-istio", "remote", Action.APPLY, f"{SECTION}, step 4", (cr.remote_istio(ctx),)))
    steps += namespace_steps("external", EXTERNAL_NS, f"{SECTION}, step 5")
    # create-remote-secret reads the token of the service account the operator creates for the
    # remote Istio resource (step 6 names it): wait for it, or istioctl fails on a fresh cluster.
    steps.append(
        _wait(
            "remote-wait-istiod-service-account",
            "remote",
            f"serviceaccount/{cr.ISTIOD}",
            "exists",
            ctx.deadline("sail-istio-ready"),
            f"{SECTION}, step 6 (the service account create-remote-secret reads)",
            namespace=EXTERNAL_NS,
        )
    )
    # Seed 004's own step 6, whatever the istio.io guide revision: the service account, then
    # the secret for the operator's istiod service account (--create-service-account=false).
    steps += config_secret_steps(
        ctx, f"{SECTION}, step 6", cr.ISTIOD, service_account_step=True, create_service_account=False
    )
    steps.append(
        Step("external-istio", "external", Action.APPLY, f"{SECTION}, step 7", (cr.external_istio(ctx),))
    )
    steps.append(
        _wait(
            "external-wait-istio",
            "external",
            f"istios/{cr.REVISION}",
            "condition=Ready",
            ctx.deadline("sail-istio-ready"),
            f"{SECTION}, step 7",
        )
    )
    routing = istiod_routing(ctx.addr, "ip", ROUTING_V1, istiod_service=cr.ISTIOD)
    steps.append(Step("external-istiod-routing", "external", Action.APPLY, f"{SECTION}, step 8", routing))
    steps.append(
        _wait(
            "remote-wait-istio",
            "remote",
            f"istios/{cr.REVISION}",
            "condition=Ready",
            ctx.deadline("sail-remote-ready"),
            f"{SECTION}, step 9",
        )
    )
    steps += sample_steps(
        ctx, "remote", "v1", f"{SECTION}, steps 10-12", injection_label={"istio.io/rev": cr.REVISION}
    )
    gateway = Step(
        "remote-ingressgateway",
        "remote",
        Action.APPLY,
        "001 §Enable gateways (gateway-injected, Istio APIs variant)",
        cr.remote_ingress_gateway(),
    )
    return steps + ingress_steps(ctx, gateway, {"istio": "001", "gateway-api": "004"})


def uninstall_steps() -> list[Step]:
    seed = f"{SECTION}, step 15"
    steps = [
        Step(
            "delete-external-istio-default",
            "external",
            Action.DELETE,
            seed,
            params={"resource": "istios/default"},
        ),
        *delete_namespaces("external", (ISTIO_SYSTEM,), seed),
        Step(
            "delete-external-istio",
            "external",
            Action.DELETE,
            seed,
            params={"resource": f"istios/{cr.REVISION}"},
        ),
        *delete_namespaces("external", (EXTERNAL_NS,), seed),
        Step(
            "delete-remote-istio", "remote", Action.DELETE, seed, params={"resource": f"istios/{cr.REVISION}"}
        ),
        *delete_namespaces("remote", (EXTERNAL_NS, SAMPLE_NS), seed),
    ]
    # The suite installed the operator, so it removes it too (the seed's prerequisites).
    for role in ROLES:
        steps.append(
            Step(
                f"delete-{role}-sail-operator",
                role,
                Action.HELM_UNINSTALL,
                seed,
                params={"release": SAIL_CHART, "namespace": SAIL_NS},
            )
        )
        steps += delete_namespaces(role, (SAIL_NS,), seed)
    return steps


def expectations(ctx: RenderContext) -> ScenarioExpectations:
    path = ctx.injection_path("remote")
    # A revisioned remote profile: the revision's two injector webhooks (rev.namespace,
    # rev.object), its validator, and the default revision's validator.
    hooks = (
        WebhookExpectation("mutating", cr.injector_webhook(), 2, path=path),
        WebhookExpectation("validating", cr.validator_webhook(), 1, path="/validate"),
        WebhookExpectation("validating", DEFAULT_VALIDATOR_WEBHOOK, 1, path="/validate"),
    )
    # sail_manifests.py runs the external istiod with LOCAL_CLUSTER_SECRET_WATCHER=true, whatever the release.
    return config_cluster_expectations(
        ctx, SCENARIO, hooks, ctx.addr, istiod_deployment=cr.ISTIOD, watches_own_namespace_secrets=True
    )


def render(release: IstioRelease, facts: Facts) -> RenderedScenario:
    ctx = RenderContext(release, facts)
    plan = scenario_plan(SCENARIO, release, ROLES, install_steps(ctx), uninstall_steps())
    return RenderedScenario(plan, expectations(ctx))
