"""One way to wait for anything (a deadline, polling with backoff, and the last state on timeout)
and one way to try again (``retry``: a bounded number of attempts at something that fails in a
known transient way). The only module that uses tenacity.

Every wait in the suite (nodes Ready, a Deployment Available, a LoadBalancer address, a
webhook answering, a daemon gone) goes through ``wait_until``::

    from programs.waits import wait_until

    deployment = wait_until(
        "istiod Deployment in external-istiod to be Available",
        lambda: read_deployment(cluster, "external-istiod", "istiod"),   # the probe
        deadline_s=300,
        until=lambda d: d is not None and condition(d, "Available") == "True",
        show=lambda d: "absent" if d is None else summarize(d),           # for the timeout message
        transient=(CommandError,),                                         # keep polling on these
    )

How it behaves:

- ``probe()`` is called right away, then again after a growing pause (exponential backoff
  from ``initial_delay_s`` up to ``max_delay_s``) until ``until(value)`` is true. The value
  that passed is returned, so the probe's result can be used directly.
- ``deadline_s`` bounds the whole wait: no new probe starts once the deadline has passed
  (a probe that is running is not interrupted, so give probes their own timeouts, e.g. the
  runner's ``timeout_s``).
- Exceptions of the types in ``transient`` count as "not yet" (the exception is recorded as
  the last observed state); any other exception stops the wait and propagates unchanged. Name
  only the failures that are expected while a thing comes up (an API server refusing
  connections, a resource not found yet), never a blanket ``Exception``.
- A probe that computes its own verdict returns an ``Observation(done, state, value)``: it is
  done when ``done`` is, its ``state`` is what a timeout reports, and the caller reads
  ``.value`` from the result (the defaults of ``until`` and ``show`` read it as such).
- ``backoff=Backoff(min_s, max_s)`` sets the pauses in one value (callers that carry their
  polling pace around, such as the installer, pass one instead of the two numbers).
- Waits that may end without their condition (a grace period before SIGKILL) catch
  ``WaitTimeout`` and go on.
- ``changes=`` makes the wait event-driven: a ``Changes`` (clusters/watch.py ``ChangeFeed``:
  the API server's watch on the objects the probe reads) ends each pause the moment something
  changed, so the probe runs again at once; the pauses stay as a ceiling (a watch that missed
  an event, or could not be opened at all, costs at most one pause) and the deadline, probes
  and messages are the same.
- A pause ends early, raising ``run.lanes.LaneCancelled``, when the lane the wait runs in was
  forked by a lane that has since been interrupted (run/lanes.py).
- On timeout, ``WaitTimeout`` is raised. Its message says what was awaited, for how long,
  how many probes ran, and the last observed state (``show(value)`` or the last transient
  exception); the same data is on the exception's attributes for reports.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential,
)

from run.lanes import LaneCancelled, cancel_events, current_lane

log = logging.getLogger("eicp.waits")

T = TypeVar("T")

_NOTHING_OBSERVED = "nothing observed (no probe completed)"
# A watched pause looks at the lane's cancellation this often.
_CHANGE_SLICE_S = 0.25
_CANCEL_SLICE_S = 0.2  # an interrupted fork stops a pausing branch within this long
_MAX_STATE_CHARS = 2000


class WaitTimeout(TimeoutError):
    """A wait passed its deadline. ``last_state`` is the last thing the probe saw, as text."""

    def __init__(self, description: str, deadline_s: float, elapsed_s: float, probes: int, last_state: str):
        self.description = description
        self.deadline_s = deadline_s
        self.elapsed_s = elapsed_s
        self.probes = probes
        self.last_state = last_state
        super().__init__(
            f"timed out after {elapsed_s:.1f}s (deadline {deadline_s:g}s, {probes} checks) waiting for "
            f"{description}; last observed: {last_state}"
        )


class Changes(Protocol):
    """Something that can tell a wait that what it probes has changed."""

    def wait(self, timeout_s: float) -> bool:
        """Block until something changed (True) or ``timeout_s`` passed (False)."""
        ...


@dataclass(frozen=True)
class Backoff:
    """Pauses between probes: exponential from ``min_s`` up to ``max_s``."""

    min_s: float = 1.0
    max_s: float = 10.0


@dataclass(frozen=True)
class Observation(Generic[T]):
    """What one probe saw: whether the wait is over, the state for messages, and a value."""

    done: bool
    state: str
    value: T

    def __bool__(self) -> bool:
        return self.done

    def __repr__(self) -> str:
        return self.state


@dataclass
class _Seen(Generic[T]):
    """What the latest probe returned or raised, kept for the timeout message."""

    text: str = _NOTHING_OBSERVED
    probes: int = 0


def pause(seconds: float) -> None:
    """Sleep ``seconds``, or less when the fork this lane belongs to is interrupted: then raise
    ``LaneCancelled`` (run/lanes.py). In a lane that was never forked this is ``time.sleep``."""
    cancels = cancel_events()
    if not cancels:
        time.sleep(seconds)
        return
    deadline = time.monotonic() + seconds
    while True:
        if any(event.is_set() for event in cancels):
            raise LaneCancelled(f"lane {current_lane()} stopped: the lane that forked it was interrupted")
        left = deadline - time.monotonic()
        if left <= 0:
            return
        cancels[-1].wait(min(left, _CANCEL_SLICE_S))


def wait_until(
    describe: str,
    probe: Callable[[], T],
    deadline_s: float,
    *,
    until: Callable[[T], bool] = bool,
    show: Callable[[T], str] = repr,
    transient: tuple[type[BaseException], ...] = (),
    initial_delay_s: float = 0.5,
    max_delay_s: float = 10.0,
    backoff: Backoff | None = None,
    sleep: Callable[[float], None] = pause,
    changes: Changes | None = None,
) -> T:
    """Poll ``probe`` until ``until(value)`` holds; return that value or raise ``WaitTimeout``.

    ``describe`` completes the sentence "waiting for ..." (e.g. "nodes of cluster X to be
    Ready"). See the module docstring for the full contract.
    """
    if deadline_s <= 0:
        raise ValueError(f"deadline_s must be positive, got {deadline_s}")
    if backoff is not None:
        initial_delay_s, max_delay_s = backoff.min_s, backoff.max_s
    seen: _Seen[T] = _Seen()

    def observed(value: T) -> T:
        seen.probes += 1
        seen.text = _clip(_safe_show(show, value))
        return value

    def attempt() -> T:
        try:
            return observed(probe())
        except transient as error:
            seen.probes += 1
            seen.text = _clip(f"{type(error).__name__}: {error}")
            raise

    def not_done(value: T) -> bool:
        return not until(value)

    def before_sleep(state: RetryCallState) -> None:
        log.debug("waiting for %s: %s (next check in %.1fs)", describe, seen.text, state.upcoming_sleep)

    def pause_or_change(seconds: float) -> None:
        if changes is None:
            sleep(seconds)
            return
        ends = time.monotonic() + seconds
        while not changes.wait(min(_CHANGE_SLICE_S, max(0.0, ends - time.monotonic()))):
            if time.monotonic() >= ends:
                return
            sleep(0)  # raises LaneCancelled once the forking lane was interrupted

    retrying = Retrying(
        stop=stop_before_delay(deadline_s),
        wait=wait_exponential(multiplier=initial_delay_s, min=initial_delay_s, max=max_delay_s),
        retry=retry_if_result(not_done) | retry_if_exception_type(transient),
        sleep=pause_or_change,
        before_sleep=before_sleep,
        reraise=False,
        retry_error_callback=lambda state: _timed_out(describe, deadline_s, state, seen),
    )
    started = time.monotonic()
    result: T = retrying(attempt)
    log.debug("done waiting for %s after %.1fs", describe, time.monotonic() - started)
    return result


def retry(
    describe: str,
    action: Callable[[], T],
    attempts: int,
    *,
    transient: Callable[[BaseException], bool],
    backoff: Backoff | None = None,
    before_retry: Callable[[BaseException, int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``action``; when it raises an error ``transient`` accepts, run it again, ``attempts``
    times in all, pausing with exponential backoff. ``before_retry(error, next_attempt)`` runs
    before each pause (to clean up the failed attempt). The last error, or any other, propagates
    unchanged: a retry never hides why the last attempt failed."""
    pause = backoff or Backoff()

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        assert error is not None
        log.debug(
            "%s failed (%s); attempt %d of %d follows", describe, error, state.attempt_number + 1, attempts
        )
        if before_retry is not None:
            before_retry(error, state.attempt_number + 1)

    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=pause.min_s, min=pause.min_s, max=pause.max_s),
        retry=retry_if_exception(transient),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    result: T = retrying(action)
    return result


def _timed_out(describe: str, deadline_s: float, state: RetryCallState, seen: _Seen[T]) -> T:
    raise WaitTimeout(describe, deadline_s, state.seconds_since_start or 0.0, seen.probes, seen.text)


def _safe_show(show: Callable[[T], str], value: T) -> str:
    try:
        return show(value)
    except Exception as error:  # a broken formatter must not hide the real outcome
        return f"{value!r} (show() failed: {error})"


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_STATE_CHARS else text[: _MAX_STATE_CHARS - 3] + "..."
