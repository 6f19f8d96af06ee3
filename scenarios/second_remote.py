"""second-remote: seed 001 "Adding clusters to the mesh" on top of a base scenario.

A second remote cluster on network2 joins the same external istiod: its own remote profile
(injection path with its cluster and network2), the ``topology.istio.io/controlPlaneClusters``
annotation naming the config cluster, a ``--type=remote`` secret, east-west gateways on both
remotes (the equivalent of the release's ``samples/multicluster/gen-eastwest-gateway.sh``
output) and the cross-network gateway (``samples/multicluster/expose-services.yaml``);
helloworld v1 runs in ``remote``, v2 in ``second``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from scenarios import dns_tls, ip_passthrough
from scenarios.common import (
    EXTERNAL_NS,
    IOP_API,
    SAMPLE_NS,
    Addressing,
    Manifest,
    RenderContext,
    RenderedScenario,
    ScenarioUnavailable,
    delete_namespaces,
    namespace_steps,
    scenario_plan,
)
from scenarios.facts import Facts
from scenarios.istioctl_flow import (
    Flow,
    install_steps,
    istioctl_params,
    remote_install_action,
    uninstall_step,
    uninstall_steps,
)
from scenarios.releases import IstioRelease
from scenarios.remote import remote_cluster_iop, remote_secret_step, remote_webhooks
from scenarios.samples import sample_steps
from scenarios.steps import Action, Role, Step

SCENARIO = "second-remote"
ROLES: tuple[Role, ...] = ("external", "remote", "second")
BASES = ("ip-passthrough", "dns-tls")
EASTWEST_SERVICE = "istio-eastwestgateway"
CONTROL_PLANE_CLUSTERS = "topology.istio.io/controlPlaneClusters"
REMOTES: tuple[Role, ...] = ("remote", "second")  # eastwest-gateway-1.yaml, eastwest-gateway-2.yaml


def eastwest_gateway_iop(ctx: RenderContext, network: str) -> Manifest:
    """What ``samples/multicluster/gen-eastwest-gateway.sh`` prints for a network, with the
    arguments the guide revision gives it (``Procedure.eastwest_generator_args``: seed 001
    ``--mesh mesh1 --cluster C --network N``, today ``--network N``; the script ignores
    ``--mesh`` and ``--cluster``, so both print this; the offline tier runs the script)."""
    ports = [
        {"name": "status-port", "port": 15021, "targetPort": 15021},
        {"name": "tls", "port": 15443, "targetPort": 15443},
        {"name": "tls-istiod", "port": 15012, "targetPort": 15012},
        {"name": "tls-webhook", "port": 15017, "targetPort": 15017},
    ]
    spec = {
        "revision": "",
        "profile": "empty",
        "components": {
            "ingressGateways": [
                {
                    "name": EASTWEST_SERVICE,
                    "label": {
                        "istio": "eastwestgateway",
                        "app": EASTWEST_SERVICE,
                        "topology.istio.io/network": network,
                    },
                    "enabled": True,
                    "k8s": {
                        # traffic through this gateway stays inside its network
                        "env": [{"name": "ISTIO_META_REQUESTED_NETWORK_VIEW", "value": network}],
                        "service": {"ports": ports},
                    },
                }
            ]
        },
        "values": {
            "gateways": {"istio-ingressgateway": {"injectionTemplate": "gateway"}},
            "global": {"network": network},
        },
    }
    manifest = {
        "apiVersion": IOP_API,
        "kind": "IstioOperator",
        "metadata": {"name": "eastwest"},
        "spec": spec,
    }
    return ctx.with_build(manifest)


def cross_network_gateway() -> Manifest:
    """``samples/multicluster/expose-services.yaml``: AUTO_PASSTHROUGH on 15443 for ``*.local``."""
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "cross-network-gateway"},
        "spec": {
            "selector": {"istio": "eastwestgateway"},
            "servers": [
                {
                    "port": {"number": 15443, "name": "tls", "protocol": "TLS"},
                    "tls": {"mode": "AUTO_PASSTHROUGH"},
                    "hosts": ["*.local"],
                }
            ],
        },
    }


def _eastwest_set(ctx: RenderContext) -> list[str]:
    sets = [f"values.global.istioNamespace={EXTERNAL_NS}"]
    if ctx.procedure.eastwest_injection_template_set:
        sets.insert(0, "values.gateways.istio-ingressgateway.injectionTemplate=gateway")
    return sets


def _base_flow(ctx: RenderContext, base: str) -> tuple[Flow, Addressing]:
    if base == "ip-passthrough":
        return ip_passthrough.flow(ctx), "ip"
    if base == "dns-tls":
        return dns_tls.flow(ctx), "dns"
    raise ScenarioUnavailable(
        f"second-remote base {base!r} is not valid: accepted bases are {', '.join(BASES)}"
    )


def second_iop(ctx: RenderContext, addressing: Addressing, host: str) -> Manifest:
    bundle = dns_tls.ca_bundle(ctx.facts) if addressing == "dns" else None
    return remote_cluster_iop(ctx, "second", addressing, host, ca_bundle=bundle)


def second_steps(ctx: RenderContext, addressing: Addressing, host: str) -> list[Step]:
    seed = ctx.seed
    procedure = ctx.procedure.second_remote
    register = f"{seed} §Register the new cluster"
    steps: list[Step] = []
    if addressing == "dns" and dns_tls.publishes_hostname(ctx.facts):
        steps.append(dns_tls.publish_step(ctx, "second", dns_tls.SUITE_PKI_SOURCE))
    secret = remote_secret_step(
        ctx,
        "remote-secret-second",
        "second",
        procedure.secret_on,
        f"{register}, step {procedure.secret_step}",
        secret_type="remote",
        service_account=None,
        with_name=True,
    )
    if procedure.secret_first:
        steps.append(secret)
    annotations = (
        {CONTROL_PLANE_CLUSTERS: ctx.cluster("remote")} if procedure.control_plane_annotation else None
    )
    steps += namespace_steps("second", EXTERNAL_NS, f"{register}, step 3", annotations=annotations)
    steps.append(
        Step(
            "second-remote-cluster",
            "second",
            remote_install_action(ctx),
            f"{register}, steps 1-4" + (" (IP address variant)" if addressing == "ip" else ""),
            (second_iop(ctx, addressing, host),),
            istioctl_params(ctx, procedure.file, []),
        )
    )
    if addressing == "dns":
        steps.append(dns_tls.precondition_step(ctx, "second"))
    if not procedure.secret_first:
        steps.append(secret)

    eastwest = f"{seed} §Setup east-west gateways"
    for index, role in enumerate(REMOTES, 1):
        steps.append(
            Step(
                f"{role}-eastwest-gateway",
                role,
                Action.MANIFEST_GENERATE_APPLY,
                f"{eastwest}, step 1",
                (eastwest_gateway_iop(ctx, ctx.network(role)),),
                {"file": f"eastwest-gateway-{index}.yaml", "set": _eastwest_set(ctx)},
            )
        )
    for role in REMOTES:
        steps.append(
            Step(
                f"{role}-wait-eastwest-address",
                role,
                Action.WAIT,
                f"{eastwest}, step 2",
                params={
                    "resource": f"service/{EASTWEST_SERVICE}",
                    "namespace": EXTERNAL_NS,
                    "for": "load-balancer-address",
                    "deadline_s": ctx.deadline("lb-address"),
                },
            )
        )
    for role in procedure.expose_services_on:
        steps.append(
            Step(
                f"{role}-expose-services",
                role,
                Action.APPLY,
                f"{eastwest}, step 3",
                (cross_network_gateway(),),
                {"namespace": EXTERNAL_NS},
            )
        )
    steps += sample_steps(ctx, "second", "v2", f"{seed} §Validate the installation")
    return steps


def second_uninstall(ctx: RenderContext, addressing: Addressing, host: str) -> list[Step]:
    """The guide's cleanup of the second cluster: today ``istioctl uninstall -y --purge -f``
    (which also removes the east-west gateways, labelled as Istio's by their chart); seed 001
    ``manifest generate | kubectl delete``, and the suite deletes the east-west gateways too."""
    if ctx.procedure.uninstall_purges:
        section = f"{ctx.seed} §Cleanup (optional second remote cluster)"
        steps = delete_namespaces("second", (SAMPLE_NS,), section)
        steps.append(
            uninstall_step(
                "delete-second-remote-cluster",
                "second",
                section,
                second_iop(ctx, addressing, host),
                ctx.procedure.second_remote.file,
                [],
            )
        )
        steps += delete_namespaces("second", (EXTERNAL_NS,), section)
        if addressing == "dns" and dns_tls.publishes_hostname(ctx.facts):
            steps.append(dns_tls.publish_step(ctx, "second", dns_tls.SUITE_PKI_SOURCE, remove=True))
        return steps
    section = "001 §Cleanup (optional second remote cluster)"
    steps = delete_namespaces("second", (SAMPLE_NS,), section)
    steps.append(
        Step(
            "delete-second-remote-cluster",
            "second",
            Action.MANIFEST_GENERATE_DELETE,
            section,
            (second_iop(ctx, addressing, host),),
            {"file": "second-remote-cluster.yaml", "set": []},
        )
    )
    for index, role in enumerate(REMOTES, 1):
        steps.append(
            Step(
                f"delete-{role}-eastwest-gateway",
                role,
                Action.MANIFEST_GENERATE_DELETE,
                section,
                (eastwest_gateway_iop(ctx, ctx.network(role)),),
                {"file": f"eastwest-gateway-{index}.yaml", "set": _eastwest_set(ctx)},
            )
        )
    steps += delete_namespaces("second", (EXTERNAL_NS,), section)
    if addressing == "dns" and dns_tls.publishes_hostname(ctx.facts):
        steps.append(dns_tls.publish_step(ctx, "second", dns_tls.SUITE_PKI_SOURCE, remove=True))
    return steps


def render(release: IstioRelease, facts: Facts) -> RenderedScenario:
    ctx = RenderContext(release, facts)
    base = facts.second_remote_base
    flow, addressing = _base_flow(ctx, base)
    steps = install_steps(ctx, flow) + second_steps(ctx, addressing, flow.host)
    # The second cluster goes first, then the base scenario's cleanup.
    uninstall = second_uninstall(ctx, addressing, flow.host) + uninstall_steps(ctx, flow)
    plan = scenario_plan(SCENARIO, release, ROLES, steps, uninstall)
    base_expect = (ip_passthrough if base == "ip-passthrough" else dns_tls).expectations(ctx, SCENARIO)
    second_hooks = remote_webhooks(
        ctx,
        "second",
        addressing,
        flow.host,
        ca_bundle_required=addressing == "ip" or dns_tls.ca_bundle(facts) is not None,
    )
    extra: dict[str, Any] = {
        "remote_secrets": {
            **base_expect.remote_secrets,
            "second": (EXTERNAL_NS, f"istio-remote-secret-{ctx.cluster('second')}"),
        },
        "webhooks": {**base_expect.webhooks, "second": second_hooks},
        "workloads": {**base_expect.workloads, "second": ("v2",)},
        "cluster_names": {**base_expect.cluster_names, "second": ctx.cluster("second")},
    }
    return RenderedScenario(plan, replace(base_expect, **extra))
