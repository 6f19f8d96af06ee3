"""Config dumps recorded on the kwok tier, and the one change each judgment case needs.

The goldens are the synthetic proxies' config dumps of the curl clients of second-remote runs on
the kwok tier (the real external istiod of the pinned master source), trimmed to what the
helloworld judgment reads: the bootstrap node, listener ``0.0.0.0_5000``, route configuration
``5000``, the helloworld cluster and its EDS.

- ``second-remote-{remote,second}-curl-config-dump.json``: run eicp-12060923496b (the tier's
  command, rebased code); node, listener, route and cluster from the client's dump as the run
  wrote it, the EDS as the xDS check read it (the check's evidence of that run). Each lists the
  remote's endpoint twice, as Istio clusters ``config`` and the remote's own name (known issue
  config-cluster-registered-twice): the v1 pod for the remote's client, the remote's east-west
  gateway for the second's.
- ``second-remote-remote-missing-v2-curl-config-dump.json``: run eicp-1206073217bo, whose istiod
  never put the second network's helloworld in the EDS while the check waited (a recorded
  missing v2).

Every case starts from a recording and changes only what it is about (a weight, a locality, the
transport sockets; an entry shaped as a recorded one of its kind), so what the judgment reads
stays what istiod writes.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

GOLDENS = Path(__file__).parent / "goldens" / "xds"
CLUSTER = "outbound|5000||helloworld.sample.svc.cluster.local"
RUN = "eicp-12060923496b"
REMOTE_V1 = "10.20.0.2"  # the remote's helloworld v1 pod
SECOND_V2 = "10.30.0.2"  # the second's helloworld v2 pod
REMOTE_GATEWAY = "10.250.1.7"  # the remote's east-west gateway (its LoadBalancer address)
SECOND_GATEWAY = "10.250.1.8"  # the second's east-west gateway


def recorded(name: str) -> dict[str, Any]:
    """A recorded dump, a fresh copy: ``remote``, ``second`` or ``remote-missing-v2``."""
    data: dict[str, Any] = json.loads((GOLDENS / f"second-remote-{name}-curl-config-dump.json").read_text())
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
    entries: list[dict[str, Any]] = assignment(dump)["endpoints"][0]["lb_endpoints"]
    return entries


def port_of(entry: dict[str, Any]) -> int:
    return int(entry["endpoint"]["address"]["socket_address"]["port_value"])


def entry_like(template: dict[str, Any], address: str, port: int, *, source: str) -> dict[str, Any]:
    """A copy of a recorded endpoint entry with another address and source Istio cluster."""
    entry = copy.deepcopy(template)
    entry["endpoint"]["address"]["socket_address"] = {"address": address, "port_value": port}
    workload = entry["metadata"]["filter_metadata"]["istio"]["workload"]
    entry["metadata"]["filter_metadata"]["istio"]["workload"] = workload.rsplit(";", 1)[0] + f";{source}"
    return entry


def with_weights(dump: dict[str, Any], *, pod: int, gateway: int) -> dict[str, Any]:
    """Every pod entry (port 5000) at weight ``pod``, every gateway entry (15443) at ``gateway``."""
    for entry in lb_endpoints(dump):
        entry["load_balancing_weight"] = pod if port_of(entry) == 5000 else gateway
    return dump


def in_two_localities(
    dump: dict[str, Any], *, weights: tuple[int, int], locality_weighted: bool
) -> dict[str, Any]:
    """Local endpoints in zone ``a``, the gateway in zone ``b``, each a locality of its own with
    the given weights; optionally with locality-weighted load balancing configured."""
    endpoints = assignment(dump)["endpoints"]
    entries = endpoints[0]["lb_endpoints"]
    local = [e for e in entries if port_of(e) == 5000]
    remote = [e for e in entries if port_of(e) != 5000]
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
    (address, port, source Istio cluster), each entry shaped as the recorded one of its kind (a
    pod on port 5000, else an east-west gateway), weights as istiod gave them."""
    dump = recorded("remote")
    templates = {5000: lb_endpoints(dump)[0], 15443: lb_endpoints(dump)[-1]}
    group = assignment(dump)["endpoints"][0]
    group["lb_endpoints"] = [
        entry_like(templates[5000 if port == 5000 else 15443], address, port, source=source)
        for address, port, source in endpoints
    ]
    group["load_balancing_weight"] = sum(e["load_balancing_weight"] for e in group["lb_endpoints"])
    return dump
