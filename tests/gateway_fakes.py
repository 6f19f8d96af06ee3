"""Builders of the remote's gateways and of the external cluster's own webhooks, shaped like real
API output, for the checks that istio.io's doc test for the page has (tests/checks_fakes.py
builds the rest: pods, webhook configurations, Deployments, syncz)."""

from __future__ import annotations

from typing import Any

from tests.checks_fakes import Obj, as_list, istiod_deployment, lb_service, mutating, pod


def external_cluster_webhooks() -> Obj:
    """The external cluster's mutating webhooks after a guide-following install: only its own
    istio-system istiod's (the controlplane gateway's default profile: the injector and the
    default revision tag), none of the external istiod's."""
    return as_list(
        mutating("istio-sidecar-injector", path="/inject", service_namespace="istio-system"),
        mutating("istio-revision-tag-default", path="/inject", service_namespace="istio-system", count=2),
    )


def gateway_pod(deployment: str, *, namespace: str = "external-istiod", **overrides: Any) -> Obj:
    """A pod of a gateway Deployment with the gateway injection template: ``istio-proxy`` is
    its only container and runs ``proxy router`` (``sidecar="none"``: the pod was not injected
    and runs the chart's placeholder container)."""
    overrides.setdefault("sidecar", "container")
    made = pod(f"{deployment}-7bcd5c6bbd-kmtl4", app=deployment, namespace=namespace, **overrides)
    spec = made["spec"]
    proxies = [c for c in spec["containers"] if c["name"] == "istio-proxy"]
    for proxy in proxies:
        proxy["args"][1] = "router"
    spec["containers"] = proxies or [{"name": "istio-proxy", "image": "auto"}]
    spec["initContainers"] = []
    made["metadata"]["labels"] = {"app": deployment, "istio": deployment.removeprefix("istio-")}
    made["status"]["containerStatuses"] = [
        {"name": c["name"], "image": c["image"], "ready": overrides.get("ready", True)}
        for c in spec["containers"]
    ]
    return made


def gateway_deployment(name: str, *, namespace: str = "external-istiod", available: bool = True) -> Obj:
    """A gateway Deployment as the API returns it (selector ``app=<name>``)."""
    deployment = istiod_deployment(available=available)
    deployment["metadata"] = {"name": name, "namespace": namespace, "generation": 1}
    deployment["spec"]["selector"] = {"matchLabels": {"app": name, "istio": name.removeprefix("istio-")}}
    deployment["spec"]["template"] = {"metadata": {"labels": {"app": name}}, "spec": {"containers": []}}
    deployment["status"]["observedGeneration"] = 1
    return deployment


def cluster_ip_service(name: str, namespace: str = "external-istiod") -> Obj:
    service = lb_service(name, namespace, ip=None)
    service["spec"]["type"] = "ClusterIP"
    service["status"] = {"loadBalancer": {}}
    return service
