"""One store of what a run learns (run/info.py RunFacts in run/state.py RunState): versions, tools,
stand-ins and upgrade probe figures, per pytest config, merged from xdist workers (layer 1)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from run import info, state
from run.info import RunFacts


def test_facts_travel_from_a_worker_to_the_controller_whole() -> None:
    worker = RunFacts()
    worker.note_kubernetes_version("remote", "v1.35.1")
    worker.note_tool("kubectl", "v1.35.4", source="cache")
    worker.note_stand_ins(["LoadBalancer addresses (network-namespace hosts)"])
    worker.note_stand_in("gateway", "istiod listens itself", role="external")
    worker.note_stand_ins(["LoadBalancer addresses (network-namespace hosts)"])  # noted once
    worker.note_upgrade_probe({"scenario": "ip-passthrough-1.30.5", "requests": 10})
    controller = RunFacts()
    controller.note_kubernetes_version("remote", None)  # its own lookup failed: unknown
    controller.merge(worker.export())
    merged = controller.export()
    assert merged["kubernetes"] == {"remote": "v1.35.1"}
    assert merged["tools"] == {"kubectl": "v1.35.4 (cache)"}
    assert merged["standIns"] == [
        {"component": "LoadBalancer addresses", "standIn": "network-namespace hosts", "role": None},
        {"component": "gateway", "standIn": "istiod listens itself", "role": "external"},
    ]
    assert merged["upgradeProbes"] == [{"scenario": "ip-passthrough-1.30.5", "requests": 10}]


def test_each_pytest_config_has_its_own_and_no_module_keeps_one() -> None:
    first = cast(pytest.Config, SimpleNamespace(stash=pytest.Stash()))
    second = cast(pytest.Config, SimpleNamespace(stash=pytest.Stash()))
    state.run_state(first).facts.note_tool("kind", "v0.33.0")
    assert state.run_state(first) is state.run_state(first)
    assert state.run_state(second).facts.export()["tools"] == {}
    module_state: list[Any] = [
        name
        for name in (*vars(state), *vars(info))
        if name in ("_Active", "activate", "active_state", "_active")
    ]
    assert module_state == []
