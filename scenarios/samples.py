"""The mesh admin's share of the seeds: the sample application (helloworld and the release's
client) and the ingress that exposes helloworld (Istio APIs or the Gateway API)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from scenarios.common import (
    EXTERNAL_NS,
    GATEWAY_API_CRDS_SOURCE,
    GATEWAY_API_GO_MODULE,
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

# samples/helloworld/gateway-api/helloworld-gateway.yaml's Gateway; Istio's gateway deployment
# controller names its Deployment and Service <gateway>-<class>.
HELLOWORLD_GATEWAY = "helloworld-gateway"
HELLOWORLD_GATEWAY_SERVICE = f"{HELLOWORLD_GATEWAY}-istio"


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
    """ "Enable gateways": istio-ingressgateway.yaml (gateway injection template), named as the
    guide revision names it. The name keeps ``istioctl install`` from pruning the remote
    profile's objects when both are istioctl installs: istioctl prunes the objects that carry
    its owner labels and are not in the new manifest, and an unnamed IstioOperator's owner
    labels match every install in the cluster (operator/pkg/install/install.go ``prune``; on the
    kwok tier an unnamed one removed the remote profile's injector, validator and istiod Service)."""
    spec = {
        "profile": "empty",
        "components": {
            "ingressGateways": [{"namespace": EXTERNAL_NS, "name": GATEWAY_SERVICE, "enabled": True}]
        },
        "values": {"gateways": {GATEWAY_SERVICE: {"injectionTemplate": "gateway"}}},
    }
    return ctx.with_build(iop(spec, name=ctx.procedure.ingress_gateway_iop_name))


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
            # The same kustomization from the Go module at that version, where GitHub is out of reach.
            "go_module": GATEWAY_API_GO_MODULE,
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
                "resource": f"gateway.gateway.networking.k8s.io/{HELLOWORLD_GATEWAY}",
                "namespace": SAMPLE_NS,
                "for": "condition=Programmed",
                "deadline_s": ctx.deadline("gateway"),
            },
        ),
        # Programmed says the Service has an address, not that the gateway's pod runs: wait for
        # the Deployment istiod's gateway controller made too, before its proxy is judged.
        Step(
            "remote-wait-helloworld-gateway-api-deployment",
            "remote",
            Action.WAIT,
            f"{section}, step 3 (Gateway API: the Deployment istiod's gateway controller made)",
            params={
                "resource": f"deployment/{HELLOWORLD_GATEWAY_SERVICE}",
                "namespace": SAMPLE_NS,
                "for": "condition=Available",
                "deadline_s": ctx.deadline("rollout"),
            },
        ),
    ]


def ingress_expectations(facts: Facts, istio_namespace: str = EXTERNAL_NS) -> tuple[IngressExpectation, ...]:
    out = []
    for kind in ingress_kinds(facts):
        if kind == "istio":
            out.append(IngressExpectation("istio", "remote", istio_namespace, GATEWAY_SERVICE))
        else:
            out.append(
                IngressExpectation(
                    "gateway-api", "remote", SAMPLE_NS, HELLOWORLD_GATEWAY_SERVICE, gateway=HELLOWORLD_GATEWAY
                )
            )
    return tuple(out)


def ingress_steps(
    ctx: RenderContext, gateway: Step, seeds: dict[IngressKind, str], optional: Sequence[Step] = ()
) -> list[Step]:
    """The ingress variant(s) the user chose: ``gateway`` (the Istio-API ingress gateway) when
    the Istio APIs are among them, then the ``optional`` gateways the user asked for (seed 001
    §Enable gateways: the egress gateway), then helloworld exposed through each, citing ``seeds[kind]``."""
    kinds = ingress_kinds(ctx.facts)
    steps = [gateway] if "istio" in kinds else []
    steps += optional
    for kind in kinds:
        steps += expose_helloworld_steps(ctx, kind, seeds[kind])
    return steps
