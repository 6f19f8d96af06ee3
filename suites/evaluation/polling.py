"""Waiting for a check to hold before judging it (mesh convergence, proxies synced)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from programs.waits import Backoff, WaitTimeout, wait_until
from suites.evaluation.evaluators.verdict import Verdict

T = TypeVar("T")
# What a check polls (istiod's debug endpoints, a proxy's config) has no watch: look again
# within 2 s, so a check that converges is judged soon after it did, not up to 10 s later.
CHECK_POLL = Backoff(min_s=0.5, max_s=2.0)


def observe_until(
    describe: str,
    observe: Callable[[], T],
    done: Callable[[T], bool],
    deadline_s: float,
    show: Callable[[T], str] = repr,
) -> tuple[T, WaitTimeout | None]:
    """Poll ``observe`` until ``done``; return the last observation and the timeout, if one happened.

    Unlike a bare ``wait_until``, the last observation is handed back on timeout so the
    evaluator can judge it and the failure carries the full evidence, not only its summary.
    """
    seen: list[T] = []

    def probe() -> T:
        value = observe()
        seen.append(value)
        return value

    try:
        return wait_until(describe, probe, deadline_s, until=done, show=show, backoff=CHECK_POLL), None
    except WaitTimeout as timeout:
        if not seen:
            raise
        return seen[-1], timeout


def verdict_until_ok(
    describe: str,
    evaluate: Callable[[], Verdict],
    deadline_s: float,
    settled: Callable[[Verdict], bool] = lambda v: v.ok,
) -> Verdict:
    """Re-evaluate until the verdict passes (or is ``settled``) or the deadline; a late failure
    says it waited."""
    verdict, timeout = observe_until(describe, evaluate, settled, deadline_s, show=lambda v: v.observed)
    if timeout is None:
        return verdict
    return replace(verdict, facts=(*verdict.facts, f"still failing when the wait ended: {timeout}"))
