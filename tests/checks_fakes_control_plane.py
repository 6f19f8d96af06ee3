"""The external control plane's objects: istiod's deployment and pods, the load-balanced gateway
service, a remote secret's metadata, and istiod's ``/debug/syncz`` entries (pilot/pkg/xds/
debug.go ``SyncStatus`` upstream)."""

from __future__ import annotations

from tests.checks_fakes_release import EXTERNAL_IP, REMOTE_CLUSTER, Obj, V, as_list


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
