"""The xDS-level traffic evaluator (kwok mode), pure: what the client's proxy received for helloworld.

``RECEIVED`` is shaped as programs/xdsclient writes it (its JSON output, trimmed).
"""

from __future__ import annotations

from typing import Any

from suites.evaluation.evaluators.xds import NetworkGateway, evaluate_helloworld_eds, helloworld_cluster

CLUSTER = helloworld_cluster("sample")
V1_IP = "10.1.0.7"
EASTWEST = "10.250.1.9"


def received(*endpoints: tuple[str, int, int]) -> dict[str, Any]:
    return {
        "identity": "spiffe://cluster.local/ns/sample/sa/curl",
        "clusters": ["BlackHoleCluster", CLUSTER, "outbound|80||curl.sample.svc.cluster.local"],
        "cluster_types": {CLUSTER: "EDS"},
        "endpoints": {
            CLUSTER: [
                {"address": address, "port": port, "weight": weight, "locality": ""}
                for address, port, weight in endpoints
            ]
        },
    }


def judge(data: dict[str, Any] | None, gateways: tuple[NetworkGateway, ...] = (), **kwargs: Any) -> Any:
    return evaluate_helloworld_eds(
        "remote", "curl-1", data, CLUSTER, {V1_IP: "v1"}, gateways, diagnostics="diag", **kwargs
    )


SECOND = (NetworkGateway("second", EASTWEST, 1),)


def test_helloworld_cluster_name() -> None:
    assert CLUSTER == "outbound|5000||helloworld.sample.svc.cluster.local"


def test_v1_endpoint_alone_passes() -> None:
    verdict = judge(received((V1_IP, 5000, 1)))
    assert verdict.ok, verdict.message
    assert f"{V1_IP}:5000 weight 1" in verdict.observed


def test_v1_and_the_second_networks_gateway_with_equal_weights_pass() -> None:
    verdict = judge(received((V1_IP, 5000, 1), (EASTWEST, 15443, 1)), SECOND)
    assert verdict.ok, verdict.message
    assert f"{EASTWEST}:15443 (second's east-west gateway (1 pod(s)))" in verdict.expected


def test_a_gateway_weighted_per_pod_behind_it_passes() -> None:
    two = (NetworkGateway("second", EASTWEST, 2),)
    assert judge(received((V1_IP, 5000, 1), (EASTWEST, 15443, 2)), two).ok


def test_unequal_weights_fail() -> None:
    verdict = judge(received((V1_IP, 5000, 1), (EASTWEST, 15443, 3)), SECOND)
    assert not verdict.ok
    assert any("not weighted equally" in problem for problem in verdict.problems)


def test_missing_gateway_endpoint_fails() -> None:
    verdict = judge(received((V1_IP, 5000, 1)), SECOND)
    assert verdict.problems == (
        f"remote: endpoint {EASTWEST}:15443 (second's east-west gateway (1 pod(s))) missing from the EDS",
    )


def test_an_unexpected_endpoint_fails() -> None:
    verdict = judge(received((V1_IP, 5000, 1), ("10.1.0.99", 5000, 1)))
    assert verdict.problems == ("remote: unexpected endpoint 10.1.0.99:5000 in the EDS",)


def test_no_helloworld_cluster_fails() -> None:
    data = received()
    data["clusters"] = ["BlackHoleCluster"]
    data["endpoints"] = {}
    verdict = judge(data)
    assert f"remote: no cluster {CLUSTER} in the CDS istiod sent" in verdict.problems
    assert f"remote: endpoint {V1_IP}:5000 (helloworld v1 pod) missing from the EDS" in verdict.problems


def test_nothing_received_fails_with_why_the_proxy_did_not_start() -> None:
    why = "remote: synthetic proxies could not be started: Unauthenticated"
    verdict = judge(None, problems_before=(why,))
    assert verdict.problems == (why, "remote: curl-1's synthetic proxy has received no xDS")


def test_a_gateway_without_address_fails() -> None:
    verdict = judge(received((V1_IP, 5000, 1)), (NetworkGateway("second", None, 1),))
    assert verdict.problems == ("remote: second's east-west gateway has no LoadBalancer address",)


def test_an_endpoint_listed_under_two_cluster_names_is_a_fact_and_unequal_shares_fail() -> None:
    """As recorded on the kwok tier: istiod knows the remote cluster both by its name and as
    ``config`` (the ``istio-kubeconfig`` secret under LOCAL_CLUSTER_SECRET_WATCHER)."""
    data = received()
    data["endpoints"][CLUSTER] = [
        {
            "address": V1_IP,
            "port": 5000,
            "weight": 2,
            "metadata": _workload("helloworld-v1;sample;helloworld;v1;config"),
        },
        {
            "address": V1_IP,
            "port": 5000,
            "weight": 2,
            "metadata": _workload("helloworld-v1;sample;helloworld;v1;remote"),
        },
        {"address": EASTWEST, "port": 15443, "weight": 2, "metadata": _workload(";;;;second")},
    ]
    verdict = judge(data, SECOND)
    assert verdict.facts == (
        f"remote: endpoint {V1_IP}:5000 is listed 2 times, as a workload of Istio clusters config, remote",
    )
    assert verdict.problems == (
        f"remote: helloworld pods are not weighted equally (total weight per pod: {V1_IP}:5000 4, {EASTWEST}:15443 2)",
    )
    data["endpoints"][CLUSTER] = data["endpoints"][CLUSTER][:2]
    alone = judge(data)
    assert alone.ok and alone.facts, alone.message


def _workload(value: str) -> dict[str, Any]:
    return {"filterMetadata": {"istio": {"workload": value}}}
