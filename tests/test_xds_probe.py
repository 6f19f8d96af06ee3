"""The upgrade's xDS-level probe (kwok mode's stand-in for the traffic probe): a proxy's stream
log read into stretches with and without a synced stream carrying the helloworld endpoints
(clusters/kwok/stream_log.py), the probe's result (clusters/kwok/xds_probe.py) and its verdict
(suites/evaluation/evaluators/upgrade_probe.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clusters.kwok.istiod_host import IstiodRun
from clusters.kwok.stream_log import carries_versions, good_intervals, longest_gap, read_events, streams
from clusters.kwok.xds_probe import XdsUpgradeProbe, probes_for, served_by
from clusters.kwok.xds_proxies import SyntheticProxies, SyntheticProxy
from suites.evaluation.evaluators.upgrade_probe import evaluate_xds_probe

CLUSTER = "outbound|5000||helloworld.sample.svc.cluster.local"
V1 = [{"ep": "10.20.0.5:5000", "version": "v1"}]
A, B = "docker.io/istio/pilot:1.31-dev.b01690e6db7d", "docker.io/istio/pilot:1.31-dev.eed52ebb66ad"
CARRIES = carries_versions(("v1",), 0, 5000, 15443)


def eds(at: float, endpoints: list[dict[str, str]], cluster: str = CLUSTER) -> dict[str, Any]:
    return {"t": at, "event": "eds", "endpoints": {cluster: endpoints}}


# A proxy through an in-place istiod switch-over: synced on A, A stops at 20, B answers at 23.
UPGRADE = [
    {"t": 10.0, "event": "stream"},
    {"t": 10.1, "event": "cds", "clusters": 11},
    eds(10.2, V1),
    {"t": 20.0, "event": "retry"},
    {"t": 20.5, "event": "retry"},
    {"t": 23.4, "event": "stream"},
    {"t": 23.5, "event": "cds", "clusters": 11},
    eds(23.9, V1),
    eds(30.0, [*V1, {"ep": "10.20.0.9:5000", "version": "v1"}]),
]


def test_stretches_with_a_synced_stream_carrying_the_endpoints() -> None:
    assert good_intervals(UPGRADE, CLUSTER, CARRIES) == [(10.2, 20.0), (23.9, None)]
    assert longest_gap(good_intervals(UPGRADE, CLUSTER, CARRIES), 12.0, 40.0) == pytest.approx(
        (3.9, 20.0, 23.9)
    )
    assert [(s.opened, s.good_from, s.closed) for s in streams(UPGRADE, CLUSTER, CARRIES)] == [
        (10.0, 10.2, 20.0),
        (23.4, 23.9, None),
    ]


def test_eds_before_cds_or_without_the_version_does_not_count() -> None:
    events = [
        {"t": 1.0, "event": "stream"},
        eds(1.1, V1),  # before CDS on this stream: not synced yet
        {"t": 1.2, "event": "cds"},
        eds(1.3, [{"ep": "10.20.0.6:5000", "version": "v2"}]),  # no v1 endpoint
        eds(1.4, V1, cluster="outbound|80||other"),  # another cluster: no change
        eds(2.0, V1),
        eds(3.0, []),  # the endpoints went away
    ]
    assert good_intervals(events, CLUSTER, CARRIES) == [(2.0, 3.0)]
    assert longest_gap([], 0.0, 5.0) == (5.0, 0.0, 5.0)


def test_another_network_needs_its_east_west_gateway() -> None:
    carries = carries_versions(("v1",), 1, 5000, 15443)
    assert not carries(V1)
    assert carries([*V1, {"ep": "172.18.0.9:15443", "version": ""}])


def test_a_half_written_last_line_is_left_out(tmp_path: Path) -> None:
    log = tmp_path / "streams.jsonl"
    log.write_text(json.dumps(UPGRADE[0]) + "\n" + '{"t": 10.1, "ev')
    assert read_events(log) == [UPGRADE[0]]
    assert read_events(tmp_path / "missing.jsonl") == []


class Istiods:
    def __init__(self, runs: list[IstiodRun], syncz: list[dict[str, Any]]) -> None:
        self._runs = runs
        self.syncz = syncz

    def runs(self) -> list[IstiodRun]:
        return self._runs

    def debug(self, path: str) -> str | None:
        assert path == "/debug/syncz"
        return json.dumps(self.syncz)


PROXIES: dict[tuple[str, str, str], SyntheticProxy] = {}  # other proxies a test adds


def probe_through(tmp_path: Path, events: list[dict[str, Any]], syncz: list[dict[str, Any]]) -> Any:
    log = tmp_path / "streams.jsonl"
    log.write_text("".join(json.dumps(event) + "\n" for event in events))
    proxies = SyntheticProxies(lambda image: tmp_path / "xdsclient", None, None, tmp_path)  # type: ignore[arg-type]
    proxies.proxies.update(PROXIES)
    process: Any = None  # the probe reads the log only
    proxies.proxies[("remote", "sample", "curl-1")] = SyntheticProxy(
        "remote", "sample", "curl-1", process, tmp_path / "xds.json", log
    )
    istiods = Istiods([IstiodRun(A, None, 1.0, 2.0), IstiodRun(B, 20.0, 22.5, 23.0)], syncz)
    (probe,) = probes_for(
        proxies,
        istiods,
        clients={"remote": "curl-1"},
        namespace="sample",
        workloads={"remote": ("v1",)},
        target_tag="1.31-dev.eed52ebb66ad",
    )
    assert isinstance(probe, XdsUpgradeProbe) and probe.cluster == CLUSTER
    probe.start()
    probe.started_at = 12.0
    return probe.stop()


ACKED = {
    "proxy": "curl-1.sample",
    "cluster_sent": "n1",
    "cluster_acked": "n1",
    "endpoint_sent": "e1",
    "endpoint_acked": "e1",
}


def test_a_proxy_that_reconnects_to_b_within_the_bound_passes(tmp_path: Path) -> None:
    result = probe_through(tmp_path, UPGRADE, [ACKED])
    assert result.switchovers == (("1.31-dev.eed52ebb66ad", 3.0),)
    assert result.bound_s == pytest.approx(3.0 + 2 * 0.5 + 5.0)
    assert result.longest_gap_s == pytest.approx(3.9)
    assert (result.ended_good, result.ended_on, result.streams_opened) == (True, "1.31-dev.eed52ebb66ad", 1)
    verdict = evaluate_xds_probe(result, "diag")
    assert verdict.ok, verdict.message
    assert "stand-in for the traffic probe" in verdict.message
    assert served_by([IstiodRun(A, None, 1.0, 2.0)], 0.5) is None


def test_a_proxy_that_stays_away_too_long_or_ends_unacknowledged_fails_and_says_why(tmp_path: Path) -> None:
    late = [*UPGRADE[:5], {"t": 33.4, "event": "stream"}, {"t": 33.5, "event": "cds"}, eds(33.9, V1)]
    unacked = {**ACKED, "endpoint_acked": ""}
    verdict = evaluate_xds_probe(probe_through(tmp_path, late, [unacked]), "diag")
    assert verdict.problems == (
        "remote sample/curl-1: 13.9s without a synced stream carrying helloworld v1 endpoints (from 20.0 to "
        "33.9, epoch seconds), more than the bound 9.0s (longest istiod stand-in switch-over 3.0s + 2 x 0.5s "
        "reconnect interval + 5s for B's first push)",
        "remote sample/curl-1: B's syncz shows EDS not acknowledged (sent 'n1'/'e1', acked 'n1'/'')",
    )


def test_a_proxy_still_on_a_or_not_listed_by_b_fails(tmp_path: Path) -> None:
    stuck = UPGRADE[:3]  # its stream to A never broke: it never met B
    verdict = evaluate_xds_probe(probe_through(tmp_path, stuck, []), "diag")
    assert verdict.problems == (
        "remote sample/curl-1: its last stream was served by the istiod of 1.31-dev.b01690e6db7d, not B's "
        "(1.31-dev.eed52ebb66ad): it did not reconnect to B",
        "remote sample/curl-1: the serving istiod's syncz does not list its proxy",
    )


def test_every_other_synthetic_proxy_must_end_synced_on_b_and_acknowledged(tmp_path: Path) -> None:
    """One probe of the upgrade also reports how every other synthetic proxy running at the end
    ended: a new pod's proxy started against B passes; one still on A's stream fails."""
    others = {
        ("remote", "sample", "helloworld-v1-new"): [{"t": 40.0, "event": "stream"}, {"t": 40.1, "event": "cds"}, eds(40.2, V1)],
        ("remote", "external-istiod", "istio-ingressgateway-old"): UPGRADE[:3],
    }  # fmt: skip
    for (role, namespace, pod), events in others.items():
        log = tmp_path / f"{pod}.jsonl"
        log.write_text("".join(json.dumps(event) + "\n" for event in events))
        process: Any = None
        PROXIES[(role, namespace, pod)] = SyntheticProxy(role, namespace, pod, process, tmp_path / "x", log)
    syncz = [ACKED, {**ACKED, "proxy": "helloworld-v1-new.sample"}]
    try:
        result = probe_through(tmp_path, UPGRADE, syncz)
    finally:
        PROXIES.clear()
    assert [(o.vantage, o.synced, o.ended_on, o.acked) for o in result.others] == [
        ("remote external-istiod/istio-ingressgateway-old", True, "1.31-dev.b01690e6db7d", False),
        ("remote sample/helloworld-v1-new", True, "1.31-dev.eed52ebb66ad", True),
    ]
    assert evaluate_xds_probe(result, "diag").problems == (
        "remote external-istiod/istio-ingressgateway-old: ended synced on the istiod of 1.31-dev.b01690e6db7d "
        "(B: 1.31-dev.eed52ebb66ad), not acknowledged in its syncz",
    )
