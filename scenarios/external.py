"""The external cluster's share of the istioctl procedure (seeds 001/000/003): the gateway that
exposes istiod, the external istiod itself, and the routing from the gateway to istiod."""

from __future__ import annotations

from typing import Any

from scenarios.common import (
    EXTERNAL_NS,
    GATEWAY_SERVICE,
    INJECTOR_WEBHOOK,
    ISTIO_SYSTEM,
    MESH_ID,
    SYSTEM_ROOTS,
    VALIDATOR_WEBHOOK,
    Addressing,
    Manifest,
    RenderContext,
    iop,
)
from scenarios.procedure import RoutingApis
from scenarios.steps import Action, Step

# All networking.istio.io/v1: seed 004 (the Sail guide) and istio.io-6129086 write them so.
ROUTING_V1 = RoutingApis("networking.istio.io/v1", "networking.istio.io/v1", "networking.istio.io/v1")


def controlplane_gateway_iop(ctx: RenderContext) -> Manifest:
    """Seed 001/000/003 "Set up a gateway in the external cluster", step 1 (controlplane-gateway.yaml)."""
    ports = [
        {"port": 15021, "targetPort": 15021, "name": "status-port"},
        {"port": 15012, "targetPort": 15012, "name": "tls-xds"},
        {"port": 15017, "targetPort": 15017, "name": "tls-webhook"},
    ]
    spec = {
        "components": {
            "ingressGateways": [
                {"name": GATEWAY_SERVICE, "enabled": True, "k8s": {"service": {"ports": ports}}}
            ]
        }
    }
    return ctx.with_build(iop(spec, ISTIO_SYSTEM))


def external_gateway_steps(ctx: RenderContext, seed: str) -> list[Step]:
    section = f"{seed} §Set up a gateway in the external cluster"
    return [
        Step(
            "external-gateway",
            "external",
            Action.ISTIOCTL_INSTALL,
            f"{section}, step 1",
            (controlplane_gateway_iop(ctx),),
            {"file": "controlplane-gateway.yaml"},
        ),
        Step(
            "external-gateway-address",
            "external",
            Action.WAIT,
            f"{section}, step 3 (the gateway's load balancer address)",
            params={
                "resource": f"service/{GATEWAY_SERVICE}",
                "namespace": ISTIO_SYSTEM,
                "for": "load-balancer-address",
                "deadline_s": ctx.deadline("lb-address"),
                "provides": "external_istiod_addr",
            },
        ),
    ]


def external_istiod_iop(
    ctx: RenderContext,
    addressing: Addressing,
    host: str,
    *,
    root_ca_path: str = SYSTEM_ROOTS,
) -> Manifest:
    """external-istiod.yaml as the guide revision writes it (today's adds
    ``global.externalIstiod: true``); IP form as the guide's sed edits it."""
    default_config: dict[str, Any] = {"discoveryAddress": f"{host}:15012"}
    if addressing == "dns":
        default_config["proxyMetadata"] = {"XDS_ROOT_CA": root_ca_path, "CA_ROOT_CA": root_ca_path}
    patches = [
        {
            "path": "spec.template.spec.volumes[100]",
            "value": "name: config-volume\nconfigMap:\n  name: istio",
        },
        {
            "path": "spec.template.spec.volumes[100]",
            "value": "name: inject-volume\nconfigMap:\n  name: istio-sidecar-injector",
        },
        {
            "path": "spec.template.spec.containers[0].volumeMounts[100]",
            "value": "name: config-volume\nmountPath: /etc/istio/config",
        },
        {
            "path": "spec.template.spec.containers[0].volumeMounts[100]",
            "value": "name: inject-volume\nmountPath: /var/lib/istio/inject",
        },
    ]
    # IP form: the external istiod patches the remote webhooks' caBundle, so it must know their names.
    patch_webhooks = addressing == "ip"
    env = [
        {"name": "INJECTION_WEBHOOK_CONFIG_NAME", "value": INJECTOR_WEBHOOK if patch_webhooks else ""},
        {"name": "VALIDATION_WEBHOOK_CONFIG_NAME", "value": VALIDATOR_WEBHOOK if patch_webhooks else ""},
        {"name": "EXTERNAL_ISTIOD", "value": "true"},
    ]
    if ctx.procedure.local_cluster_secret_watcher:
        env.append({"name": "LOCAL_CLUSTER_SECRET_WATCHER", "value": "true"})
    env.append({"name": "CLUSTER_ID", "value": ctx.cluster("remote")})
    env.append({"name": "SHARED_MESH_CONFIG", "value": "istio"})
    glob: dict[str, Any] = {"externalIstiod": True} if ctx.procedure.external_istiod_value else {}
    glob |= {
        "caAddress": f"{host}:15012",
        "istioNamespace": EXTERNAL_NS,
        "operatorManageWebhooks": True,
    }
    cluster_values = ctx.procedure.external_istiod_cluster_values
    if cluster_values:
        glob["configValidation"] = False
    glob["meshID"] = MESH_ID
    if cluster_values:
        glob["multiCluster"] = {"clusterName": ctx.cluster("remote")}
        glob["network"] = ctx.network("remote")
    spec = {
        "profile": "empty",
        "meshConfig": {"rootNamespace": EXTERNAL_NS, "defaultConfig": default_config},
        "components": {
            "pilot": {
                "enabled": True,
                "k8s": {
                    "overlays": [{"kind": "Deployment", "name": "istiod", "patches": patches}],
                    "env": env,
                },
            }
        },
        "values": {"global": glob},
    }
    return ctx.with_build(iop(spec, EXTERNAL_NS))


def istiod_routing(
    host: str,
    addressing: Addressing,
    apis: RoutingApis,
    *,
    credential_name: str = "",
    istiod_service: str = "istiod",
    upstream_ca_credential: str | None = None,
) -> tuple[Manifest, ...]:
    """external-istiod-gw.yaml: Gateway, VirtualService (and, DNS form, DestinationRule), each
    of the ``apis`` version the guide revision writes.

    IP form (seed 001's sed / seed 004 step 8): TLS PASSTHROUGH on ``"*"`` with TLS routes
    matched by port and SNI, no DestinationRule. DNS form: TLS terminated at the gateway with
    ``credentialName``, HTTP routes, and a DestinationRule re-originating TLS to istiod.
    """
    istiod_host = f"{istiod_service}.{EXTERNAL_NS}.svc.cluster.local"
    passthrough = addressing == "ip"
    hosts = ["*"] if passthrough else [host]
    proto = "tls" if passthrough else "https"

    def server(number: int, suffix: str) -> dict[str, Any]:
        tls: dict[str, Any] = (
            {"mode": "PASSTHROUGH"} if passthrough else {"mode": "SIMPLE", "credentialName": credential_name}
        )
        return {
            "port": {"number": number, "protocol": proto, "name": f"{proto}-{suffix}"},
            "tls": tls,
            "hosts": list(hosts),
        }

    gateway = {
        "apiVersion": apis.gateway,
        "kind": "Gateway",
        "metadata": {"name": "external-istiod-gw", "namespace": EXTERNAL_NS},
        "spec": {
            "selector": {"istio": "ingressgateway"},
            "servers": [server(15012, "XDS"), server(15017, "WEBHOOK")],
        },
    }

    def route(port: int, target: int) -> dict[str, Any]:
        match: dict[str, Any] = {"port": port}
        if passthrough:
            match["sniHosts"] = ["*"]
        return {
            "match": [match],
            "route": [{"destination": {"host": istiod_host, "port": {"number": target}}}],
        }

    virtual_service = {
        "apiVersion": apis.virtual_service,
        "kind": "VirtualService",
        "metadata": {"name": "external-istiod-vs", "namespace": EXTERNAL_NS},
        "spec": {
            "hosts": list(hosts),
            "gateways": ["external-istiod-gw"],
            ("tls" if passthrough else "http"): [route(15012, 15012), route(15017, 443)],
        },
    }
    if passthrough:
        return gateway, virtual_service

    def upstream_tls() -> dict[str, Any]:
        tls: dict[str, Any] = {"mode": "SIMPLE"}
        if upstream_ca_credential is not None:
            # Suite addition: verify istiod's serving certificate (issued by its plugin CA) with
            # the PKI root; without a CA Istio verifies upstreams against the system roots, which
            # istiod's certificate is not signed by. SNI/SAN name istiod's own service name,
            # which is in its certificate (pilot/pkg/bootstrap/server.go getDNSNames).
            tls["credentialName"] = upstream_ca_credential
            tls["sni"] = f"{istiod_service}.{EXTERNAL_NS}.svc"
            tls["subjectAltNames"] = [f"{istiod_service}.{EXTERNAL_NS}.svc"]
        return tls

    xds_tls = upstream_tls()
    destination_rule = {
        "apiVersion": apis.destination_rule,
        "kind": "DestinationRule",
        "metadata": {"name": "external-istiod-dr", "namespace": EXTERNAL_NS},
        "spec": {
            "host": istiod_host,
            "trafficPolicy": {
                "portLevelSettings": [
                    {
                        "port": {"number": 15012},
                        "tls": xds_tls,
                        "connectionPool": {"http": {"h2UpgradePolicy": "UPGRADE"}},
                    },
                    {"port": {"number": 443}, "tls": upstream_tls()},
                ]
            },
        },
    }
    return gateway, virtual_service, destination_rule
