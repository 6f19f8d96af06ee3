"""ip-passthrough: seed 001's "If you are using an IP address" variant, end to end.

The remotes reach the external istiod at the external gateway's load balancer IP: remote
profile with ``remotePilotAddress`` and ``injectionPath``; the gateway passes TLS through to
istiod (``PASSTHROUGH``, TLS routes, no DestinationRule); the external istiod knows the remote
webhook configuration names so it patches their ``caBundle`` with its own root.
"""

from __future__ import annotations

from scenarios.common import (
    EXTERNAL_NS,
    RenderContext,
    RenderedScenario,
    external_istiod_iop,
    ingress_expectations,
    istiod_routing,
    remote_cluster_iop,
    remote_webhooks,
    unique_names,
)
from scenarios.expectations import ScenarioExpectations
from scenarios.facts import Facts
from scenarios.istioctl_flow import Flow, install_steps, uninstall_steps
from scenarios.releases import IstioRelease
from scenarios.steps import Role, ScenarioPlan

SCENARIO = "ip-passthrough"
ROLES: tuple[Role, ...] = ("external", "remote")


def flow(ctx: RenderContext) -> Flow:
    host = ctx.addr
    return Flow(
        addressing="ip",
        host=host,
        remote_iop=remote_cluster_iop(ctx, "remote", "ip", host),
        external_iop=external_istiod_iop(ctx, "ip", host),
        routing=istiod_routing(host, "ip"),
    )


def expectations(ctx: RenderContext, scenario: str = SCENARIO) -> ScenarioExpectations:
    hooks = remote_webhooks(ctx, "remote", "ip", ctx.addr, ca_bundle_required=True)
    return ScenarioExpectations(
        scenario=scenario,
        istio_version=str(ctx.release.version),
        proxy_image_tag=ctx.release.tag,
        remote_secrets={"remote": (EXTERNAL_NS, "istio-kubeconfig")},
        webhooks={"remote": hooks},
        config_clusters=("remote",),
        client_app=ctx.release.profile.sample_client,
        workloads={"remote": ("v1",)},
        ingress=ingress_expectations(ctx.facts),
        discovery_address=f"{ctx.addr}:15012",
        cluster_names={"remote": ctx.cluster("remote")},
    )


def render(release: IstioRelease, facts: Facts) -> RenderedScenario:
    ctx = RenderContext(release, facts)
    spec = flow(ctx)
    steps = install_steps(ctx, spec)
    uninstall = uninstall_steps(ctx, spec)
    unique_names([*steps, *uninstall])
    plan = ScenarioPlan(SCENARIO, str(release.version), ROLES, tuple(steps), tuple(uninstall))
    return RenderedScenario(plan, expectations(ctx))
