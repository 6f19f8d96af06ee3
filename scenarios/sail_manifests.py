"""The Sail Operator's resources of seed 004 "External Control Plane": the three ``Istio``
resources and the gateway-injected gateways (their proxy is the installed release's).

Deviations from seed 004, each for a stated reason:
- the external cluster's ``default`` Istio sets ``values.global.network``: the seed writes
  ``spec.global``, which is not a field of the ``Istio`` CRD and is rejected by strict
  validation;
- the external ``external-istiod`` Istio sets ``spec.version``: without it the operator picks
  its own default version, not the release under test;
- every ``Istio`` resource sets ``values.global.hub`` to the release's hub: the operator's chart
  names per-version images on ``registry.istio.io`` (retired, 1.31 upgrade notes) and applies
  them wherever a resource sets no global hub or tag; the chart values the suite installs the
  operator with name the release's hub for the version under test too (``operator_values``).
"""

from __future__ import annotations

from typing import Any

from scenarios.common import (
    EXTERNAL_NS,
    GATEWAY_SERVICE,
    ISTIO_SYSTEM,
    MESH_ID,
    Manifest,
    RenderContext,
)

SAIL_API = "sailoperator.io/v1"
REVISION = "external-istiod"  # the Istio resource's name is its revision
ISTIOD = f"istiod-{REVISION}"


def sail_version(ctx: RenderContext) -> str:
    return f"v{ctx.release.version}"


# The operator's chart keys its image configuration by version and component: deployment
# annotations ``images.v1_31_3.istiod`` and so on (dots of the version as underscores).
OPERATOR_IMAGES = {"istiod": "pilot", "proxy": "proxyv2", "cni": "install-cni", "ztunnel": "ztunnel"}


def _with_build(ctx: RenderContext, values: dict[str, Any]) -> dict[str, Any]:
    build = {"hub": ctx.release.hub}
    if ctx.release.custom:
        build["tag"] = ctx.release.tag
    values.setdefault("global", {}).update(build)
    return values


def operator_values(ctx: RenderContext) -> dict[str, Any]:
    """Helm values of the operator's chart: the images of the version under test from its hub."""
    key = "v" + str(ctx.release.version).replace(".", "_")
    tag = ctx.release.tag
    annotations = {
        f"images.{key}.{component}": f"{ctx.release.hub}/{image}:{tag}"
        for component, image in OPERATOR_IMAGES.items()
    }
    return {"deployment": {"annotations": annotations}}


def istio_cr(name: str, spec: dict[str, Any]) -> Manifest:
    return {"apiVersion": SAIL_API, "kind": "Istio", "metadata": {"name": name}, "spec": spec}


def gateway_istio(ctx: RenderContext) -> Manifest:
    """Step 1: the ``default`` Istio that configures the external gateway."""
    return istio_cr(
        "default",
        {
            "version": sail_version(ctx),
            "namespace": ISTIO_SYSTEM,
            "values": _with_build(ctx, {"global": {"network": ctx.network("remote")}}),
        },
    )


def remote_istio(ctx: RenderContext) -> Manifest:
    """Step 4: ``profile: remote`` on the remote (config) cluster."""
    return istio_cr(
        REVISION,
        {
            "version": sail_version(ctx),
            "namespace": EXTERNAL_NS,
            "profile": "remote",
            "values": _with_build(
                ctx,
                {
                    "defaultRevision": REVISION,
                    "global": {
                        "istioNamespace": EXTERNAL_NS,
                        "remotePilotAddress": ctx.addr,
                        "configCluster": True,
                    },
                    "pilot": {"configMap": True},
                    "istiodRemote": {"injectionPath": ctx.injection_path("remote")},
                },
            ),
        },
    )


def external_istio(ctx: RenderContext) -> Manifest:
    """Step 7: ``profile: empty`` on the external cluster; it serves the remote's proxies."""
    addr = ctx.addr
    cluster = ctx.cluster("remote")
    values = {
        "meshConfig": {"rootNamespace": EXTERNAL_NS, "defaultConfig": {"discoveryAddress": f"{addr}:15012"}},
        "pilot": {
            "enabled": True,
            "volumes": [
                {"name": "config-volume", "configMap": {"name": f"istio-{REVISION}"}},
                {"name": "inject-volume", "configMap": {"name": f"istio-sidecar-injector-{REVISION}"}},
            ],
            "volumeMounts": [
                {"name": "config-volume", "mountPath": "/etc/istio/config"},
                {"name": "inject-volume", "mountPath": "/var/lib/istio/inject"},
            ],
            "env": {
                "INJECTION_WEBHOOK_CONFIG_NAME": injector_webhook(),
                "VALIDATION_WEBHOOK_CONFIG_NAME": validator_webhook(),
                "EXTERNAL_ISTIOD": "true",
                "LOCAL_CLUSTER_SECRET_WATCHER": "true",
                "CLUSTER_ID": cluster,
                "SHARED_MESH_CONFIG": "istio",
            },
        },
        "global": {
            "caAddress": f"{addr}:15012",
            "istioNamespace": EXTERNAL_NS,
            "operatorManageWebhooks": True,
            "configValidation": False,
            "meshID": MESH_ID,
            "multiCluster": {"clusterName": cluster},
            "network": ctx.network("remote"),
        },
    }
    return istio_cr(
        REVISION,
        {
            "version": sail_version(ctx),
            "namespace": EXTERNAL_NS,
            "profile": "empty",
            "values": _with_build(ctx, values),
        },
    )


def injector_webhook() -> str:
    return f"istio-sidecar-injector-{REVISION}-{EXTERNAL_NS}"


def validator_webhook() -> str:
    return f"istio-validator-{REVISION}-{EXTERNAL_NS}"


def injected_gateway(
    name: str,
    namespace: str,
    labels: dict[str, str],
    ports: list[tuple[str, int, int]],
    *,
    pod_labels: dict[str, str] | None = None,
) -> tuple[Manifest, ...]:
    """A gateway Deployment whose proxy the injector supplies (``image: auto``, gateway
    template), so it runs the proxy of the installed release, plus its Service (LoadBalancer)."""
    service_account = f"{name}-service-account"
    template_labels = {**labels, "sidecar.istio.io/inject": "true", **(pod_labels or {})}
    return (
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": service_account, "namespace": namespace},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "spec": {
                "selector": {"matchLabels": dict(labels)},
                "template": {
                    "metadata": {
                        "annotations": {"inject.istio.io/templates": "gateway"},
                        "labels": template_labels,
                    },
                    "spec": {
                        "serviceAccountName": service_account,
                        "containers": [{"name": "istio-proxy", "image": "auto"}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "spec": {
                "type": "LoadBalancer",
                "selector": dict(labels),
                "ports": [
                    {"name": port_name, "port": port, "targetPort": target, "protocol": "TCP"}
                    for port_name, port, target in ports
                ],
            },
        },
    )


def controlplane_gateway() -> tuple[Manifest, ...]:
    """Step 2: the gateway exposing 15021/15012/15017, as the seed's controlplane-gateway.yaml."""
    return injected_gateway(
        GATEWAY_SERVICE,
        ISTIO_SYSTEM,
        {"app": GATEWAY_SERVICE, "istio": "ingressgateway"},
        [("status-port", 15021, 15021), ("tls-xds", 15012, 15012), ("tls-webhook", 15017, 15017)],
    )


def remote_ingress_gateway() -> tuple[Manifest, ...]:
    """The Istio-API ingress variant on the remote: seed 001's istio-ingressgateway, injected
    by the external istiod's revision (the seed itself uses the Gateway API here)."""
    return injected_gateway(
        GATEWAY_SERVICE,
        EXTERNAL_NS,
        {"app": GATEWAY_SERVICE, "istio": "ingressgateway"},
        # as the istio-ingressgateway component maps them: unprivileged target ports
        [("status-port", 15021, 15021), ("http2", 80, 8080), ("https", 443, 8443)],
        pod_labels={"istio.io/rev": REVISION},
    )
