"""Config dumps recorded on the kwok tier, and the one change each judgment case needs.

``tests/goldens/xds/second-remote-*-curl-config-dump.json`` are the synthetic proxies' config
dumps of the curl clients of a second-remote run on the kwok tier (the real external istiod of
the pinned master source; run eicp-1206073217bo), trimmed to what the helloworld judgment reads:
the bootstrap node, listener ``0.0.0.0_5000``, route configuration ``5000``, the helloworld
cluster and its EDS. As recorded, each lists its endpoints twice (known issue
config-cluster-registered-twice: Istio clusters ``config`` and the remote's own name); the
second network's helloworld was not in istiod's EDS when they were taken.

Every case starts from a recording and changes only what it is about (an entry added from a
recorded one of the same kind, a weight, a locality, the transport sockets), so what the
judgment reads stays what istiod writes.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

GOLDENS = Path(__file__).parent / "goldens" / "xds"
CLUSTER = "outbound|5000||helloworld.sample.svc.cluster.local"
RUN = "eicp-1206073217bo"
REMOTE_V1 = "10.20.0.2"  # the remote's helloworld v1 pod, as recorded
REMOTE_GATEWAY = "10.250.2.7"  # the remote's east-west gateway, as the second's client has it
SECOND_GATEWAY = "10.250.2.8"  # the second's east-west gateway (its LoadBalancer address in that run)
SECOND_V2 = "10.30.0.2"  # the second's helloworld v2 pod in that run


def recorded(client_role: str) -> dict[str, Any]:
    """The recorded dump of ``client_role``'s curl (``remote`` or ``second``), a fresh copy."""
    data: dict[str, Any] = json.loads(
        (GOLDENS / f"second-remote-{client_role}-curl-config-dump.json").read_text()
    )
    return data


def part(dump: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in dump["configs"] if p["@type"].endswith(f".{kind}"))
    return found


def assignment(dump: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = part(dump, "EndpointsConfigDump")["dynamic_endpoint_configs"][0][
        "endpoint_config"
    ]
    assert entry["cluster_name"] == CLUSTER
    return entry


def cluster(dump: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = part(dump, "ClustersConfigDump")["dynamic_active_clusters"][0]["cluster"]
    assert found["name"] == CLUSTER
    return found


def lb_endpoints(dump: dict[str, Any]) -> list[dict[str, Any]]:
    return list(assignment(dump)["endpoints"][0]["lb_endpoints"])


def entry_like(
    template: dict[str, Any], address: str, port: int, *, source: str, weight: int | None = None
) -> dict[str, Any]:
    """A copy of a recorded endpoint entry with another address, source cluster and weight."""
    entry = copy.deepcopy(template)
    entry["endpoint"]["address"]["socket_address"] = {"address": address, "port_value": port}
    workload = entry["metadata"]["filter_metadata"]["istio"]["workload"]
    entry["metadata"]["filter_metadata"]["istio"]["workload"] = workload.rsplit(";", 1)[0] + f";{source}"
    if weight is not None:
        entry["load_balancing_weight"] = weight
    return entry


def with_second_network(dump: dict[str, Any], *, gateway_weight: int = 2) -> dict[str, Any]:
    """The remote client's dump with the second network's helloworld behind its east-west gateway,
    entered as istiod enters a remote network's gateway (the shape the second's client recorded)."""
    gateway_template = lb_endpoints(recorded("second"))[0]
    entry = entry_like(gateway_template, SECOND_GATEWAY, 15443, source=f"{RUN}-second", weight=gateway_weight)
    group = assignment(dump)["endpoints"][0]
    group["lb_endpoints"].append(entry)
    group["load_balancing_weight"] = sum(e["load_balancing_weight"] for e in group["lb_endpoints"])
    return dump


def in_two_localities(
    dump: dict[str, Any], *, weights: tuple[int, int], locality_weighted: bool
) -> dict[str, Any]:
    """Local endpoints in zone ``a``, the gateway in zone ``b``, each a locality of its own with
    the given weights; optionally with locality-weighted load balancing configured."""
    endpoints = assignment(dump)["endpoints"]
    entries = endpoints[0]["lb_endpoints"]
    local = [e for e in entries if e["endpoint"]["address"]["socket_address"]["port_value"] == 5000]
    remote = [e for e in entries if e not in local]
    endpoints[:] = [
        {
            "locality": {"region": "r", "zone": "a"},
            "lb_endpoints": local,
            "load_balancing_weight": weights[0],
        },
        {
            "locality": {"region": "r", "zone": "b"},
            "lb_endpoints": remote,
            "load_balancing_weight": weights[1],
        },
    ]
    if locality_weighted:
        cluster(dump).setdefault("common_lb_config", {})["locality_weighted_lb_config"] = {}
    return dump


def plaintext(dump: dict[str, Any]) -> dict[str, Any]:
    """The helloworld cluster without Istio's transport socket matches (as with a DestinationRule
    setting ``tls.mode: DISABLE``): every endpoint reached in plaintext."""
    cluster(dump).pop("transport_socket_matches", None)
    return dump


def helloworld_dump(*endpoints: tuple[str, int, str]) -> dict[str, Any]:
    """The recorded remote client's dump with the helloworld EDS holding exactly ``endpoints``
    (address, port, source Istio cluster), each entry shaped as a recorded one of its kind (a pod
    on port 5000, else an east-west gateway), weights as istiod gave them (2)."""
    dump = recorded("remote")
    pod_template = lb_endpoints(dump)[0]
    gateway_template = lb_endpoints(recorded("second"))[0]
    group = assignment(dump)["endpoints"][0]
    group["lb_endpoints"] = [
        entry_like(pod_template if port == 5000 else gateway_template, address, port, source=source)
        for address, port, source in endpoints
    ]
    group["load_balancing_weight"] = sum(e["load_balancing_weight"] for e in group["lb_endpoints"])
    return dump
