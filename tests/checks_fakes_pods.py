"""Pods as the API returns them after injection by the external istiod (the injector's pod spec:
pkg/kube/inject/testdata/inject/hello.yaml.injected upstream), in each sidecar form; the
helloworld and client samples; a local istiod's pod."""

from __future__ import annotations

import json
from typing import Any, Literal

from tests.checks_fakes_release import EXTERNAL_IP, REMOTE_CLUSTER, Obj, V, as_list

SidecarForm = Literal["container", "native", "plain-init", "none"]


def _proxy_container(image: str, discovery: str | None, cluster_id: str, native: bool) -> Obj:
    proxy_config = {"discoveryAddress": discovery} if discovery else {}
    container: Obj = {
        "name": "istio-proxy",
        "image": image,
        "args": [
            "proxy",
            "sidecar",
            "--domain",
            "$(POD_NAMESPACE).svc.cluster.local",
            "--proxyLogLevel=warning",
        ],
        "env": [
            {"name": "PILOT_CERT_PROVIDER", "value": "istiod"},
            {"name": "CA_ADDR", "value": f"{(discovery or 'istiod.istio-system.svc:15012')}"},
            {
                "name": "POD_NAME",
                "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}},
            },
            {"name": "PROXY_CONFIG", "value": json.dumps(proxy_config) + "\n"},
            {"name": "ISTIO_META_CLUSTER_ID", "value": cluster_id},
            {"name": "ISTIO_META_NETWORK", "value": "network1"},
            {"name": "ISTIO_META_MESH_ID", "value": "mesh1"},
        ],
        "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021, "scheme": "HTTP"}},
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }
    if native:
        container["restartPolicy"] = "Always"
    return container


def pod(
    name: str,
    *,
    app: str,
    version: str | None = None,
    namespace: str = "sample",
    tag: str = V,
    hub: str = "registry.istio.io/release",
    sidecar: SidecarForm = "native",
    discovery: str | None = f"{EXTERNAL_IP}:15012",
    cluster_id: str = REMOTE_CLUSTER,
    ready: bool = True,
    pod_ip: str = "10.20.0.12",
) -> Obj:
    """A sample pod as the API returns it after injection by the external istiod."""
    labels = {"app": app, "pod-template-hash": "776f57d5f6", "security.istio.io/tlsMode": "istio"}
    if version:
        labels["version"] = version
    app_container = {
        "name": app,
        "image": f"docker.io/istio/examples-helloworld-{version}:1.0"
        if version
        else "curlimages/curl:8.16.0",
        "ports": [{"containerPort": 5000, "protocol": "TCP"}] if version else [],
    }
    image = f"{hub}/proxyv2:{tag}"
    init: list[Obj] = [
        {"name": "istio-init", "image": image, "args": ["istio-iptables", "-p", "15001", "-z", "15006"]}
    ]
    containers: list[Obj] = [app_container]
    if sidecar == "native":
        init.append(_proxy_container(image, discovery, cluster_id, native=True))
    elif sidecar == "plain-init":
        init.append(_proxy_container(image, discovery, cluster_id, native=False))
    elif sidecar == "container":
        containers.append(_proxy_container(image, discovery, cluster_id, native=False))
    status_annotation = {
        "initContainers": [c["name"] for c in init],
        "containers": ["istio-proxy"] if sidecar == "container" else None,
        "volumes": ["workload-socket", "credential-socket", "workload-certs", "istio-envoy", "istio-data"],
        "imagePullSecrets": None,
        "revision": "default",
    }
    annotations = {"istio.io/rev": "default", "kubectl.kubernetes.io/default-container": app}
    if sidecar != "none":
        annotations["sidecar.istio.io/status"] = json.dumps(status_annotation)
    conditions = [
        {"type": "PodReadyToStartContainers", "status": "True"},
        {"type": "Initialized", "status": "True"},
        {"type": "Ready", "status": "True" if ready else "False"},
        {"type": "ContainersReady", "status": "True" if ready else "False"},
        {"type": "PodScheduled", "status": "True"},
    ]
    if not ready:
        conditions[2].update(
            reason="ContainersNotReady", message="containers with unready status: [istio-proxy]"
        )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name.rsplit("-", 1)[0]}
            ],
            "uid": f"uid-{name}",
        },
        "spec": {
            "containers": containers,
            "initContainers": init,
            "nodeName": "eicp-remote-control-plane",
            "serviceAccountName": app,
        },
        "status": {
            "phase": "Running",
            "conditions": conditions,
            "podIP": pod_ip,
            "containerStatuses": [
                {"name": c["name"], "image": c["image"], "ready": ready} for c in containers
            ],
        },
    }


def sample_pods(versions: tuple[str, ...] = ("v1",), client: str = "curl", **overrides: Any) -> Obj:
    """helloworld pods (IPs 10.20.0.21, .22, ... in order of ``versions``) and the client (10.20.0.12)."""
    pods = [
        pod(
            f"helloworld-{version}-776f57d5f6-s7zfc",
            app="helloworld",
            version=version,
            pod_ip=f"10.20.0.{21 + index}",
            **overrides,
        )
        for index, version in enumerate(versions)
    ]
    pods.append(pod(f"{client}-5b549b49b8-qx7rl", app=client, **overrides))
    return as_list(*pods)


def local_istiod_pod() -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "istiod-6c8d7f8b9-abcde",
            "namespace": "istio-system",
            "labels": {"app": "istiod", "istio": "pilot"},
        },
        "spec": {"containers": [{"name": "discovery", "image": f"registry.istio.io/release/pilot:{V}"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }
