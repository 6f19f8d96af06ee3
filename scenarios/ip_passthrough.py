"""ip-passthrough: seed 001's "If you are using an IP address" variant, end to end.

The remotes reach the external istiod at the external gateway's load balancer IP: remote
profile with ``remotePilotAddress`` and ``injectionPath``; the gateway passes TLS through to
istiod (``PASSTHROUGH``, TLS routes, no DestinationRule); the external istiod knows the remote
webhook configuration names so it patches their ``caBundle`` with its own root.
"""

from __future__ import annotations

from scenarios.common import RenderContext, RenderedScenario
from scenarios.egress import egress_gateway_expectation
from scenarios.expectations import ScenarioExpectations
from scenarios.external import external_istiod_iop, istiod_routing
from scenarios.facts import Facts
from scenarios.istioctl_flow import Flow, render_flow
from scenarios.releases import IstioRelease
from scenarios.remote import config_cluster_expectations, remote_cluster_iop, remote_webhooks
from scenarios.steps import Role

SCENARIO = "ip-passthrough"
ROLES: tuple[Role, ...] = ("external", "remote")


def flow(ctx: RenderContext) -> Flow:
    host = ctx.addr
    return Flow(
        addressing="ip",
        host=host,
        remote_iop=remote_cluster_iop(ctx, "remote", "ip", host),
        external_iop=external_istiod_iop(ctx, "ip", host),
        routing=istiod_routing(host, "ip", ctx.procedure.routing_api_versions),
    )


def expectations(ctx: RenderContext, scenario: str = SCENARIO) -> ScenarioExpectations:
    hooks = remote_webhooks(ctx, "remote", "ip", ctx.addr, ca_bundle_required=True)
    return config_cluster_expectations(
        ctx,
        scenario,
        hooks,
        ctx.addr,
        watches_own_namespace_secrets=ctx.procedure.local_cluster_secret_watcher,
        egress_gateway=egress_gateway_expectation(ctx),
    )


def render(release: IstioRelease, facts: Facts) -> RenderedScenario:
    ctx = RenderContext(release, facts)
    return render_flow(ctx, SCENARIO, ROLES, flow(ctx), expectations(ctx))
