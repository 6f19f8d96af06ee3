"""Gateway evaluators: a gateway Deployment on a remote whose proxy the external istiod gave it.

The guide's ingress gateway (Istio APIs: installed with the gateway injection template; Gateway
API: the Deployment and Service the external istiod's gateway controller makes from the
``Gateway``) and its optional egress gateway (helm, the ``istio/gateway`` chart, as istio.io's
doc test installs it, which then checks its pod is ``Running``). One verdict says: the
Deployment rolled out; each pod is Ready and runs the release's proxy as a gateway
(``proxy router``), injected by the external control plane (its discovery address and this
remote's cluster ID); the Service is of the expected type (with an address for a
LoadBalancer, which a Gateway API ``Gateway`` reports once ``Programmed``); and the external
istiod lists every pod's proxy as connected from this cluster and synced.
"""

from __future__ import annotations

from typing import Any

from scenarios.expectations import GatewayExpectation, ScenarioExpectations
from suites.evaluation.evaluators.injection import (
    SIDECAR,
    find_sidecar,
    live_pods,
    pod_problems,
    sync_problems,
)
from suites.evaluation.evaluators.k8s import (
    Obj,
    condition_true,
    describe_condition,
    join,
    lb_addresses,
    name_of,
)
from suites.evaluation.evaluators.verdict import Verdict

ROUTER_ARG = "router"  # the gateway templates run `pilot-agent proxy router`
# Istio's gateway chart names its container istio-proxy with this image, for injection to replace.
UNINJECTED_IMAGE = "auto"


def evaluate_gateway_workload(
    check: str,
    gateway: GatewayExpectation,
    deployment: Obj | None,
    pods: Obj | None,
    service: Obj | None,
    syncz: list[Obj],
    exp: ScenarioExpectations,
    *,
    diagnostics: str,
    api_gateway: Obj | None = None,
    api_gateway_name: str | None = None,
    expected_hub: str | None = None,
    check_proxy_version: bool = True,
) -> Verdict:
    """Judge one gateway; ``api_gateway`` is the Gateway API ``Gateway`` behind it (when
    ``api_gateway_name`` names one), ``syncz`` the union of the external istiod's ``/debug/syncz``."""
    where = f"{gateway.role}: {gateway.namespace}/{gateway.deployment}"
    problems = [f"{where}: {problem}" for problem in deployment_problems(deployment)]
    cluster_name = exp.cluster_names.get(gateway.role)
    observed: list[str] = []
    running = live_pods(pods)
    if deployment is not None and not running:
        problems.append(f"{where}: no pod of the Deployment")
    by_id: dict[str, list[Obj]] = {}
    for entry in syncz:
        by_id.setdefault(str(entry.get("proxy")), []).append(entry)
    for pod in running:
        found, summary = pod_problems(pod, exp, cluster_name, expected_hub)
        sidecar, _ = find_sidecar(pod)
        if sidecar is not None and sidecar.container.get("image") == UNINJECTED_IMAGE:
            found.append(
                f"the pod was not injected: {SIDECAR} still has the chart's image {UNINJECTED_IMAGE!r}"
            )
        elif sidecar is not None and ROUTER_ARG not in (sidecar.container.get("args") or []):
            found.append(f"{SIDECAR} does not run as a gateway (no {ROUTER_ARG!r} in its args)")
        found += _sync_problems(pod, by_id, cluster_name, exp.istio_version if check_proxy_version else None)
        observed.append(summary + (": synced" if not found else ""))
        problems.extend(f"{where}: pod {name_of(pod)}: {problem}" for problem in found)
    service_problems, service_seen = _service_problems(gateway, service)
    problems.extend(f"{where}: {problem}" for problem in service_problems)
    gateway_seen = ""
    if api_gateway_name is not None:
        gateway_problems, gateway_seen = _api_gateway_problems(api_gateway_name, api_gateway, service)
        problems.extend(f"{gateway.role}: {problem}" for problem in gateway_problems)
    rollout = describe_condition(deployment, "Available") if deployment is not None else "no Deployment"
    expected = (
        f"{where} ({gateway.how}) Available; every pod Ready with the release's {SIDECAR} as a gateway "
        f"from the external control plane (discovery {exp.discovery_address}"
        + (f", cluster {cluster_name}" if cluster_name else "")
        + f"), connected to the external istiod and synced; Service {gateway.service} of type {gateway.service_type}"
        + (" with an address" if gateway.service_type == "LoadBalancer" else "")
        + (
            f"; Gateway {gateway.namespace}/{api_gateway_name} Programmed at that address"
            if api_gateway_name
            else ""
        )
    )
    evidence: dict[str, Any] = {
        f"{gateway.role}-{gateway.deployment}-deployment": deployment or {},
        f"{gateway.role}-{gateway.deployment}-pods": pods or {},
        f"{gateway.role}-{gateway.service}-service": service or {},
        "syncz": syncz,
    }
    if api_gateway_name is not None:
        evidence[f"{gateway.role}-gateway-{api_gateway_name}"] = api_gateway or {}
    return Verdict(
        check,
        expected,
        f"{where}: {rollout}; pods {join(observed)}; {service_seen}"
        + (f"; {gateway_seen}" if gateway_seen else ""),
        diagnostics,
        problems=tuple(problems),
        evidence=evidence,
    )


def deployment_problems(deployment: Obj | None) -> list[str]:
    """Why a Deployment is not rolled out: missing, not Available, replicas not updated."""
    if deployment is None:
        return ["the Deployment does not exist"]
    problems: list[str] = []
    if not condition_true(deployment, "Available"):
        problems.append(f"Deployment is not Available: {describe_condition(deployment, 'Available')}")
    status = deployment.get("status") or {}
    wanted = (deployment.get("spec") or {}).get("replicas", 1)
    updated, ready = status.get("updatedReplicas", 0), status.get("readyReplicas", 0)
    if updated < wanted or ready < wanted:
        problems.append(f"rollout incomplete: {updated} updated / {ready} ready of {wanted} replicas")
    return problems


def _sync_problems(
    pod: Obj, by_id: dict[str, list[Obj]], cluster_name: str | None, version: str | None
) -> list[str]:
    meta = pod.get("metadata") or {}
    candidates = by_id.get(f"{meta.get('name')}.{meta.get('namespace')}", [])
    own = [entry for entry in candidates if entry.get("cluster_id") == cluster_name]
    if not (own or candidates):
        return ["its proxy is not connected to the external istiod"]
    entry = (own or candidates)[0]
    problems = sync_problems(entry)
    if cluster_name and entry.get("cluster_id") != cluster_name:
        problems.append(
            f"its proxy is connected as cluster {entry.get('cluster_id')!r}, expected {cluster_name!r}"
        )
    reported = entry.get("istio_version")
    if version and reported and reported != version:
        problems.append(f"its proxy reports Istio {reported}, expected {version}")
    return problems


def _service_problems(gateway: GatewayExpectation, service: Obj | None) -> tuple[list[str], str]:
    if service is None:
        return [f"no Service {gateway.namespace}/{gateway.service}"], f"no Service {gateway.service}"
    kind = (service.get("spec") or {}).get("type")
    addresses = lb_addresses(service)
    seen = f"Service {gateway.service} type {kind}" + (f", address {join(addresses)}" if addresses else "")
    problems = []
    if kind != gateway.service_type:
        problems.append(f"Service {gateway.service} is of type {kind}, not {gateway.service_type}")
    elif gateway.service_type == "LoadBalancer" and not addresses:
        problems.append(f"Service {gateway.service} has no LoadBalancer address")
    return problems, seen


def _api_gateway_problems(name: str, api_gateway: Obj | None, service: Obj | None) -> tuple[list[str], str]:
    """The Gateway is Programmed and reports its Service's load-balancer address (what the guide
    reads as INGRESS_HOST after ``kubectl wait --for=condition=programmed``)."""
    if api_gateway is None:
        return [f"no Gateway {name}"], f"no Gateway {name}"
    problems = []
    if not condition_true(api_gateway, "Programmed"):
        problems.append(f"Gateway {name} is not Programmed: {describe_condition(api_gateway, 'Programmed')}")
    reported = [
        str(address.get("value"))
        for address in (api_gateway.get("status") or {}).get("addresses") or []
        if address.get("value")
    ]
    behind = lb_addresses(service) if service is not None else []
    if not reported:
        problems.append(f"Gateway {name} reports no address")
    elif behind and not set(reported) & set(behind):
        problems.append(
            f"Gateway {name} reports {join(reported)}, not its Service's load-balancer address {join(behind)}"
        )
    return (
        problems,
        f"Gateway {name} {describe_condition(api_gateway, 'Programmed')}, addresses {join(reported)}",
    )
