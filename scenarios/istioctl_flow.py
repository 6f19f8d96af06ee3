"""The istioctl procedure of the guide revision a release follows (istio.io's page today, seed
001 as seeded, seeds 000/003 for older releases), shared by ip-passthrough and dns-tls: the two
differ in addressing (an IP or a hostname) and in the steps dns-tls adds at fixed points (PKI
secrets, name publishing, the environment precondition).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from scenarios.common import (
    EXTERNAL_NS,
    ISTIO_SYSTEM,
    SAMPLE_NS,
    Addressing,
    Manifest,
    RenderContext,
    RenderedScenario,
    delete_namespaces,
    namespace_steps,
    scenario_plan,
)
from scenarios.egress import egress_gateway_steps, egress_gateway_uninstall
from scenarios.expectations import ScenarioExpectations
from scenarios.external import controlplane_gateway_iop, external_gateway_steps
from scenarios.remote import config_secret_steps
from scenarios.samples import ingress_steps, remote_ingress_gateway_iop, sample_steps
from scenarios.steps import Action, Role, Step

Hook = Literal["after_address", "before_istiod", "before_routing", "after_routing"]


@dataclass(frozen=True)
class Flow:
    """What varies between the istioctl scenarios."""

    addressing: Addressing
    host: str  # EXTERNAL_ISTIOD_ADDR as the seeds use it: the gateway IP or the hostname
    remote_iop: Manifest
    external_iop: Manifest
    routing: tuple[Manifest, ...]
    extra: dict[Hook, list[Step]] = field(default_factory=dict)
    extra_uninstall: list[Step] = field(default_factory=list)
    routing_note: str = ""  # appended to the routing step's seed (a workaround that changes it)


def remote_config_set(ctx: RenderContext) -> list[str]:
    # Seed 001 installs the config cluster with the default revision's validator; 000/003 do not.
    return ["values.defaultRevision=default"] if ctx.procedure.remote_default_revision else []


def remote_install_action(ctx: RenderContext) -> Action:
    """How the guide revision puts the remote profile on a remote cluster."""
    if ctx.procedure.remote_install == "istioctl-install":
        return Action.ISTIOCTL_INSTALL
    return Action.MANIFEST_GENERATE_APPLY


def istioctl_params(ctx: RenderContext, file: str, sets: list[str] | None) -> dict[str, Any]:
    """``file`` (and ``set``) of an IstioOperator step the guide's cleanup uninstalls, plus
    ``uninstall='purge'`` where that cleanup is ``istioctl uninstall -y --purge -f <file>``."""
    params: dict[str, Any] = {"file": file}
    if sets is not None:
        params["set"] = sets
    if ctx.procedure.uninstall_purges:
        params["uninstall"] = "purge"
    return params


def remote_gateway_set(ctx: RenderContext) -> list[str]:
    set_namespace = ctx.procedure.ingress_gateway_istio_namespace_set
    return [f"values.global.istioNamespace={EXTERNAL_NS}"] if set_namespace else []


def install_steps(ctx: RenderContext, flow: Flow) -> list[Step]:
    seed = ctx.seed
    extra = flow.extra
    steps = external_gateway_steps(ctx, seed)
    steps += extra.get("after_address", [])

    remote_section = f"{seed} §Set up the remote config cluster"
    steps += namespace_steps("remote", EXTERNAL_NS, f"{remote_section}, step 3")
    steps.append(
        Step(
            "remote-config-cluster",
            "remote",
            remote_install_action(ctx),
            f"{remote_section}, steps 1-3" + (" (IP address variant)" if flow.addressing == "ip" else ""),
            (flow.remote_iop,),
            istioctl_params(ctx, "remote-config-cluster.yaml", remote_config_set(ctx)),
        )
    )

    cp_section = f"{seed} §Set up the control plane in the external cluster"
    steps += namespace_steps("external", EXTERNAL_NS, f"{cp_section}, step 1")
    steps += extra.get("before_istiod", [])
    steps += config_secret_steps(
        ctx,
        f"{cp_section}, step 2",
        ctx.procedure.remote_secret_service_account,
        service_account_step=ctx.procedure.external_istiod_service_account_step,
    )
    steps.append(
        Step(
            "external-istiod",
            "external",
            Action.ISTIOCTL_INSTALL,
            f"{cp_section}, steps 3-5" + (" (IP address variant)" if flow.addressing == "ip" else ""),
            (flow.external_iop,),
            istioctl_params(ctx, "external-istiod.yaml", None),
        )
    )
    steps.append(
        Step(
            "external-wait-istiod",
            "external",
            Action.WAIT,
            f"{cp_section}, step 6",
            params={
                "resource": "deployment/istiod",
                "namespace": EXTERNAL_NS,
                "for": "condition=Available",
                "deadline_s": ctx.deadline("rollout"),
            },
        )
    )
    steps += extra.get("before_routing", [])
    steps.append(
        Step(
            "external-istiod-routing",
            "external",
            Action.APPLY,
            f"{cp_section}, steps 7-9"
            + (" (IP address variant)" if flow.addressing == "ip" else "")
            + flow.routing_note,
            flow.routing,
        )
    )
    steps += extra.get("after_routing", [])

    steps += sample_steps(ctx, "remote", "v1", f"{seed} §Deploy a sample application")
    gateway = Step(
        "remote-ingressgateway",
        "remote",
        Action.ISTIOCTL_INSTALL,
        f"{seed} §Enable gateways (IstioOperator)",
        (remote_ingress_gateway_iop(ctx),),
        {"file": "istio-ingressgateway.yaml", "set": remote_gateway_set(ctx)},
    )
    return steps + ingress_steps(
        ctx, gateway, {"istio": seed, "gateway-api": seed}, optional=egress_gateway_steps(ctx)
    )


def uninstall_steps(ctx: RenderContext, flow: Flow) -> list[Step]:
    """The guide's §Cleanup (what ``--plan`` shows; the uninstall itself undoes the ledger).

    Today's guide: ``istioctl uninstall -y --purge -f <file>`` per cluster, then the namespaces.
    Seed 001 (and 000/003): where the seed runs ``istioctl uninstall --purge`` on the external
    cluster, the suite deletes the generated manifests of its own two IstioOperators instead,
    and on the remote it deletes what ``manifest generate`` printed, as the seed does.
    """
    if ctx.procedure.uninstall_purges:
        return purge_uninstall_steps(ctx, flow)
    section = "001 §Cleanup"
    ext = f"{section} (external control plane cluster)"
    rem = f"{section} (remote config cluster)"
    steps = [
        Step("delete-external-istiod-routing", "external", Action.DELETE, ext, flow.routing),
        Step(
            "delete-external-istiod",
            "external",
            Action.MANIFEST_GENERATE_DELETE,
            ext,
            (flow.external_iop,),
            {"file": "external-istiod.yaml"},
        ),
        Step(
            "delete-external-gateway",
            "external",
            Action.MANIFEST_GENERATE_DELETE,
            ext,
            (controlplane_gateway_iop(ctx),),
            {"file": "controlplane-gateway.yaml"},
        ),
    ]
    steps += delete_namespaces("external", (ISTIO_SYSTEM, EXTERNAL_NS), ext)
    steps += egress_gateway_uninstall(ctx, rem)
    steps += delete_namespaces("remote", (SAMPLE_NS,), rem)
    steps.append(
        Step(
            "delete-remote-config-cluster",
            "remote",
            Action.MANIFEST_GENERATE_DELETE,
            rem,
            (flow.remote_iop,),
            {"file": "remote-config-cluster.yaml", "set": remote_config_set(ctx)},
        )
    )
    steps += delete_namespaces("remote", (EXTERNAL_NS,), rem)
    steps += flow.extra_uninstall
    return steps


def purge_uninstall_steps(ctx: RenderContext, flow: Flow) -> list[Step]:
    """Today's §Cleanup: the routing, ``istioctl uninstall -y --purge -f`` of each cluster's
    file, the namespaces. (The suite never purges what it did not create: install/actions/
    istioctl.py checks before it runs the purge.)"""
    section = f"{ctx.seed} §Cleanup"
    ext = f"{section} (external control plane cluster)"
    rem = f"{section} (remote config cluster)"
    steps = [
        Step("delete-external-istiod-routing", "external", Action.DELETE, ext, flow.routing),
        uninstall_step("delete-external-istiod", "external", ext, flow.external_iop, "external-istiod.yaml"),
    ]
    steps += delete_namespaces("external", (ISTIO_SYSTEM, EXTERNAL_NS), ext)
    steps += egress_gateway_uninstall(ctx, rem)
    steps += delete_namespaces("remote", (SAMPLE_NS,), rem)
    steps.append(
        uninstall_step(
            "delete-remote-config-cluster",
            "remote",
            rem,
            flow.remote_iop,
            "remote-config-cluster.yaml",
            remote_config_set(ctx),
        )
    )
    steps += delete_namespaces("remote", (EXTERNAL_NS,), rem)
    steps += flow.extra_uninstall
    return steps


def uninstall_step(
    name: str, role: Role, seed: str, manifest: Manifest, file: str, sets: list[str] | None = None
) -> Step:
    """``istioctl uninstall -y --purge -f <file> [--set ...]`` on ``role``."""
    params: dict[str, Any] = {"file": file}
    if sets is not None:
        params["set"] = sets
    params["purge"] = True
    return Step(name, role, Action.ISTIOCTL_UNINSTALL, seed, (manifest,), params)


def render_flow(
    ctx: RenderContext,
    scenario: str,
    roles: tuple[Role, ...],
    flow: Flow,
    expectations: ScenarioExpectations,
) -> RenderedScenario:
    """A scenario that is the istioctl procedure and nothing more (ip-passthrough, dns-tls)."""
    plan = scenario_plan(scenario, ctx.release, roles, install_steps(ctx, flow), uninstall_steps(ctx, flow))
    return RenderedScenario(plan, expectations)
