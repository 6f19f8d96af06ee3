"""Envoy's rules as the data-plane judgments apply them (suites/evaluation/evaluators/envoy_*.py).

Real Envoy config dumps come from Istio's own test data at the pinned release-1.31 source (the
Go module istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad, read from the module cache):

- ``istioctl/pkg/describe/testdata/describe/http_config.json``: an ingress gateway's dump
  (route ``http.8080``, the ``productpage`` v1 cluster with Istio's auto-mTLS transport socket
  matches), as ``istioctl x describe`` reads it;
- ``istioctl/pkg/writer/envoy/configdump/testdata/endpoint/configdump.json``: a sidecar's EDS
  dump (``config_dump?include_eds``), as ``istioctl proxy-config endpoint`` reads it.

The priority, locality and weight rules are checked on small assignments built for each rule.
"""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

from suites.evaluation.evaluators.envoy_config import ConfigDump, path_matches, route_clusters, virtual_host
from suites.evaluation.evaluators.envoy_lb import listed_hosts, priority_loads, split
from suites.evaluation.evaluators.envoy_tls import ISTIO_MUTUAL, PLAINTEXT, transport_to
from tests.upstream import istio_file

RELEASE_131 = "v0.0.0-20260827124520-eed52ebb66ad"
ISTIO_TLS = {"filter_metadata": {"envoy.transport_socket_match": {"tlsMode": "istio"}}}


def upstream_dump(path: str) -> ConfigDump:
    return ConfigDump.parse(json.loads(istio_file(RELEASE_131, path)))


def test_a_real_gateway_dump_routes_to_an_istio_mutual_tls_cluster() -> None:
    dump = upstream_dump("istioctl/pkg/describe/testdata/describe/http_config.json")
    config = dump.routes["http.8080"]
    vhost = virtual_host(config["virtual_hosts"], "bookinfo.example:80")
    assert vhost is not None and vhost["name"] == "*:80"
    route = next(r for r in vhost["routes"] if path_matches(r["match"], "/productpage"))
    assert route_clusters(route["route"]) == (("outbound|9080||productpage.default.svc.cluster.local", 1),)
    assert not path_matches(route["match"], "/productpage/x")  # an exact path
    cluster = dump.clusters["outbound|9080|v1|productpage.default.svc.cluster.local"]
    assert (
        transport_to(cluster, ISTIO_TLS).describe()
        == f"{ISTIO_MUTUAL} (transport socket match tlsMode-istio)"
    )
    assert transport_to(cluster, {}).mode == PLAINTEXT  # tlsMode-disabled: a raw buffer


def test_a_real_sidecar_eds_dump_splits_by_weight() -> None:
    dump = upstream_dump("istioctl/pkg/writer/envoy/configdump/testdata/endpoint/configdump.json")
    assignment = dump.endpoints["outbound|9080||reviews.default.svc.cluster.local"]
    hosts = listed_hosts(assignment)
    assert [h.address for h in hosts] == ["10.244.0.192:9080", "10.244.0.193:9080", "10.244.0.195:9080"]
    assert {h.locality_weight for h in hosts} == {3} and all(h.healthy for h in hosts)
    computed = split({"lb_policy": "LEAST_REQUEST"}, assignment)
    assert computed.shares == dict.fromkeys((h.address for h in hosts), Fraction(1, 3))


def lb(address: str, weight: int = 1, health: str = "HEALTHY") -> dict[str, Any]:
    ip, port = address.split(":")
    return {
        "endpoint": {"address": {"socket_address": {"address": ip, "port_value": int(port)}}},
        "health_status": health,
        "load_balancing_weight": weight,
    }


def group(*endpoints: dict[str, Any], priority: int = 0, zone: str = "", weight: int = 1) -> dict[str, Any]:
    return {
        "locality": {"zone": zone} if zone else {},
        "lb_endpoints": list(endpoints),
        "priority": priority,
        "load_balancing_weight": weight,
    }


def test_duplicates_collapse_to_the_first_across_localities_and_priorities() -> None:
    assignment = {
        "endpoints": [group(lb("10.0.0.1:80", 5)), group(lb("10.0.0.1:80", 1), lb("10.0.0.2:80"), priority=1)]
    }
    hosts = listed_hosts(assignment)
    assert [(h.address, h.kept) for h in hosts] == [
        ("10.0.0.1:80", True),
        ("10.0.0.1:80", False),
        ("10.0.0.2:80", True),
    ]
    computed = split({"lb_policy": "ROUND_ROBIN"}, assignment)
    assert computed.shares == {"10.0.0.1:80": Fraction(1)}  # priority 0 is healthy: it takes it all


def test_priority_load_spills_over_by_health_and_overprovisioning() -> None:
    # 1 of 2 hosts healthy at P0: health min(100, 140 * 1 / 2) = 70; P1 takes the other 30.
    assignment = {
        "endpoints": [
            group(lb("10.0.0.1:80"), lb("10.0.0.2:80", health="UNHEALTHY")),
            group(lb("10.0.1.1:80"), priority=1),
        ]
    }
    assert split({}, assignment).shares == {
        "10.0.0.1:80": Fraction(70, 100),
        "10.0.1.1:80": Fraction(30, 100),
    }
    assert priority_loads([[], []], 140, False) is None


def test_localities_count_only_with_locality_weighted_load_balancing() -> None:
    assignment = {
        "endpoints": [
            group(lb("10.0.0.1:80"), zone="a", weight=1),
            group(lb("10.0.0.2:80"), lb("10.0.0.3:80"), zone="b", weight=3),
        ]
    }
    pooled = split({"lb_policy": "LEAST_REQUEST"}, assignment).shares
    assert set(pooled.values()) == {Fraction(1, 3)}
    weighted = split({"common_lb_config": {"locality_weighted_lb_config": {}}}, assignment).shares
    assert weighted == {
        "10.0.0.1:80": Fraction(1, 4),
        "10.0.0.2:80": Fraction(3, 8),
        "10.0.0.3:80": Fraction(3, 8),
    }


def test_random_ignores_weights_and_hash_policies_are_not_computed() -> None:
    assignment = {"endpoints": [group(lb("10.0.0.1:80", 3), lb("10.0.0.2:80", 1))]}
    assert split({"lb_policy": "ROUND_ROBIN"}, assignment).shares["10.0.0.1:80"] == Fraction(3, 4)
    assert split({"lb_policy": "RANDOM"}, assignment).shares["10.0.0.1:80"] == Fraction(1, 2)
    assert "not computed" in (split({"lb_policy": "RING_HASH"}, assignment).problem or "")
    assert "original destination" in (split({"type": "ORIGINAL_DST"}, assignment).problem or "")
