"""wait_until: returns the passing value, backs off, stops at the deadline with the last state."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from programs.waits import Backoff, Observation, WaitTimeout, wait_until


class Flaky(Exception):
    pass


def test_returns_the_value_that_passed_after_polling() -> None:
    values = iter([0, 1, 2, 3])
    sleeps: list[float] = []
    result = wait_until(
        "the counter to reach 2", lambda: next(values), 60, until=lambda v: v >= 2, sleep=sleeps.append
    )
    assert result == 2
    assert len(sleeps) == 2
    assert sleeps[1] >= sleeps[0]  # backoff never shrinks


def test_first_probe_runs_without_waiting() -> None:
    sleeps: list[float] = []
    assert wait_until("ready", lambda: "ok", 5, sleep=sleeps.append) == "ok"
    assert sleeps == []


def test_timeout_carries_description_and_last_observed_state() -> None:
    counter = itertools.count()
    with pytest.raises(WaitTimeout) as caught:
        wait_until(
            "deployment istiod to be Available",
            lambda: {"ready": next(counter)},
            0.3,
            until=lambda state: False,
            show=lambda state: f"ready replicas {state['ready']}",
            initial_delay_s=0.05,
            max_delay_s=0.05,
        )
    error = caught.value
    assert error.description == "deployment istiod to be Available"
    assert error.probes >= 2
    assert error.last_state == f"ready replicas {error.probes - 1}"
    assert "waiting for deployment istiod to be Available" in str(error)
    assert f"last observed: ready replicas {error.probes - 1}" in str(error)
    assert error.elapsed_s <= 0.3 + 0.2  # no probe started after the deadline


def test_transient_exceptions_are_retried_and_reported_as_last_state() -> None:
    def probe() -> str:
        raise Flaky("connection refused")

    with pytest.raises(WaitTimeout) as caught:
        wait_until("api server", probe, 0.2, transient=(Flaky,), initial_delay_s=0.05, max_delay_s=0.05)
    assert caught.value.last_state == "Flaky: connection refused"


def test_transient_exception_then_success() -> None:
    attempts: Iterator[Exception | str] = iter([Flaky("not yet"), "up"])

    def probe() -> str:
        value = next(attempts)
        if isinstance(value, Exception):
            raise value
        return value

    assert wait_until("api server", probe, 5, transient=(Flaky,), sleep=lambda _: None) == "up"


def test_other_exceptions_propagate_at_once() -> None:
    calls = []

    def probe() -> str:
        calls.append(1)
        raise KeyError("bad")

    with pytest.raises(KeyError):
        wait_until("x", probe, 5, transient=(Flaky,), sleep=lambda _: None)
    assert len(calls) == 1


def test_broken_show_does_not_hide_the_timeout() -> None:
    def show(_: object) -> str:
        raise RuntimeError("formatter bug")

    with pytest.raises(WaitTimeout, match="show\\(\\) failed"):
        wait_until("x", lambda: 1, 0.1, until=lambda _: False, show=show, initial_delay_s=0.05)


def test_deadline_must_be_positive() -> None:
    with pytest.raises(ValueError, match="deadline_s"):
        wait_until("x", lambda: True, 0)


def test_an_observation_is_done_when_it_says_and_its_state_is_what_a_timeout_reports() -> None:
    observations: list[Observation[str | None]] = [
        Observation(False, "replicas=1 updated=0", None),
        Observation(True, "rolled out", "v2"),
    ]
    seen = iter(observations)
    assert wait_until("rollout", lambda: next(seen), 5, sleep=lambda _: None).value == "v2"
    with pytest.raises(WaitTimeout, match=r"last observed: Available=False \(MinimumReplicasUnavailable\)$"):
        wait_until(
            "istiod to be Available",
            lambda: Observation(False, "Available=False (MinimumReplicasUnavailable)", None),
            0.1,
            backoff=Backoff(min_s=0.02, max_s=0.02),
        )


def test_a_backoff_sets_both_pauses() -> None:
    sleeps: list[float] = []
    values = iter(range(6))
    wait_until(
        "five",
        lambda: next(values),
        60,
        until=lambda v: v >= 5,
        backoff=Backoff(2.0, 3.0),
        sleep=sleeps.append,
    )
    assert sleeps == [2.0, 3.0, 3.0, 3.0, 3.0]
