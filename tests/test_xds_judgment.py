"""The helloworld judgment (suites/evaluation/evaluators/xds.py) on config dumps recorded from the
kwok tier's real istiod (tests/xds_dumps.py), each case changed only as it needs:

- duplicate addresses: as recorded, v1 listed twice (Istio clusters ``config`` and the remote)
  beside the second network's gateway: Envoy keeps the first v1 entry, so 1:1 (passes); the
  second's client, as recorded, the remote's gateway twice: 1:1 too;
- unequal weights: the gateway at twice v1's weight: 1:2 (fails, with the shares);
- two localities: pooled without locality-weighted load balancing (1:1, passes); with it and
  locality weights 1:3, 1:3 (fails);
- a missing v2: as recorded in a run where istiod never sent the second network (fails, naming it);
- a plaintext cluster: no transport socket matches (fails: not Istio mutual TLS).
"""

from __future__ import annotations

from typing import Any

from suites.evaluation.evaluators.verdict import Verdict
from suites.evaluation.evaluators.xds import NetworkGateway, evaluate_helloworld_xds
from tests import xds_dumps as rec

SECOND = (NetworkGateway("second", rec.SECOND_GATEWAY, {"v2": 1}),)
SOURCE = "the synthetic proxy's config dump"


def judge(
    dump: dict[str, Any] | None, gateways: tuple[NetworkGateway, ...] = SECOND, **kwargs: Any
) -> Verdict:
    return evaluate_helloworld_xds(
        "remote",
        "curl-1",
        dump,
        SOURCE,
        "sample",
        {rec.REMOTE_V1: "v1"},
        gateways,
        diagnostics="diag",
        **kwargs,
    )


def test_duplicate_addresses_collapse_to_the_first_so_the_split_is_even() -> None:
    verdict = judge(rec.recorded("remote"))
    assert verdict.ok, verdict.message
    assert verdict.observed == (
        "remote: route configuration 5000 (listener 0.0.0.0_5000), virtual host "
        f"helloworld.sample.svc.cluster.local:5000, default -> {rec.REMOTE_V1}:5000 50%, {rec.SECOND_GATEWAY}:15443 50%"
    )
    assert (
        f"remote: {rec.CLUSTER}: {rec.REMOTE_V1}:5000 is listed 2 times, as a workload of Istio clusters "
        f"config, {rec.RUN}-remote; Envoy keeps the first, so its share is counted once"
    ) in verdict.facts
    assert "remote: by Envoy's rules the sidecar sends helloworld requests: v1 50%, v2 50%" in verdict.facts
    shown = verdict.evidence_always["remote-curl-1-helloworld-xds"][rec.CLUSTER][
        "endpoints and Envoy's split"
    ]
    assert [(e["address"], e["kept"], e["share"]) for e in shown] == [
        (f"{rec.REMOTE_V1}:5000", True, "50%"),
        (f"{rec.REMOTE_V1}:5000", False, "dropped (duplicate)"),
        (f"{rec.SECOND_GATEWAY}:15443", True, "50%"),
    ]


def test_the_second_clients_recording_counts_the_remotes_gateway_once() -> None:
    verdict = evaluate_helloworld_xds(
        "second", "curl-2", rec.recorded("second"), SOURCE, "sample", {rec.SECOND_V2: "v2"},
        (NetworkGateway("remote", rec.REMOTE_GATEWAY, {"v1": 1}),), diagnostics="diag",
    )  # fmt: skip
    assert verdict.ok, verdict.message
    assert f"second: {rec.CLUSTER}: {rec.REMOTE_GATEWAY}:15443 is listed 2 times" in " ".join(verdict.facts)


def test_unequal_weights_give_unequal_shares() -> None:
    verdict = judge(rec.with_weights(rec.recorded("remote"), pod=2, gateway=4))
    assert verdict.problems == (
        "remote: helloworld pods do not get equal shares by Envoy's rules (each should get 50%): "
        f"each of second's 1 pod(s) 66.67%, v1 pod {rec.REMOTE_V1} 33.33%",
    )


def test_two_localities_are_one_pool_unless_locality_weighted_load_balancing_is_configured() -> None:
    pooled = rec.in_two_localities(rec.recorded("remote"), weights=(1, 3), locality_weighted=False)
    assert judge(pooled).ok
    weighted = rec.in_two_localities(rec.recorded("remote"), weights=(1, 3), locality_weighted=True)
    verdict = judge(weighted)
    assert verdict.problems == (
        "remote: helloworld pods do not get equal shares by Envoy's rules (each should get 50%): "
        f"each of second's 1 pod(s) 75%, v1 pod {rec.REMOTE_V1} 25%",
    )
    assert any("locality-weighted load balancing" in fact for fact in verdict.facts)


def test_a_missing_v2_is_named() -> None:
    gateway = "10.250.2.8"  # the second's east-west gateway in the run that recorded it
    verdict = judge(rec.recorded("remote-missing-v2"), (NetworkGateway("second", gateway, {"v2": 1}),))
    assert verdict.problems == (
        f"remote: endpoint {gateway}:15443 (second's east-west gateway (1 pod(s))) gets no request "
        "(missing from the EDS)",
    )
    assert "remote: by Envoy's rules the sidecar sends helloworld requests: v1 100%" in verdict.facts


def test_a_plaintext_cluster_fails() -> None:
    verdict = judge(rec.plaintext(rec.recorded("remote")))
    assert verdict.problems == (
        f"remote: {rec.CLUSTER}: a sidecar reaches {rec.REMOTE_V1}:5000 with plaintext (no transport socket), not Istio mutual TLS",
        f"remote: {rec.CLUSTER}: a sidecar reaches {rec.SECOND_GATEWAY}:15443 with plaintext (no transport socket), not Istio mutual TLS",
    )


def test_no_config_says_why() -> None:
    why = "remote: no synthetic proxy runs for sample/curl-1"
    verdict = judge(None, problems_before=(why,))
    assert verdict.problems == (why, f"remote: no config of curl-1's sidecar ({SOURCE})")


def test_a_route_elsewhere_is_named() -> None:
    dump = rec.recorded("remote")
    config = rec.part(dump, "RoutesConfigDump")["dynamic_route_configs"][0]["route_config"]
    config["virtual_hosts"] = [vh for vh in config["virtual_hosts"] if vh["name"] == "allow_any"]
    verdict = judge(dump)
    assert (
        "remote: the route leads to cluster PassthroughCluster, which the CDS does not hold"
        in verdict.problems
    )
    assert (
        f"remote: endpoint {rec.REMOTE_V1}:5000 (helloworld v1 pod) gets no request (missing from the EDS)"
        in verdict.problems
    )
