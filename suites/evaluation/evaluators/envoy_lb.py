"""The split of requests a sidecar makes across one cluster's endpoints, by Envoy's own rules.

Each rule is Envoy's, as its code implements it (envoyproxy/envoy; paths in that repository):

- **Duplicate addresses collapse to the first.** ``source/extensions/clusters/eds/eds.cc``,
  ``BatchUpdateHelper::updateLocalityEndpoints``: "When the configuration contains duplicate
  hosts, only the first one will be retained": one set of addresses (``ip:port``) per update,
  across every locality and priority of the assignment, in the order they are listed. Envoy's
  own config dump of EDS is built from the resulting host sets (``source/server/admin/
  config_dump_handler.cc``, ``addLbEndpoint``), so a real sidecar's dump shows the survivors;
  the synthetic proxy's shows what istiod sent. Both collapse the same way here.
- **Priorities.** ``source/extensions/load_balancing_policies/common/load_balancer_impl.cc``,
  ``recalculatePerPriorityState``/``distributeLoad``: a priority's health is
  ``min(100, overprovisioning_factor * healthy / total)`` (hosts counted, or weighted with
  ``weighted_priority_health``; factor 140 unless the assignment's policy says otherwise);
  load goes to priority 0 first, each level taking ``health * 100 / normalized total``
  (integer percent, the remainder to the first healthy level) until 100 is given out.
- **Localities.** Only with ``common_lb_config.locality_weighted_lb_config``: a locality is
  picked by ``weight * min(1, factor/100 * healthy/total)`` (``locality_wrr.cc``,
  ``effectiveLocalityWeight``), then a host within it. Otherwise the hosts of every locality
  of a priority are one pool (zone-aware routing needs a local cluster, which Istio does not
  configure).
- **Hosts.** ``ROUND_ROBIN`` and ``LEAST_REQUEST`` pick hosts in proportion to their
  ``load_balancing_weight`` (weighted round robin / EDF; least request with equal active
  requests, as sequential requests have), default 1; ``RANDOM`` picks uniformly
  (``random_lb.cc``: ``hosts_to_use[random_hash % hosts_to_use.size()]``). Hash-based and other
  policies are not computed (a problem says so); an ``ORIGINAL_DST`` cluster has no split.

Health: ``HEALTHY`` and ``UNKNOWN`` (or none) are healthy, ``DEGRADED`` degraded, the rest
(``UNHEALTHY``, ``DRAINING``, ``TIMEOUT``) take no load while enough healthy hosts remain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from suites.evaluation.evaluators.envoy_config import Obj, get

DEFAULT_OVERPROVISIONING = 140
WEIGHTED_POLICIES = ("ROUND_ROBIN", "LEAST_REQUEST")
HEALTHY = ("HEALTHY", "UNKNOWN", "")


@dataclass(frozen=True)
class Host:
    """One endpoint as listed in an assignment (``kept`` is False for a dropped duplicate)."""

    address: str  # ip:port
    weight: int
    priority: int
    locality: str
    locality_weight: int
    health: str
    metadata: Obj
    kept: bool = True

    @property
    def healthy(self) -> bool:
        return self.health in HEALTHY


@dataclass(frozen=True)
class Split:
    """The share of requests each kept host gets, and what the computation noted."""

    shares: dict[str, Fraction]  # address -> share of requests (sums to 1 when any host takes load)
    hosts: tuple[Host, ...]  # every endpoint as listed, duplicates marked
    notes: tuple[str, ...]
    problem: str | None = None


def listed_hosts(assignment: Obj | None) -> tuple[Host, ...]:
    """Every endpoint of an assignment in Envoy's order, the later copies of an address marked
    as dropped (``eds.cc``: only the first is retained)."""
    hosts: list[Host] = []
    seen: set[str] = set()
    for group in get(assignment, "endpoints", []) or []:
        locality = "/".join(
            str(get(get(group, "locality"), key, "") or "") for key in ("region", "zone", "sub_zone")
        ).strip("/")
        locality_weight = int(get(group, "load_balancing_weight", 0) or 0)
        priority = int(get(group, "priority", 0) or 0)
        for entry in get(group, "lb_endpoints", []) or []:
            socket = get(get(get(entry, "endpoint"), "address"), "socket_address") or {}
            address = f"{get(socket, 'address', '?')}:{get(socket, 'port_value', 0)}"
            hosts.append(
                Host(
                    address,
                    int(get(entry, "load_balancing_weight", 1) or 1),
                    priority,
                    locality,
                    locality_weight,
                    str(get(entry, "health_status", "") or ""),
                    get(entry, "metadata") or {},
                    kept=address not in seen,
                )
            )
            seen.add(address)
    return tuple(hosts)


def split(cluster: Obj, assignment: Obj | None) -> Split:
    """The share each host of ``cluster`` gets, from ``assignment`` (its EDS or inline endpoints)."""
    hosts = listed_hosts(assignment)
    kept = [host for host in hosts if host.kept]  # the dropped duplicates stay in ``hosts``, marked
    notes: list[str] = []
    if get(cluster, "type") == "ORIGINAL_DST":
        return Split(
            {}, hosts, tuple(notes), "an ORIGINAL_DST cluster: each request goes to its original destination"
        )
    policy = str(get(cluster, "lb_policy", "ROUND_ROBIN") or "ROUND_ROBIN")
    if policy not in (*WEIGHTED_POLICIES, "RANDOM"):
        return Split(
            {}, hosts, tuple(notes), f"load balancing policy {policy}: its split is not computed here"
        )
    if not kept:
        return Split({}, hosts, tuple(notes), "no endpoint")
    policy_block = get(assignment, "policy") or {}
    factor = int(
        get(policy_block, "overprovisioning_factor", DEFAULT_OVERPROVISIONING) or DEFAULT_OVERPROVISIONING
    )
    weighted_health = bool(get(policy_block, "weighted_priority_health", False))
    by_priority: dict[int, list[Host]] = {}
    for host in kept:
        by_priority.setdefault(host.priority, []).append(host)
    levels = [by_priority.get(level, []) for level in range(max(by_priority) + 1)]
    loads = priority_loads(levels, factor, weighted_health)
    if loads is None:
        return Split({}, hosts, tuple(notes), "no healthy endpoint in any priority")
    if len(levels) > 1:
        notes.append("priority load: " + ", ".join(f"P{i} {load}%" for i, load in enumerate(loads)))
    locality_weighted = get(get(cluster, "common_lb_config"), "locality_weighted_lb_config") is not None
    shares: dict[str, Fraction] = {}
    for level, load in zip(levels, loads, strict=True):
        if load == 0:
            continue
        pool = [host for host in level if host.healthy] or level
        within = (
            _locality_weighted(pool, level, factor, policy) if locality_weighted else _by_host(pool, policy)
        )
        for address, share in within.items():
            shares[address] = shares.get(address, Fraction(0)) + Fraction(load, 100) * share
    if locality_weighted:
        notes.append("locality-weighted load balancing: localities picked by their weight, then hosts")
    return Split(shares, hosts, tuple(notes))


def priority_loads(levels: list[list[Host]], factor: int, weighted: bool) -> list[int] | None:
    """Percent of requests per priority level (``recalculatePerPriorityState``), healthy hosts only."""
    health = []
    for level in levels:
        total = sum(h.weight for h in level) if weighted else len(level)
        healthy = sum(h.weight for h in level if h.healthy) if weighted else sum(h.healthy for h in level)
        health.append(min(100, factor * healthy // total) if total else 0)
    normalized = min(100, sum(health))
    if normalized == 0:
        return None
    remaining = 100
    loads = []
    for value in health:
        load = min(remaining, value * 100 // normalized)
        loads.append(load)
        remaining -= load
    if remaining:
        first = next(i for i, value in enumerate(health) if value > 0)
        loads[first] += remaining
    return loads


def _by_host(pool: list[Host], policy: str) -> dict[str, Fraction]:
    weights = {host.address: (host.weight if policy in WEIGHTED_POLICIES else 1) for host in pool}
    total = sum(weights.values())
    return {address: Fraction(weight, total) for address, weight in weights.items()}


def _locality_weighted(pool: list[Host], level: list[Host], factor: int, policy: str) -> dict[str, Fraction]:
    effective: dict[str, Fraction] = {}
    for locality in dict.fromkeys(host.locality for host in level):
        members = [host for host in level if host.locality == locality]
        eligible = [host for host in pool if host.locality == locality]
        availability = min(Fraction(1), Fraction(factor, 100) * Fraction(len(eligible), len(members)))
        weight = members[0].locality_weight * availability
        if weight > 0 and eligible:
            effective[locality] = weight
    total = sum(effective.values(), Fraction(0))
    if total == 0:  # no locality can be picked: Envoy falls back to every host of the priority
        return _by_host(pool, policy)
    shares: dict[str, Fraction] = {}
    for locality, weight in effective.items():
        within = _by_host([host for host in pool if host.locality == locality], policy)
        for address, share in within.items():
            shares[address] = weight / total * share
    return shares


def describe(shares: Mapping[str, Fraction]) -> str:
    return ", ".join(f"{address} {percent(share)}" for address, share in sorted(shares.items()))


def percent(share: Fraction | float) -> str:
    return f"{float(share) * 100:.4g}%"


def evidence_of(hosts: tuple[Host, ...], shares: Mapping[str, Fraction]) -> list[dict[str, Any]]:
    """The endpoints as listed, each with Envoy's verdict on it, for a report."""
    return [
        {
            "address": host.address,
            "weight": host.weight,
            "priority": host.priority,
            "locality": host.locality,
            "localityWeight": host.locality_weight,
            "health": host.health or "(none)",
            "kept": host.kept,
            "share": percent(shares.get(host.address, 0)) if host.kept else "dropped (duplicate)",
        }
        for host in hosts
    ]
