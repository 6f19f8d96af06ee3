"""wait_until: returns the passing value, backs off, stops at the deadline with the last state;
retry: tries again on transient errors only, a bounded number of times, and never hides the last."""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from programs.waits import Backoff, Observation, WaitTimeout, retry, wait_until


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


def test_retry_tries_again_on_transient_errors_only_and_never_hides_the_last() -> None:
    calls: list[int] = []
    cleaned: list[tuple[str, int]] = []
    sleeps: list[float] = []

    def flaky() -> str:
        calls.append(len(calls) + 1)
        if len(calls) < 3:
            raise Flaky(f"attempt {len(calls)}")
        return "done"

    def clean(error: BaseException, attempt: int) -> None:
        cleaned.append((str(error), attempt))

    transient = lambda error: isinstance(error, Flaky)  # noqa: E731
    backoff = Backoff(1.0, 1.5)
    assert (
        retry(
            "flaky", flaky, 3, transient=transient, backoff=backoff, before_retry=clean, sleep=sleeps.append
        )
        == "done"
    )
    assert cleaned == [("attempt 1", 2), ("attempt 2", 3)] and sleeps == [1.0, 1.5]
    calls.clear()
    with pytest.raises(Flaky, match="attempt 2"):  # two attempts in all, the last error as it was
        retry("flaky", flaky, 2, transient=transient, sleep=sleeps.append)

    def broken() -> None:
        calls.append(0)
        raise ValueError("not transient")

    calls.clear()
    with pytest.raises(ValueError, match="not transient"):
        retry("broken", broken, 5, transient=transient, sleep=sleeps.append)
    assert calls == [0]


def test_nothing_else_sleeps_in_a_loop_or_uses_tenacity() -> None:
    """programs/waits.py is the one wait primitive (periodic threads wait on an Event)."""
    root = Path(__file__).resolve().parent.parent
    found = subprocess.run(
        [
            "git",
            "grep",
            "-nE",
            r"time\.sleep\(|\bsleep\(|tenacity",
            "--",
            "*.py",
            ":!tests",
            ":!programs/waits.py",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode == 128:
        pytest.skip(f"not a git checkout: {found.stderr.strip()}")
    assert found.stdout == ""
