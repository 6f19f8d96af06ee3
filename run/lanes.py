"""Lanes: the strands of sequential work a run does, so its critical path can be measured.

A pytest process works in one lane (``main``, or the xdist worker's id) until it forks:
``concurrently(tasks)`` runs each task in a lane of its own, on a thread of its own, and
returns once every task has ended. A lane is named by its path: ``main/3.1`` is branch 1 of
the third fork made in ``main``. Every command the runner records and every phase on the
timeline carries the lane it ran in (``current_lane()``), so ``timeline.json`` holds the
fork-join structure and ci/benchmark.py computes the critical path from it: a lane's own tool
time, plus for each of its forks the longest branch.

Work in one lane depends on the work before it in that lane (program order); branches of a
fork depend on what their lane did before the fork and nothing else, and the lane resumes
once all of them have ended. Callers fork only work that is independent (different clusters,
different API servers); the order a guide gives stays a sequence.

When the forking lane is interrupted (Ctrl-C, or the termination plugin's SIGTERM turned into
``KeyboardInterrupt``) its branches are told: ``cancelled()`` turns true in them and
the wait primitive's pause (programs/waits.py) returns at once raising ``LaneCancelled``, so a branch
polling towards a far deadline stops within moments; the fork still waits for every branch
to end before the interrupt goes on, so no branch outlives the code that forked it.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import itertools
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, cast

from run import allure_threads

log = logging.getLogger("eicp.lanes")

T = TypeVar("T")


@dataclass
class _Lane:
    path: str
    _forks: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_fork(self) -> int:
        with self._lock:
            return next(self._forks)


class LaneCancelled(Exception):
    """The lane that forked this one was interrupted: the branch stops here."""


_ROOTS: dict[str, _Lane] = {}
_ROOTS_LOCK = threading.Lock()
_LANE: contextvars.ContextVar[_Lane] = contextvars.ContextVar("eicp_lane")
# The cancel events of every fork the current lane descends from.
_CANCELS: contextvars.ContextVar[tuple[threading.Event, ...]] = contextvars.ContextVar(
    "eicp_lane_cancels", default=()
)


def root_name() -> str:
    """The process's own lane: ``main``, or the xdist worker id (workers run side by side)."""
    return os.environ.get("PYTEST_XDIST_WORKER") or "main"


def _current() -> _Lane:
    lane = _LANE.get(None)
    if lane is not None:
        return lane
    name = root_name()
    with _ROOTS_LOCK:
        return _ROOTS.setdefault(name, _Lane(name))


def current_lane() -> str:
    """The path of the lane the caller runs in."""
    return _current().path


def cancelled() -> bool:
    """Whether a lane this one was forked from has been interrupted."""
    return any(event.is_set() for event in _CANCELS.get())


def cancel_events() -> tuple[threading.Event, ...]:
    """The interrupt events of the forks this lane belongs to (none in a lane never forked)."""
    return _CANCELS.get()


class ConcurrentFailure(Exception):
    """More than one concurrent task failed: every failure, in task order."""

    def __init__(self, failures: Sequence[tuple[str, BaseException]]) -> None:
        self.failures = tuple(failures)
        super().__init__(
            f"{len(self.failures)} concurrent tasks failed:\n"
            + "\n".join(f"  - {name}: {type(error).__name__}: {error}" for name, error in self.failures)
        )


def concurrently(tasks: Sequence[tuple[str, Callable[[], T]]]) -> list[T]:
    """Run each ``(name, task)`` in a lane of its own and return their results in order.

    Every task runs to its end whatever the others do. One task failing re-raises its own
    exception unchanged; several failing raise ``ConcurrentFailure`` naming each, unless one
    was interrupted: the interrupt is raised and the others are logged. A single task
    runs in the caller's thread (no fork, no thread). Fresh threads serve each fork, so what a
    thread remembers (Allure's step context, thread-locals) never leaks from one fork to the next.
    """
    if len(tasks) <= 1:
        return [task() for _, task in tasks]
    parent = _current()
    fork = parent.next_fork()
    forking_thread = threading.current_thread()
    cancel = threading.Event()
    results: list[T | None] = [None] * len(tasks)
    failures: list[tuple[str, BaseException]] = []

    def run_in_lane(index: int, task: Callable[[], T]) -> T:
        _LANE.set(_Lane(f"{parent.path}/{fork}.{index}"))
        _CANCELS.set((*_CANCELS.get(), cancel))
        allure_threads.adopt(forking_thread)
        return task()

    with concurrent.futures.ThreadPoolExecutor(
        max_workers=len(tasks), thread_name_prefix="eicp-lane"
    ) as pool:
        futures = [
            pool.submit(contextvars.copy_context().run, run_in_lane, index, task)
            for index, (_, task) in enumerate(tasks)
        ]
        try:
            concurrent.futures.wait(futures)
        except BaseException:
            # Interrupted: tell the branches, and leave the pool (which waits for them) after.
            cancel.set()
            raise
    for index, ((name, _), future) in enumerate(zip(tasks, futures, strict=True)):
        error = future.exception()
        if error is not None:
            failures.append((name, error))
        else:
            results[index] = future.result()
    interrupts = [error for _, error in failures if not isinstance(error, Exception)]
    if interrupts:
        # An interrupt (Ctrl-C, SIGTERM) stays one, so the caller's cleanup and exit code follow it.
        for name, error in failures:
            if error is not interrupts[0]:
                log.warning("concurrent task %s also failed: %s: %s", name, type(error).__name__, error)
        raise interrupts[0]
    if len(failures) == 1:
        raise failures[0][1]
    if failures:
        raise ConcurrentFailure(failures)
    return cast("list[T]", results)
