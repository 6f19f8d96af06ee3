"""kwok clusters of the suite's roles, rendered (pure: no I/O).

Each role's cluster is a kwokctl ``binary`` runtime cluster inside a network namespace of its
own, with:

- every component bound to the namespace's loopback (``bindAddress: 127.0.0.1``: kwokctl's
  components talk to each other at 127.0.0.1, and binding to 0.0.0.0 is what kwokctl does
  unless told otherwise); the API server is reached from outside the namespace at the
  namespace's own address through the suite's forwarder (clusters/kwok/forward.py), and its
  serving certificate names that address (``kubeApiserverCertSANs``);
- the local binaries the suite resolved (nothing downloaded), their versions stated so that
  kwokctl generates the flags of that Kubernetes release;
- the namespace's address as the API server's advertise address (the ``kubernetes``
  Service's endpoint; the namespace has no default route to guess one from);
- the role's service subnet (``--service-cluster-ip-range`` on the API server and the
  controller manager) and, on its one node, the first /24 of the role's pod subnet
  (``kwokctl scale node --param .podCIDRs=...``): pod and service IPs never collide between
  the clusters of one mesh, as with kind;
- kwok's Exec/Logs/Attach/PortForward resources (and their Cluster* forms) served by the API,
  so what starts later can say which local process answers ``kubectl exec``/``logs``;
- the node's InternalIP 127.0.0.1: the API server reaches the node's "kubelet" (the kwok
  controller, serving ``exec``/``logs`` for ``ClusterExec``/``ClusterLogs``) on loopback,
  never at kwok's default documentation address.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from clusters.networks import ROLE_NETWORKS
from scenarios.steps import Role

KWOKCTL_API_VERSION = "config.kwok.x-k8s.io/v1alpha1"
LOOPBACK = "127.0.0.1"
NODE_NAME = "kwok-node-0"
# kwok resources served through the API (their CRDs installed by kwokctl), so host processes
# started later (clusters/kwok/istiod_host.py) can route `kubectl exec/logs/attach/port-forward`
# for their pod to the real process.
API_CRDS = (
    "Exec",
    "ClusterExec",
    "Logs",
    "ClusterLogs",
    "Attach",
    "ClusterAttach",
    "PortForward",
    "ClusterPortForward",
)


@dataclass(frozen=True)
class KwokBinaries:
    """Paths and versions of the local binaries a kwok cluster runs."""

    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kwok_controller: Path
    etcd: Path
    kubectl: Path
    kube_version: str  # e.g. v1.35.4
    etcd_version: str  # e.g. v3.6.16
    kwok_version: str  # e.g. v0.8.0


def node_pod_cidr(role: Role) -> str:
    """The one node's pod CIDR: the first /24 of the role's pod subnet."""
    return str(next(ipaddress.ip_network(ROLE_NETWORKS[role].pod_subnet).subnets(new_prefix=24)))


def render_kwokctl_config(
    role: Role, *, address: str, binaries: KwokBinaries, cache_dir: Path
) -> dict[str, Any]:
    """The ``KwokctlConfiguration`` of ``role``'s cluster in a namespace whose address is ``address``."""
    try:
        parsed = ipaddress.IPv4Address(address)
    except ValueError:
        parsed = None
    if parsed is None or parsed.is_unspecified or parsed.is_loopback:
        raise ValueError(f"{address!r} is not a test host's address (an IPv4 address of a network namespace)")
    service_range = ROLE_NETWORKS[role].service_subnet
    return {
        "apiVersion": KWOKCTL_API_VERSION,
        "kind": "KwokctlConfiguration",
        "options": {
            "runtime": "binary",
            "enableCRDs": list(API_CRDS),
            "bindAddress": LOOPBACK,
            "kubeApiserverCertSANs": [address],
            "securePort": True,
            "kubeAuthorization": True,
            "kubeAdmission": True,
            "quietPull": True,
            "cacheDir": str(cache_dir),
            "kubeVersion": binaries.kube_version,
            "etcdVersion": binaries.etcd_version.removeprefix("v"),
            "kwokVersion": binaries.kwok_version,
            "kubeApiserverBinary": str(binaries.kube_apiserver),
            "kubeControllerManagerBinary": str(binaries.kube_controller_manager),
            "kubeSchedulerBinary": str(binaries.kube_scheduler),
            "kwokControllerBinary": str(binaries.kwok_controller),
            "etcdBinary": str(binaries.etcd),
            "kubectlBinary": str(binaries.kubectl),
        },
        "componentsPatches": [
            {
                "name": "kube-apiserver",
                "extraArgs": [
                    _arg("service-cluster-ip-range", service_range),
                    _arg("advertise-address", address),
                    # Webhooks called through a Service (the remote profile's istiod Service and
                    # its EndpointSlice holding remotePilotAddress) go to an endpoint address, as
                    # kube-proxy would route the ClusterIP on a kind node: kwok has no kube-proxy,
                    # so a ClusterIP call times out ("context deadline exceeded").
                    _arg("enable-aggregator-routing", "true"),
                ],
            },
            {
                "name": "kube-controller-manager",
                "extraArgs": [_arg("service-cluster-ip-range", service_range)],
            },
        ],
    }


def _arg(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": value, "override": False}


def dump_config(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False)


def scale_node_args(role: Role) -> list[str]:
    """``kwokctl scale node`` arguments for the role's one node."""
    return [
        "scale",
        "node",
        "--replicas",
        "1",
        "--param",
        f".podCIDRs={json.dumps([node_pod_cidr(role)])}",
        "--param",
        f".nodeIPs={json.dumps([LOOPBACK])}",
    ]


def loopback_port(server: str) -> int:
    """The port of kwokctl's in-namespace API server URL (``https://127.0.0.1:PORT``)."""
    parts = urlsplit(server)
    if parts.hostname != LOOPBACK or parts.port is None:
        raise ValueError(f"kwokctl's kubeconfig names {server!r}, not https://127.0.0.1:PORT")
    return parts.port


def reachable_kubeconfig(text: str, *, address: str, port: int, context: str) -> tuple[str, str]:
    """kwokctl's kubeconfig with the server at ``address:port`` and the context named ``context``.

    Returns the new text and the server URL."""
    data = yaml.safe_load(text)
    server = f"https://{address}:{port}"
    for cluster in data.get("clusters") or []:
        cluster.setdefault("cluster", {})["server"] = server
    for entry in data.get("contexts") or []:
        entry["name"] = context
    data["current-context"] = context
    return yaml.safe_dump(data, sort_keys=False), server


def leftover_owner(prefix: str, name: str) -> tuple[str, str | None] | None:
    """(run id, worker) of a network namespace or bridge alias the suite made with ``prefix``."""
    match = re.fullmatch(
        rf"{re.escape(prefix)}-(?P<run>[0-9a-z]{{1,16}})(?:-(?:external|remote|second|lb[0-9]+|istiod[0-9]+))?(?:-(?P<worker>gw[0-9]{{1,4}}))?",
        name,
    )
    return (match["run"], match["worker"]) if match else None
