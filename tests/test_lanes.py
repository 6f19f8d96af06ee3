"""run/lanes.py: forks of independent work, the lane every command and phase carries, and
branches that stop when the lane that forked them is interrupted."""

from __future__ import annotations

import concurrent.futures
import json
import threading
import time
from pathlib import Path

import pytest

from programs.redaction import Redactor
from programs.runner import CommandRecord, CommandRunner
from programs.waits import WaitTimeout, wait_until
from run import lanes
from run.lanes import ConcurrentFailure, LaneCancelled, concurrently, current_lane
from run.timeline import Timeline

pytest_plugins = ["pytester"]


def test_a_single_task_runs_in_the_callers_lane() -> None:
    assert concurrently([("only", current_lane)]) == [current_lane()]
    assert concurrently([]) == []


def test_tasks_run_side_by_side_each_in_a_lane_of_its_own() -> None:
    both_started = threading.Barrier(2, timeout=10)

    def task(value: int) -> tuple[int, str]:
        both_started.wait()  # a deadlock (BrokenBarrierError) unless they run at the same time
        return value, current_lane()

    parent = current_lane()
    results = concurrently([("a", lambda: task(1)), ("b", lambda: task(2))])
    assert [value for value, _ in results] == [1, 2]
    first, second = (lane for _, lane in results)
    assert first.startswith(parent + "/") and second.startswith(parent + "/")
    fork = first.rsplit("/", 1)[1].split(".")[0]
    assert (first, second) == (f"{parent}/{fork}.0", f"{parent}/{fork}.1")
    # The next fork of the same lane gets the next number; a fork inside a branch nests.
    nested = concurrently(
        [("x", lambda: concurrently([("y", current_lane), ("z", current_lane)])), ("w", current_lane)]
    )
    assert nested[0][0].startswith(f"{parent}/{int(fork) + 1}.0/1.")
    assert current_lane() == parent


def test_every_task_ends_before_a_failure_is_raised() -> None:
    finished: list[str] = []

    def slow() -> str:
        time.sleep(0.3)
        finished.append("slow")
        return "slow"

    def broken() -> str:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        concurrently([("slow", slow), ("broken", broken)])
    assert finished == ["slow"]

    with pytest.raises(ConcurrentFailure) as caught:
        concurrently([("first", broken), ("second", broken)])
    assert [name for name, _ in caught.value.failures] == ["first", "second"]
    assert "first: ValueError: boom" in str(caught.value)


def test_an_interrupt_in_a_branch_stays_an_interrupt_beside_other_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> None:
        raise ValueError("boom")

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        concurrently([("broken", broken), ("interrupted", interrupted)])
    assert "concurrent task broken also failed: ValueError: boom" in caplog.text


def test_an_interrupted_fork_stops_its_polling_branches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C reaches the lane that forked: its branches' waits end within moments, not at
    their deadlines, and the interrupt goes on once they have."""
    outcomes: list[str] = []

    def interrupted_wait(*args: object, **kwargs: object) -> object:
        time.sleep(0.3)  # the branches are polling by now
        raise KeyboardInterrupt

    def polling_branch() -> None:
        try:
            wait_until("something that never happens", lambda: False, deadline_s=60, initial_delay_s=5)
        except LaneCancelled:
            outcomes.append("cancelled")
            raise
        except WaitTimeout:
            outcomes.append("timed out")

    monkeypatch.setattr(concurrent.futures, "wait", interrupted_wait)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        concurrently([("a", polling_branch), ("b", polling_branch)])
    assert time.monotonic() - started < 5
    assert outcomes == ["cancelled", "cancelled"]
    monkeypatch.undo()
    assert not lanes.cancelled()  # the caller's own lane was never cancelled


def test_commands_and_phases_carry_their_lane(tmp_path: Path) -> None:
    runner = CommandRunner(Redactor(), transcript=tmp_path / "transcript.log")
    records: list[CommandRecord] = []
    runner.add_listener(records.append)
    timeline = Timeline()

    def step(name: str) -> str:
        with timeline.phase("cleanup", name, allure_step=False):
            runner.run(["true"], title=name)
        return current_lane()

    branch_lanes = concurrently([("remote", lambda: step("remote")), ("second", lambda: step("second"))])
    by_title = {record.title: record.lane for record in records}
    assert by_title == {"remote": branch_lanes[0], "second": branch_lanes[1]}
    assert {phase.name: phase.lane for phase in timeline.records()} == by_title
    runner.run(["true"], title="after the join")
    assert records[-1].lane == current_lane()


ALLURE_FORK = """
import allure
import pytest

from run.lanes import concurrently


@pytest.fixture
def inner():
    return "inner"


@pytest.fixture
def forks(request):
    # A fixture set up inside this one leaves its Allure container as the forking thread's
    # newest item: the case where a new thread's stack found no step to hang its own under.
    request.getfixturevalue("inner")

    def branch(name):
        with allure.step(f"branch {name}"):
            allure.attach(f"output of {name}", name=f"{name} output", attachment_type=allure.attachment_type.TEXT)
        return name

    return concurrently([("remote", lambda: branch("remote")), ("second", lambda: branch("second"))])


def test_forks(forks):
    assert forks == ["remote", "second"]
"""


def test_allure_steps_and_attachments_of_a_fork_land_under_the_forking_step(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_fork=ALLURE_FORK)
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
    results = pytester.path / "allure"
    outcome = pytester.runpytest_subprocess(f"--alluredir={results}", "-q")
    outcome.assert_outcomes(passed=1)
    (result,) = (json.loads(path.read_text()) for path in results.glob("*-result.json"))
    containers = [json.loads(path.read_text()) for path in results.glob("*-container.json")]
    (forks,) = (b for c in containers for b in c.get("befores", []) if b["name"] == "forks")
    assert result["status"] == "passed"
    assert sorted(step["name"] for step in forks["steps"]) == ["branch remote", "branch second"]
    assert all(step["attachments"] for step in forks["steps"])
