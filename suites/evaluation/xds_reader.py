"""Reads what the xDS judgment of helloworld needs: the client's sidecar config and the pods and
east-west gateways its endpoints should be.

The sidecar config comes through the topology's proxy-config reader (clusters/proxy_config.py):
a real Envoy's admin config dump on kind and existing clusters, the synthetic proxy's in kwok
mode. The pods and gateway addresses come from the clusters' API servers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scenarios.steps import Role
from suites.evaluation.evaluators.k8s import Obj, items
from suites.evaluation.evaluators.xds import NetworkGateway
from suites.evaluation.readers import Observer

EASTWEST_SERVICE = "istio-eastwestgateway"  # samples/multicluster/gen-eastwest-gateway.sh's name


@dataclass(frozen=True)
class HelloworldXdsView:
    client: str  # the client pod's name ("" when there is none)
    dump: dict[str, Any] | None
    source: str  # whose config: the real Envoy's or the synthetic proxy's
    local_pod_ips: dict[str, str]  # pod IP -> helloworld version
    gateways: tuple[NetworkGateway, ...]
    problems: tuple[str, ...]  # why no config could be read


def read_helloworld_xds(observer: Observer, role: Role) -> HelloworldXdsView:
    exp = observer.exp
    pods = _running(observer.sample_pods(role))
    clients = sorted(_name(pod) for pod in pods if _labels(pod).get("app") == exp.client_app)
    client = clients[0] if clients else ""
    local = {
        str(pod["status"]["podIP"]): _labels(pod).get("version", "?")
        for pod in pods
        if _labels(pod).get("app") == "helloworld"
    }
    gateways = tuple(
        NetworkGateway(other, _eastwest_address(observer, other), _helloworld_versions(observer, other))
        for other in sorted(exp.workloads)
        if other != role
    )
    topology = observer.topology
    if not client:
        problem = f"{role}: no running {exp.client_app} pod in {exp.sample_namespace}"
        return HelloworldXdsView("", None, "", local, gateways, (problem,))
    config = topology.proxy_configs.read(topology[role], exp.sample_namespace, client)
    return HelloworldXdsView(client, config.dump, config.source, local, gateways, config.problems)


def _running(pods: Obj) -> list[Obj]:
    return [
        pod
        for pod in items(pods)
        if not (pod.get("metadata") or {}).get("deletionTimestamp")
        and (pod.get("status") or {}).get("phase") == "Running"
        and (pod.get("status") or {}).get("podIP")
    ]


def _labels(pod: Obj) -> dict[str, str]:
    return dict((pod.get("metadata") or {}).get("labels") or {})


def _name(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("name", ""))


def _helloworld_versions(observer: Observer, role: Role) -> dict[str, int]:
    versions: dict[str, int] = {}
    for pod in _running(observer.sample_pods(role)):
        if _labels(pod).get("app") == "helloworld":
            version = _labels(pod).get("version", "?")
            versions[version] = versions.get(version, 0) + 1
    return versions


def _eastwest_address(observer: Observer, role: Role) -> str | None:
    """The LoadBalancer address of ``role``'s east-west gateway, in whichever namespace it was
    installed (the external control plane's namespace in the guide's second-remote setup)."""
    for service in items(observer.get_list(role, "services", "--all-namespaces")):
        if (service.get("metadata") or {}).get("name") != EASTWEST_SERVICE:
            continue
        for ingress in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
            address = ingress.get("ip") or ingress.get("hostname")
            if address:
                return str(address)
    return None
