"""Reads what the xDS-level traffic check judges (kwok mode): the client's received EDS and the pods
and east-west gateways it should point at.

The EDS comes from the client pod's synthetic proxy (clusters/kwok/xds_proxies.py, running in
this pytest process); the pods and gateway addresses from the clusters' API servers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clusters.kwok import xds_proxies
from scenarios.steps import Role
from suites.evaluation.evaluators.k8s import Obj, items
from suites.evaluation.evaluators.xds import NetworkGateway
from suites.evaluation.readers import Observer

EASTWEST_SERVICE = "istio-eastwestgateway"  # samples/multicluster/gen-eastwest-gateway.sh's name


@dataclass(frozen=True)
class HelloworldEdsView:
    client: str  # the client pod's name ("" when there is none)
    received: dict[str, Any] | None
    local_pod_ips: dict[str, str]  # pod IP -> helloworld version
    gateways: tuple[NetworkGateway, ...]
    problems: tuple[str, ...]  # why the synthetic proxies of the role could not start


def read_helloworld_eds(observer: Observer, role: Role) -> HelloworldEdsView:
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
        NetworkGateway(other, _eastwest_address(observer, other), _helloworld_pods(observer, other))
        for other in sorted(exp.workloads)
        if other != role
    )
    received = xds_proxies.received(role, exp.sample_namespace, client) if client else None
    problems = tuple(xds_proxies.problems_of(role)) + (
        () if client else (f"{role}: no running {exp.client_app} pod in {exp.sample_namespace}",)
    )
    return HelloworldEdsView(client, received, local, gateways, problems)


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


def _helloworld_pods(observer: Observer, role: Role) -> int:
    return sum(1 for pod in _running(observer.sample_pods(role)) if _labels(pod).get("app") == "helloworld")


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
