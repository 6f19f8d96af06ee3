"""xDS-level traffic evaluator (kwok mode): the endpoints istiod pushes a client's proxy for helloworld.

With no Envoy to send requests through, what the mesh *would* do is read from the EDS the real
external istiod sent the client pod's synthetic proxy (clusters/kwok/xds_proxies.py): the
helloworld cluster must hold exactly the helloworld pods of the client's own network (their pod
IPs, on the service's target port) and, for every other network that runs helloworld, one
endpoint at that network's east-west gateway (its LoadBalancer address, port 15443), weighted
by the number of helloworld pods behind it, so each pod gets an equal share of requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scenarios.steps import Role
from suites.evaluation.evaluators.k8s import join
from suites.evaluation.evaluators.verdict import Verdict

HELLOWORLD_PORT = 5000
EASTWEST_PORT = 15443  # the east-west gateway's mTLS passthrough port (AUTO_PASSTHROUGH)


def helloworld_cluster(namespace: str) -> str:
    """The outbound cluster name a sidecar gets for the helloworld Service of ``namespace``."""
    return f"outbound|{HELLOWORLD_PORT}||helloworld.{namespace}.svc.cluster.local"


@dataclass(frozen=True)
class NetworkGateway:
    """Another network's helloworld pods, as the client's network reaches them."""

    role: Role
    address: str | None  # the east-west gateway's LoadBalancer address (None: it has none)
    pods: int  # helloworld pods running there


def evaluate_helloworld_eds(
    role: Role,
    client: str,
    received: Mapping[str, Any] | None,
    cluster: str,
    local_pod_ips: Mapping[str, str],
    gateways: tuple[NetworkGateway, ...],
    *,
    diagnostics: str,
    problems_before: tuple[str, ...] = (),
) -> Verdict:
    """Judge what ``client``'s synthetic proxy in ``role`` received for ``cluster``.

    ``local_pod_ips``: pod IP -> helloworld version, for the client's own cluster;
    ``gateways``: the other networks that run helloworld. ``problems_before``: why the proxy
    could not be started, if it could not.
    """
    expected_eps = {
        f"{ip}:{HELLOWORLD_PORT}": f"helloworld {version} pod" for ip, version in local_pod_ips.items()
    }
    for gateway in gateways:
        if gateway.address:
            expected_eps[f"{gateway.address}:{EASTWEST_PORT}"] = (
                f"{gateway.role}'s east-west gateway ({gateway.pods} pod(s))"
            )
    expected = (
        f"{role}: istiod's EDS for {cluster} sent to {client}'s proxy holds exactly "
        + join([f"{ep} ({what})" for ep, what in sorted(expected_eps.items())])
        + " (no other endpoint), weighted equally per helloworld pod"
    )
    problems = list(problems_before)
    evidence: dict[str, Any] = {f"{role}-{client}-xds": dict(received or {})}
    if received is None:
        problems.append(f"{role}: {client}'s synthetic proxy has received no xDS")
        return Verdict("traffic/xds-endpoints", expected, f"{role}: nothing received", diagnostics,
                       problems=tuple(problems), evidence=evidence)  # fmt: skip
    for gateway in gateways:
        if not gateway.address:
            problems.append(f"{role}: {gateway.role}'s east-west gateway has no LoadBalancer address")
    if cluster not in (received.get("clusters") or []):
        problems.append(f"{role}: no cluster {cluster} in the CDS istiod sent")
    endpoints = list((received.get("endpoints") or {}).get(cluster) or [])
    weights: dict[str, int] = {}  # endpoint -> its total weight (an endpoint listed twice counts twice)
    sources: dict[str, list[str]] = {}
    for ep in endpoints:
        key = f"{ep.get('address')}:{ep.get('port')}"
        weights[key] = weights.get(key, 0) + int(ep.get("weight") or 1)
        sources.setdefault(key, []).append(source_cluster(ep))
    # An endpoint listed twice (istiod knows its cluster under two names) gets a double share:
    # said as a fact, and a problem only when the shares come out unequal (below).
    facts = tuple(
        f"{role}: endpoint {ep} is listed {len(where)} times, as a workload of Istio clusters {join(where)}"
        for ep, where in sorted(sources.items())
        if len(where) > 1
    )
    for ep in sorted(set(expected_eps) - set(weights)):
        problems.append(f"{role}: endpoint {ep} ({expected_eps[ep]}) missing from the EDS")
    for ep in sorted(set(weights) - set(expected_eps)):
        problems.append(f"{role}: unexpected endpoint {ep} in the EDS")
    problems.extend(_weight_problems(role, weights, local_pod_ips, gateways))
    observed = f"{role}: {cluster} -> " + join([f"{ep} weight {w}" for ep, w in sorted(weights.items())])
    return Verdict("traffic/xds-endpoints", expected, observed, diagnostics,
                   problems=tuple(problems), facts=facts, evidence=evidence)  # fmt: skip


def source_cluster(endpoint: Mapping[str, Any]) -> str:
    """The Istio cluster an endpoint came from: the last field of its ``istio.workload``
    metadata (``name;namespace;app;version;cluster``), as istiod writes it."""
    metadata = endpoint.get("metadata") or {}
    workload = str(((metadata.get("filterMetadata") or {}).get("istio") or {}).get("workload") or "")
    return workload.rsplit(";", 1)[-1] if ";" in workload else "?"


def _weight_problems(
    role: Role,
    weights: Mapping[str, int],
    local_pod_ips: Mapping[str, str],
    gateways: tuple[NetworkGateway, ...],
) -> list[str]:
    """Each helloworld pod's share must be equal: a local endpoint's weight per pod equals a
    gateway endpoint's weight divided by the pods behind it."""
    per_pod: dict[str, float] = {}
    for ip in local_pod_ips:
        ep = f"{ip}:{HELLOWORLD_PORT}"
        if ep in weights:
            per_pod[ep] = float(weights[ep])
    for gateway in gateways:
        ep = f"{gateway.address}:{EASTWEST_PORT}"
        if gateway.address and ep in weights and gateway.pods > 0:
            per_pod[ep] = weights[ep] / gateway.pods
    if len(set(per_pod.values())) <= 1:
        return []
    shares = join([f"{ep} {share:g}" for ep, share in sorted(per_pod.items())])
    return [f"{role}: helloworld pods are not weighted equally (total weight per pod: {shares})"]
