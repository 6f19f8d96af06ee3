"""What an injected kwok pod's sidecar would run with, read from the pod itself: its
``istio-proxy`` container's environment (downward-API references resolved), its node metadata,
its token audience, its proxy type and image tag (clusters/kwok/xds_proxies.py starts a synthetic
proxy with these)."""

from __future__ import annotations

import json
from typing import Any

from clusters.cluster import ClusterHandle

PROXY_CONTAINER = "istio-proxy"
TOKEN_VOLUME = "istio-token"  # the projected token the injector mounts for istio-agent


def injected_pods(cluster: ClusterHandle) -> list[dict[str, Any]]:
    """Running pods of ``cluster`` whose spec has the injected ``istio-proxy`` container
    (as a container, or as a restartable init container with native sidecars)."""
    listing = json.loads(cluster.kubectl("get", "pods", "-A", "-o", "json").stdout)
    pods = []
    for pod in listing.get("items", []):
        if pod.get("status", {}).get("phase") != "Running" or not pod.get("status", {}).get("podIP"):
            continue
        if _container(pod, PROXY_CONTAINER) is not None and "CA_ADDR" in container_env(pod, PROXY_CONTAINER):
            pods.append(pod)
    return pods


def container_env(pod: dict[str, Any], container: str) -> dict[str, str]:
    """The container's environment as the kubelet would give it (plain values and the
    downward-API field references a sidecar uses)."""
    spec = _container(pod, container) or {}
    env: dict[str, str] = {}
    for item in spec.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
            continue
        path = item.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        if path is not None:
            value = _field(pod, path)
            if value is not None:
                env[item["name"]] = value
    return env


def node_type(pod: dict[str, Any]) -> str:
    """``router`` for a gateway (its proxy runs ``proxy router``), else ``sidecar``."""
    return "router" if "router" in (_container(pod, PROXY_CONTAINER) or {}).get("args", []) else "sidecar"


def token_audience(pod: dict[str, Any]) -> str | None:
    """The audience of the pod's ``istio-token`` projected token (what istio-agent presents)."""
    for volume in pod.get("spec", {}).get("volumes", []):
        if volume.get("name") != TOKEN_VOLUME:
            continue
        for source in volume.get("projected", {}).get("sources", []):
            audience = source.get("serviceAccountToken", {}).get("audience")
            if audience:
                return str(audience)
    return None


def node_metadata(pod: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """What istio-agent sends as node metadata: ``ISTIO_META_*`` with the prefix cut, plus
    the pod's identity fields istiod keys proxies by. ``ISTIO_VERSION`` (istio-agent sends its
    own build's) is the injected proxy image's tag: the version that sidecar would report."""
    meta: dict[str, Any] = {
        key.removeprefix("ISTIO_META_"): value for key, value in env.items() if key.startswith("ISTIO_META_")
    }
    image = str((_container(pod, PROXY_CONTAINER) or {}).get("image", ""))
    tag = image.split("@", 1)[0].rsplit("/", 1)[-1].partition(":")[2]
    if tag and "ISTIO_VERSION" not in meta:
        meta["ISTIO_VERSION"] = tag
    meta.update(
        {
            "NAMESPACE": pod["metadata"]["namespace"],
            "NAME": pod["metadata"]["name"],
            "LABELS": pod["metadata"].get("labels", {}),
            "INSTANCE_IPS": pod.get("status", {}).get("podIP", ""),
            "SERVICE_ACCOUNT": pod["spec"].get("serviceAccountName") or "default",
        }
    )
    return meta


def _container(pod: dict[str, Any], name: str) -> dict[str, Any] | None:
    spec = pod.get("spec", {})
    for container in (*spec.get("containers", []), *spec.get("initContainers", [])):
        if container.get("name") == name:
            return dict(container)
    return None


def _field(pod: dict[str, Any], path: str) -> str | None:
    simple = {
        "metadata.name": pod["metadata"].get("name"),
        "metadata.namespace": pod["metadata"].get("namespace"),
        "metadata.uid": pod["metadata"].get("uid"),
        "spec.serviceAccountName": pod.get("spec", {}).get("serviceAccountName"),
        "spec.nodeName": pod.get("spec", {}).get("nodeName"),
        "status.podIP": pod.get("status", {}).get("podIP"),
        "status.hostIP": pod.get("status", {}).get("hostIP"),
    }
    if path in simple:
        value = simple[path]
        return None if value is None else str(value)
    for kind in ("labels", "annotations"):
        prefix = f"metadata.{kind}['"
        if path.startswith(prefix) and path.endswith("']"):
            value = pod["metadata"].get(kind, {}).get(path[len(prefix) : -2])
            return None if value is None else str(value)
    return None


def cluster_internal(address: str) -> bool:
    """A Service name (``*.svc``, ``*.svc.cluster.local``): kwok clusters have no DNS for it."""
    host = address.rsplit(":", 1)[0].strip("[]").rstrip(".")
    return host.endswith((".svc", ".svc.cluster.local"))


def proxy_image(pod: dict[str, Any]) -> str:
    """The pod's injected proxy image (``docker.io/istio/proxyv2:TAG``; ``""`` without one)."""
    return str((_container(pod, PROXY_CONTAINER) or {}).get("image", ""))
