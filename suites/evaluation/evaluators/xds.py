"""What a client's sidecar would do with ``http://helloworld.<ns>:5000/hello``, judged from its
config (every mode): route, cluster, transport, endpoints and the split by Envoy's rules.

The config is an Envoy config dump (suites/evaluation/evaluators/envoy_config.py): the real
sidecar's on kind and existing clusters, kwok mode's synthetic proxy's (what the real istiod
sent it) in kwok mode. From the listener on port 5000 the route for ``helloworld.<ns>:5000``
leads to its cluster(s); every endpoint must be reached with Istio mutual TLS
(envoy_tls.py); the endpoints must be exactly the helloworld pods of the client's own network
(pod IP, port 5000) and, per other network running helloworld, its east-west gateway
(LoadBalancer address, port 15443); and the split Envoy makes of them (envoy_lb.py: duplicate
addresses collapse to the first, weights, priorities, localities) must give every helloworld
pod the same share. The evidence holds the endpoints as listed and the computed split.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from scenarios.steps import Role
from suites.evaluation.evaluators.envoy_config import ConfigDump, Obj, get
from suites.evaluation.evaluators.envoy_lb import Host, evidence_of, percent, split
from suites.evaluation.evaluators.envoy_tls import ISTIO_MUTUAL, transport_to
from suites.evaluation.evaluators.k8s import join
from suites.evaluation.evaluators.verdict import Verdict

HELLOWORLD_PORT = 5000
EASTWEST_PORT = 15443  # the east-west gateway's mTLS passthrough port (AUTO_PASSTHROUGH)
CHECK = "traffic/xds-endpoints"


def helloworld_cluster(namespace: str) -> str:
    """The outbound cluster name a sidecar gets for the helloworld Service of ``namespace``."""
    return f"outbound|{HELLOWORLD_PORT}||helloworld.{namespace}.svc.cluster.local"


@dataclass(frozen=True)
class NetworkGateway:
    """Another network's helloworld pods, as the client's network reaches them."""

    role: Role
    address: str | None  # the east-west gateway's LoadBalancer address (None: it has none)
    versions: Mapping[str, int] = field(default_factory=dict)  # helloworld version -> pods there

    @property
    def pods(self) -> int:
        return sum(self.versions.values())


@dataclass(frozen=True)
class HelloworldSplit:
    """What the client's sidecar does with a helloworld request, by Envoy's rules."""

    route: str
    problems: tuple[str, ...]
    facts: tuple[str, ...]
    shares: dict[str, Fraction]  # endpoint -> share of requests
    by_version: dict[str, Fraction]  # helloworld version -> share of requests
    evidence: dict[str, Any]


def _source_cluster(host: Host) -> str:
    """The Istio cluster an endpoint came from: the last field of istiod's ``istio.workload``
    metadata (``name;namespace;app;version;cluster``)."""
    workload = str(get(get(get(host.metadata, "filter_metadata"), "istio"), "workload", "") or "")
    return workload.rsplit(";", 1)[-1] if ";" in workload else "?"


def helloworld_split(
    dump: Obj,
    namespace: str,
    local_pod_ips: Mapping[str, str],
    gateways: tuple[NetworkGateway, ...],
) -> HelloworldSplit:
    """Route, transport and split of ``GET http://helloworld.<ns>:5000/hello`` in ``dump``.

    ``local_pod_ips``: pod IP -> helloworld version in the client's cluster; ``gateways``:
    the other networks running helloworld.
    """
    config = ConfigDump.parse(dump)
    routed = config.route(HELLOWORLD_PORT, f"helloworld.{namespace}:{HELLOWORLD_PORT}", "/hello")
    problems: list[str] = [] if routed.problem is None else [routed.problem]
    facts: list[str] = []
    evidence: dict[str, Any] = {}
    shares: dict[str, Fraction] = {}
    total_weight = sum(weight for _, weight in routed.clusters)
    for name, weight in routed.clusters:
        cluster = config.clusters.get(name)
        if cluster is None:
            problems.append(f"the route leads to cluster {name}, which the CDS does not hold")
            continue
        assignment = config.assignment_of(name)
        computed = split(cluster, assignment)
        evidence[name] = {
            "endpoints and Envoy's split": evidence_of(computed.hosts, computed.shares),
            "cluster": dict(cluster),
            "assignment": dict(assignment or {}),
        }
        facts.extend(f"{name}: {note}" for note in computed.notes)
        if computed.problem is not None:
            problems.append(f"{name}: {computed.problem}")
        for host in computed.hosts:
            if not host.kept:
                continue
            transport = transport_to(cluster, host.metadata)
            if transport.mode != ISTIO_MUTUAL:
                problems.append(
                    f"{name}: a sidecar reaches {host.address} with {transport.describe()}, not Istio mutual TLS"
                )
        for host in computed.hosts:
            sources = [_source_cluster(h) for h in computed.hosts if h.address == host.address]
            if host.kept and len(sources) > 1:
                facts.append(
                    f"{name}: {host.address} is listed {len(sources)} times, as a workload of Istio "
                    f"clusters {join(sources)}; Envoy keeps the first, so its share is counted once"
                )
        for address, share in computed.shares.items():
            routed_share = share * Fraction(weight, total_weight or 1)
            shares[address] = shares.get(address, Fraction(0)) + routed_share
    by_version = _by_version(shares, local_pod_ips, gateways)
    facts.append(
        "by Envoy's rules the sidecar sends helloworld requests: "
        + (", ".join(f"{v} {percent(s)}" for v, s in sorted(by_version.items())) or "nowhere")
    )
    return HelloworldSplit(routed.where, tuple(problems), tuple(facts), shares, by_version, evidence)


def _by_version(
    shares: Mapping[str, Fraction], local_pod_ips: Mapping[str, str], gateways: tuple[NetworkGateway, ...]
) -> dict[str, Fraction]:
    """Shares per helloworld version: a pod's own, or a gateway's divided over the pods behind it."""
    out: dict[str, Fraction] = {}
    for address, share in shares.items():
        ip, _, port = address.rpartition(":")
        if port == str(HELLOWORLD_PORT) and ip in local_pod_ips:
            version = local_pod_ips[ip]
            out[version] = out.get(version, Fraction(0)) + share
            continue
        gateway = next((g for g in gateways if f"{g.address}:{EASTWEST_PORT}" == address), None)
        if gateway is None or gateway.pods == 0:
            out["elsewhere"] = out.get("elsewhere", Fraction(0)) + share
            continue
        for version, pods in gateway.versions.items():
            out[version] = out.get(version, Fraction(0)) + share * Fraction(pods, gateway.pods)
    return out


def evaluate_helloworld_xds(
    role: Role,
    client: str,
    dump: Obj | None,
    source: str,
    namespace: str,
    local_pod_ips: Mapping[str, str],
    gateways: tuple[NetworkGateway, ...],
    *,
    diagnostics: str,
    problems_before: tuple[str, ...] = (),
) -> Verdict:
    """Judge the helloworld route of ``client``'s sidecar in ``role`` from its config ``dump``
    (``source`` says whose: the real Envoy's or the synthetic proxy's)."""
    expected_eps = {
        f"{ip}:{HELLOWORLD_PORT}": f"helloworld {version} pod" for ip, version in local_pod_ips.items()
    }
    for gateway in gateways:
        if gateway.address:
            expected_eps[f"{gateway.address}:{EASTWEST_PORT}"] = (
                f"{gateway.role}'s east-west gateway ({gateway.pods} pod(s))"
            )
    pods = len(local_pod_ips) + sum(g.pods for g in gateways)
    expected = (
        f"{role}: {client}'s sidecar ({source}) routes helloworld.{namespace}:{HELLOWORLD_PORT} to "
        + join([f"{ep} ({what})" for ep, what in sorted(expected_eps.items())])
        + f" (no other endpoint) with Istio mutual TLS, each of the {pods} helloworld pod(s) getting "
        + (percent(Fraction(1, pods)) if pods else "an equal share")
        + " by Envoy's rules"
    )
    problems = list(problems_before)
    problems += [
        f"{role}: {g.role}'s east-west gateway has no LoadBalancer address" for g in gateways if not g.address
    ]
    if dump is None:
        problems.append(f"{role}: no config of {client}'s sidecar ({source})")
        return Verdict(CHECK, expected, f"{role}: nothing to judge", diagnostics, problems=tuple(problems))
    judged = helloworld_split(dump, namespace, local_pod_ips, gateways)
    problems += [f"{role}: {problem}" for problem in judged.problems]
    seen = set(judged.shares)
    for ep in sorted(set(expected_eps) - seen):
        problems.append(f"{role}: endpoint {ep} ({expected_eps[ep]}) gets no request (missing from the EDS)")
    for ep in sorted(seen - set(expected_eps)):
        problems.append(f"{role}: unexpected endpoint {ep} gets {percent(judged.shares[ep])} of requests")
    if pods and not problems:
        per_pod = _per_pod_shares(judged.shares, local_pod_ips, gateways)
        if any(share != Fraction(1, pods) for share in per_pod.values()):
            problems.append(
                f"{role}: helloworld pods do not get equal shares by Envoy's rules (each should get "
                f"{percent(Fraction(1, pods))}): "
                + ", ".join(f"{what} {percent(share)}" for what, share in sorted(per_pod.items()))
            )
    observed = f"{role}: {judged.route} -> " + (
        ", ".join(f"{ep} {percent(share)}" for ep, share in sorted(judged.shares.items())) or "no endpoint"
    )
    return Verdict(
        CHECK,
        expected,
        observed,
        diagnostics,
        problems=tuple(problems),
        facts=tuple(f"{role}: {fact}" for fact in judged.facts),
        evidence_always={f"{role}-{client}-helloworld-xds": {"route": judged.route, **judged.evidence}},
    )


def _per_pod_shares(
    shares: Mapping[str, Fraction], local_pod_ips: Mapping[str, str], gateways: tuple[NetworkGateway, ...]
) -> dict[str, Fraction]:
    per_pod: dict[str, Fraction] = {}
    for ip, version in local_pod_ips.items():
        per_pod[f"{version} pod {ip}"] = shares.get(f"{ip}:{HELLOWORLD_PORT}", Fraction(0))
    for gateway in gateways:
        if gateway.address and gateway.pods:
            share = shares.get(f"{gateway.address}:{EASTWEST_PORT}", Fraction(0)) / gateway.pods
            per_pod[f"each of {gateway.role}'s {gateway.pods} pod(s)"] = share
    return per_pod
