"""Builders of cluster state shaped like real API output, for proving the checks both ways.

Objects follow what ``kubectl get -o json`` returns for Istio 1.30 installs: the injector's
pod spec (pkg/kube/inject/testdata/inject/hello.yaml.injected upstream), the remote profile's
webhook configurations (manifests/charts/istio-control/istio-discovery/templates), istiod's
``/debug/syncz`` entries (pilot/pkg/xds/debug.go ``SyncStatus``). Each builder takes the
knobs the tests turn to make a state unhealthy.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any, Literal

from scenarios.common import RenderContext
from scenarios.expectations import ScenarioExpectations, WebhookExpectation
from scenarios.facts import Facts
from scenarios.ip_passthrough import expectations as ip_passthrough_expectations
from scenarios.releases import IstioRelease, load_pins

Obj = dict[str, Any]
SidecarForm = Literal["container", "native", "plain-init", "none"]

EXTERNAL_IP = "172.18.0.200"
REMOTE_CLUSTER = "remote1"
SECOND_CLUSTER = "second1"
CA_BUNDLE = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUMvVENDQWVXZ0F3SUJBZ0lRZmFrZQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg=="
# The 1.30 release the fakes imitate: the pinned patch (versions.yaml), so fakes and the suite's
# own expectations move together when the pins follow upstream.
V = str(load_pins().resolve_release("1.30").version)
DIAGNOSTICS = f"/tmp/eicp-report/diagnostics/ip-passthrough-{V}"


def release(version: str = V, guide: str | None = None) -> IstioRelease:
    return load_pins().resolve_release(version, guide=guide)


def ip_passthrough(version: str = V, guide: str | None = None) -> ScenarioExpectations:
    """The ip-passthrough expectations, as the real renderer makes them (``guide``: the guide
    revision; None: the release's default)."""
    facts = Facts(cluster_names={"remote": REMOTE_CLUSTER}, external_istiod_addr=EXTERNAL_IP)
    return ip_passthrough_expectations(RenderContext(release(version, guide), facts))


def second_remote(version: str = V) -> ScenarioExpectations:
    """ip-passthrough plus a second remote on network2 with v2 (seed 001 "Adding clusters")."""
    base = ip_passthrough(version)
    ctx = RenderContext(
        release(version), Facts(cluster_names={"remote": REMOTE_CLUSTER, "second": SECOND_CLUSTER})
    )
    second_hooks = (
        WebhookExpectation(
            "mutating", "istio-sidecar-injector-external-istiod", 4, path=ctx.injection_path("second")
        ),
    )
    return replace(
        base,
        scenario="second-remote",
        remote_secrets={
            **base.remote_secrets,
            "second": ("external-istiod", f"istio-remote-secret-{SECOND_CLUSTER}"),
        },
        webhooks={**base.webhooks, "second": second_hooks},
        workloads={"remote": ("v1",), "second": ("v2",)},
        cluster_names={"remote": REMOTE_CLUSTER, "second": SECOND_CLUSTER},
    )


def as_list(*objects: Obj) -> Obj:
    return {"apiVersion": "v1", "kind": "List", "items": list(objects), "metadata": {"resourceVersion": ""}}


# --- pods ---------------------------------------------------------------------------------


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


# --- webhook configurations ----------------------------------------------------------------


def _client_config(
    url: str | None, path: str | None, ca_bundle: str | None, namespace: str = "external-istiod"
) -> Obj:
    client: Obj = {}
    if url:
        client["url"] = url
    else:
        client["service"] = {"name": "istiod", "namespace": namespace, "path": path, "port": 443}
    if ca_bundle:
        client["caBundle"] = ca_bundle
    return client


def mutating(
    name: str = "istio-sidecar-injector-external-istiod",
    *,
    url: str | None = None,
    path: str | None = None,
    ca_bundle: str | None = CA_BUNDLE,
    count: int = 4,
    service_namespace: str = "external-istiod",
) -> Obj:
    prefixes = ["rev.namespace.", "rev.object.", "namespace.", "object."][:count]
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name, "labels": {"app": "sidecar-injector", "istio.io/rev": "default"}},
        "webhooks": [
            {
                "name": f"{prefix}sidecar-injector.istio.io",
                "admissionReviewVersions": ["v1"],
                "clientConfig": _client_config(url, path, ca_bundle, service_namespace),
                "failurePolicy": "Fail",
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                    }
                ],
                "sideEffects": "None",
            }
            for prefix in prefixes
        ],
    }


def validating(
    name: str,
    *,
    url: str | None = None,
    path: str | None = "/validate",
    ca_bundle: str | None = CA_BUNDLE,
    rev_selector: bool = False,
) -> Obj:
    webhook: Obj = {
        "name": "rev.validation.istio.io" if rev_selector else "validation.istio.io",
        "admissionReviewVersions": ["v1"],
        "clientConfig": _client_config(url, path, ca_bundle),
        "failurePolicy": "Fail",
        "rules": [
            {
                "apiGroups": [
                    "security.istio.io",
                    "networking.istio.io",
                    "telemetry.istio.io",
                    "extensions.istio.io",
                ],
                "apiVersions": ["*"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["*"],
            }
        ],
        "sideEffects": "None",
    }
    if rev_selector:
        webhook["objectSelector"] = {
            "matchExpressions": [{"key": "istio.io/rev", "operator": "In", "values": ["default"]}]
        }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name, "labels": {"app": "istiod", "istio.io/rev": "default"}},
        "webhooks": [webhook],
    }


def healthy_webhooks(exp: ScenarioExpectations, role: str = "remote") -> tuple[Obj, Obj]:
    """(mutating, validating) lists exactly as the expectations for ``role`` describe them."""
    muts, vals = [], []
    for hook in exp.webhooks[role]:  # type: ignore[index]
        if hook.kind == "mutating":
            muts.append(mutating(hook.name, url=hook.url, path=hook.path, count=hook.webhook_count))
        else:
            vals.append(
                validating(
                    hook.name,
                    url=hook.url,
                    path=hook.path,
                    rev_selector=hook.name.startswith("istio-validator"),
                )
            )
    return as_list(*muts), as_list(*vals)


# --- control plane ---------------------------------------------------------------------------


def istiod_deployment(tag: str = V, *, available: bool = True, replicas: int = 1) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "istiod", "namespace": "external-istiod", "generation": 2},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "istiod", "istio.io/rev": "default"}},
            "template": {
                "metadata": {"labels": {"app": "istiod", "istio.io/rev": "default"}},
                "spec": {
                    "containers": [{"name": "discovery", "image": f"registry.istio.io/release/pilot:{tag}"}]
                },
            },
        },
        "status": {
            "observedGeneration": 2,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas if available else 0,
            "availableReplicas": replicas if available else 0,
            "conditions": [
                {
                    "type": "Available",
                    "status": "True" if available else "False",
                    "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                    "message": "Deployment has minimum availability."
                    if available
                    else "Deployment does not have minimum availability.",
                },
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
            ],
        },
    }


def istiod_pods(tag: str = V) -> Obj:
    image = f"registry.istio.io/release/pilot:{tag}"
    return as_list(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "istiod-779bd6fdcf-bd6rg",
                "namespace": "external-istiod",
                "labels": {"app": "istiod"},
            },
            "spec": {"containers": [{"name": "discovery", "image": image}]},
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [{"name": "discovery", "image": image, "ready": True}],
            },
        }
    )


def lb_service(
    name: str = "istio-ingressgateway", namespace: str = "istio-system", ip: str | None = EXTERNAL_IP
) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "type": "LoadBalancer",
            "ports": [
                {"name": "status-port", "port": 15021, "protocol": "TCP"},
                {"name": "http2", "port": 80, "protocol": "TCP"},
                {"name": "tls-istiod", "port": 15012, "protocol": "TCP"},
                {"name": "tls-webhook", "port": 15017, "protocol": "TCP"},
            ],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"}] if ip else []}},
    }


# What the remote cluster's kube-system namespace UID looks like (a real one, recorded from a
# kwok-tier run: kube-apiserver v1.35.4).
KUBE_SYSTEM_UID = "51553ecc-d588-48ac-97d6-1c411fe2be1b"


def remote_secret_meta(
    name: str = "istio-kubeconfig", cluster: str = KUBE_SYSTEM_UID, key: str = "config"
) -> Obj:
    """A remote secret's metadata and key names as the suite's reader returns them.

    The defaults are what real ``istioctl create-remote-secret --type=config
    --namespace=external-istiod --service-account=istiod --create-service-account=false``
    (1.31-alpha.b01690e6db7d) wrote on a kwok-tier run: no ``--name``, so the cluster
    annotation holds the remote's kube-system namespace UID, and the kubeconfig's key is
    ``config``; with ``--type=remote --name X`` both annotation and key are ``X``
    (istioctl/pkg/multicluster/remote_secret.go).
    """
    return {
        "metadata": {
            "name": name,
            "namespace": "external-istiod",
            "labels": {"istio/multiCluster": "true"},
            "annotations": {"networking.istio.io/cluster": cluster},
        },
        "dataKeys": [key],
    }


# --- istiod /debug/syncz ------------------------------------------------------------------------

_TYPES = {
    "cluster": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
    "listener": "type.googleapis.com/envoy.config.listener.v3.Listener",
    "route": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
    "endpoint": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
}


def syncz_entry(
    proxy: str, cluster_id: str = REMOTE_CLUSTER, *, stale: str | None = None, version: str = V
) -> Obj:
    """One ``SyncStatus`` as istiod's ``/debug/syncz`` serialises it; ``stale`` names a type left unacked.

    Shaped as recorded from a real istiod on the kwok tier (tests/goldens/xds/syncz.json): nonces
    are ``<push time>/<version><uuid>``, and empty fields are left out (``omitempty``), so an
    unacked type has no ``*_acked`` key at all."""
    entry: Obj = {
        "cluster_id": cluster_id,
        "proxy": proxy,
        "proxy_type": "sidecar",
        "istio_version": version,
        "resources": {},
    }
    for index, (short, type_url) in enumerate(_TYPES.items()):
        nonce = f"2026-12-01T09:46:25Z/10{index}978ace6-660c-4a6a-811f-ebfd8e9a58e4"
        entry[f"{short}_sent"] = nonce
        status = {"sent": nonce, "sentTime": "2026-12-01T09:46:25.30637755Z"}
        if stale != short:
            entry[f"{short}_acked"] = status["acked"] = nonce
        entry["resources"][type_url] = status
    return entry


def syncz_for(pods: Obj, cluster_id: str = REMOTE_CLUSTER) -> list[Obj]:
    return [
        syncz_entry(f"{item['metadata']['name']}.{item['metadata']['namespace']}", cluster_id)
        for item in pods["items"]
    ]


def deep(obj: Obj) -> Obj:
    return copy.deepcopy(obj)
