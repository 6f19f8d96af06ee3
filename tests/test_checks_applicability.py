"""Which scenarios kwok mode cannot certify, and that the reason is said (pure)."""

from __future__ import annotations

import pytest

from scenarios.registry import SCENARIO_IDS
from suites.evaluation.applicability import not_applicable


@pytest.mark.parametrize("mode", ["kind", "existing"])
def test_every_scenario_applies_where_nodes_run_images(mode: str) -> None:
    assert all(not_applicable(mode, scenario) is None for scenario in SCENARIO_IDS)


def test_kwok_mode_runs_the_control_plane_scenarios_and_says_why_not_sail() -> None:
    assert not_applicable("kwok", "ip-passthrough") is None
    assert not_applicable("kwok", "second-remote") is None
    assert not_applicable("kwok", "dns-tls") is None  # hosts files and the HAProxy gateway stand-in
    sail = not_applicable("kwok", "sail")
    assert sail is not None and "Sail operator" in sail and "not served" in sail
