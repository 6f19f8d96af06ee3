"""The mesh admin's share of the seeds: the sample application (helloworld and the release's
client) and the ingress that exposes helloworld (Istio APIs or the Gateway API)."""

from __future__ import annotations

from typing import Literal

from scenarios.common import (
    EXTERNAL_NS,
    GATEWAY_API_CRDS_SOURCE,
    GATEWAY_SERVICE,
    SAMPLE_NS,
    Manifest,
    RenderContext,
    iop,
    namespace_steps,
)
from scenarios.expectations import IngressExpectation, IngressKind
from scenarios.facts import Facts
from scenarios.steps import Action, Role, Step


def gateway_api_version(ctx: RenderContext) -> str:
    """The Gateway API release the Istio release was built against (its go.mod), per profile."""
    return ctx.release.profile.gateway_api_version


def client_sample_path(ctx: RenderContext) -> str:
    client = ctx.release.profile.sample_client
    return f"samples/{client}/{client}.yaml"


def sample_steps(
    ctx: RenderContext,
    role: Role,
    version: str,
    seed: str,
    *,
    injection_label: dict[str, str] | None = None,
) -> list[Step]:
    """Create and label ``sample``, deploy helloworld ``version`` and the client, wait for them."""
    steps = namespace_steps(
        role,
        SAMPLE_NS,
        f"{seed}, step 1",
        labels=injection_label or {"istio-injection": "enabled"},
    )
    hello = "samples/helloworld/helloworld.yaml"
    for suffix, selector in (("service", "service=helloworld"), (version, f"version={version}")):
        steps.append(
            Step(
                f"{role}-helloworld-{suffix}",
                role,
                Action.APPLY_SAMPLE,
                f"{seed}, step 2",
                params={"path": hello, "selector": selector, "namespace": SAMPLE_NS},
            )
        )
    client = ctx.release.profile.sample_client
    steps.append(
        Step(
            f"{role}-{client}",
            role,
            Action.APPLY_SAMPLE,
            f"{seed}, step 2",
            params={"path": client_sample_path(ctx), "namespace": SAMPLE_NS},
        )
    )
    for deployment in (f"helloworld-{version}", client):
        steps.append(
            Step(
                f"{role}-wait-{deployment}",
                role,
                Action.WAIT,
                f"{seed}, step 3",
                params={
                    "resource": f"deployment/{deployment}",
                    "namespace": SAMPLE_NS,
                    "for": "condition=Available",
                    "deadline_s": ctx.deadline("rollout"),
                },
            )
        )
    return steps


def remote_ingress_gateway_iop(ctx: RenderContext) -> Manifest:
    """Seed 001 "Enable gateways": istio-ingressgateway.yaml (gateway injection template)."""
    spec = {
        "profile": "empty",
        "components": {
            "ingressGateways": [{"namespace": EXTERNAL_NS, "name": GATEWAY_SERVICE, "enabled": True}]
        },
        "values": {"gateways": {GATEWAY_SERVICE: {"injectionTemplate": "gateway"}}},
    }
    return ctx.with_build(iop(spec))


def ingress_kinds(facts: Facts) -> tuple[Literal["istio", "gateway-api"], ...]:
    if facts.ingress == "both":
        return ("istio", "gateway-api")
    return (facts.ingress,)


def gateway_api_crd_step(ctx: RenderContext, role: Role, seed: str) -> Step:
    version = gateway_api_version(ctx)
    return Step(
        f"{role}-gateway-api-crds",
        role,
        Action.INSTALL_GATEWAY_API_CRDS,
        seed,
        params={
            "version": version,
            "source": GATEWAY_API_CRDS_SOURCE.format(version=version),
            "skip_if_present": "crd/gateways.gateway.networking.k8s.io",
        },
    )


def expose_helloworld_steps(
    ctx: RenderContext, kind: Literal["istio", "gateway-api"], seed: str
) -> list[Step]:
    """Seed 001 "Configure and test an ingress gateway", steps 1-2, for one config API."""
    section = f"{seed} §Configure and test an ingress gateway"
    if kind == "istio":
        return [
            Step(
                "remote-wait-ingressgateway",
                "remote",
                Action.WAIT,
                f"{section}, step 1 (Istio APIs)",
                params={
                    "resource": f"deployment/{GATEWAY_SERVICE}",
                    "namespace": EXTERNAL_NS,
                    "for": "condition=Available",
                    "deadline_s": ctx.deadline("rollout"),
                },
            ),
            Step(
                "remote-helloworld-gateway",
                "remote",
                Action.APPLY_SAMPLE,
                f"{section}, step 2 (Istio APIs)",
                params={"path": "samples/helloworld/helloworld-gateway.yaml", "namespace": SAMPLE_NS},
            ),
        ]
    return [
        gateway_api_crd_step(ctx, "remote", f"{section}, step 1 (Gateway API)"),
        Step(
            "remote-helloworld-gateway-api",
            "remote",
            Action.APPLY_SAMPLE,
            f"{section}, step 2 (Gateway API)",
            params={"path": "samples/helloworld/gateway-api/helloworld-gateway.yaml", "namespace": SAMPLE_NS},
        ),
        Step(
            "remote-wait-helloworld-gateway-api",
            "remote",
            Action.WAIT,
            f"{section}, step 3 (Gateway API)",
            params={
                "resource": "gateway.gateway.networking.k8s.io/helloworld-gateway",
                "namespace": SAMPLE_NS,
                "for": "condition=Programmed",
                "deadline_s": ctx.deadline("gateway"),
            },
        ),
    ]


def ingress_expectations(facts: Facts, istio_namespace: str = EXTERNAL_NS) -> tuple[IngressExpectation, ...]:
    out = []
    for kind in ingress_kinds(facts):
        if kind == "istio":
            out.append(IngressExpectation("istio", "remote", istio_namespace, GATEWAY_SERVICE))
        else:
            # Istio's Gateway API deployment controller names the Service <gateway>-<class>.
            out.append(IngressExpectation("gateway-api", "remote", SAMPLE_NS, "helloworld-gateway-istio"))
    return tuple(out)


def ingress_steps(ctx: RenderContext, gateway: Step, seeds: dict[IngressKind, str]) -> list[Step]:
    """The ingress variant(s) the user chose: ``gateway`` (the Istio-API ingress gateway) when
    the Istio APIs are among them, then helloworld exposed through each, citing ``seeds[kind]``."""
    kinds = ingress_kinds(ctx.facts)
    steps = [gateway] if "istio" in kinds else []
    for kind in kinds:
        steps += expose_helloworld_steps(ctx, kind, seeds[kind])
    return steps
