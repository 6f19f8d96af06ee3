"""The timeline: records, the phase context manager, the round trip through xdist payloads."""

from __future__ import annotations

import pytest

from run.state import run_state
from run.timeline import Timeline


def test_phase_records_outcome_and_duration() -> None:
    timeline = Timeline()
    with timeline.phase("install", "istiod", role="external", scenario="sail-1.30.3"):
        pass
    with pytest.raises(RuntimeError), timeline.phase("wait", "gateway address", allure_step=False):
        raise RuntimeError("no address")
    first, second = timeline.records()
    assert (first.kind, first.name, first.role, first.scenario, first.outcome) == (
        "install",
        "istiod",
        "external",
        "sail-1.30.3",
        "passed",
    )
    assert (second.kind, second.outcome) == ("wait", "failed")
    assert first.duration >= 0
    assert second.start >= first.start


def test_unknown_kind_is_other_and_bad_values_are_refused() -> None:
    timeline = Timeline()
    assert timeline.record("coffee", "break", None, None, 10.0, 1.0, "passed").kind == "other"
    with pytest.raises(ValueError, match="outcome 'ok' is not one of passed, failed, skipped, error"):
        timeline.record("install", "x", None, None, 0.0, 1.0, "ok")
    with pytest.raises(ValueError, match="negative duration"):
        timeline.record("install", "x", None, None, 0.0, -1.0, "passed")


def test_round_trip_through_dicts() -> None:
    source = Timeline()
    source.record("cluster", "create remote", "remote", None, 100.0, 30.0, "passed")
    source.record("check", "test_a", None, "sail-1.30.3", 50.0, 2.0, "failed")
    target = Timeline()
    target.extend_from_dicts(source.to_dicts())
    assert target.records() == source.records()
    assert [record.start for record in target.records()] == [50.0, 100.0]


def test_the_fixture_is_the_runs_one_timeline(timeline: Timeline, pytestconfig: pytest.Config) -> None:
    # One timeline per run, in its config's stash (run.state): no module-level one.
    assert timeline is run_state(pytestconfig).timeline


def test_listeners_hear_each_phase_start_and_end() -> None:
    timeline = Timeline()
    heard: list[tuple[str, str, str | None]] = []
    timeline.subscribe(
        lambda kind, name, role, scenario, record: heard.append((kind, name, record and record.outcome))
    )
    with timeline.phase("cluster", "create kind clusters: external", allure_step=False):
        pass
    timeline.record("check", "test_a", None, "sail-1.30.5", 1.0, 2.0, "failed")
    assert heard == [
        ("cluster", "create kind clusters: external", None),
        ("cluster", "create kind clusters: external", "passed"),
        ("check", "test_a", "failed"),
    ]
