"""The run's timeline: named phases with wall-clock start and duration, for the HTML summary.

Installers and topology helpers record what they do (cluster creation, install steps, waits,
cleanup); the report plugin adds the checks themselves from pytest's reports. One
``Timeline`` exists per pytest process, part of its ``run.state.RunState``: fixtures get it as
``timeline``, plugins through ``run_state(config).timeline``. Under pytest-xdist each worker's
records travel to the controller as plain dicts (``to_dicts``/``extend_from_dicts``).
Listeners (``subscribe``) hear each phase start and end: the live progress lines.

    with timeline.phase("install", step.name, role=step.role, scenario="ip-passthrough-1.30.3"):
        ...  # an Allure step of the same name wraps the block; failures are recorded as "failed"
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

import allure

from run.lanes import current_lane

# The kinds the HTML summary knows how to colour; any other kind is drawn as "other".
PHASE_KINDS: tuple[str, ...] = (
    "tool",
    "cluster",
    "install",
    "wait",
    "setup",
    "check",
    "upgrade",
    "diagnostics",
    "cleanup",
    "other",
)
Outcome = Literal["passed", "failed", "skipped", "error"]
OUTCOMES: tuple[str, ...] = ("passed", "failed", "skipped", "error")
log = logging.getLogger("eicp.timeline")


@dataclass(frozen=True)
class PhaseRecord:
    kind: str
    name: str
    role: str | None
    scenario: str | None
    start: float  # seconds since the epoch (time.time())
    duration: float  # seconds
    outcome: str
    lane: str = "main"  # the strand of work it ran in (run/lanes.py)

    @property
    def end(self) -> float:
        return self.start + self.duration


class PhaseListener(Protocol):
    """Told when a ``phase`` block starts (``record`` is None) and when any phase is recorded."""

    def __call__(
        self, kind: str, name: str, role: str | None, scenario: str | None, record: PhaseRecord | None
    ) -> None: ...


class Timeline:
    """Thread-safe list of phase records."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[PhaseRecord] = []
        self._listeners: list[PhaseListener] = []

    def subscribe(self, listener: PhaseListener) -> None:
        self._listeners.append(listener)

    def _tell(
        self, kind: str, name: str, role: str | None, scenario: str | None, record: PhaseRecord | None
    ) -> None:
        for listener in list(self._listeners):
            try:
                listener(kind, name, role, scenario, record)
            except Exception:  # a broken progress line must not break the work it reports
                log.exception("timeline listener %r failed", listener)

    def record(
        self,
        kind: str,
        name: str,
        role: str | None,
        scenario: str | None,
        start: float,
        duration: float,
        outcome: str,
        lane: str | None = None,
    ) -> PhaseRecord:
        """Add one finished phase. ``start`` is ``time.time()`` at its beginning; ``lane``
        defaults to the caller's (run/lanes.py)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"phase outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
        if duration < 0:
            raise ValueError(f"phase {name!r} has a negative duration {duration}")
        entry = PhaseRecord(
            kind=kind if kind in PHASE_KINDS else "other",
            name=name,
            role=role,
            scenario=scenario,
            start=float(start),
            duration=float(duration),
            outcome=outcome,
            lane=lane or current_lane(),
        )
        with self._lock:
            self._records.append(entry)
        self._tell(entry.kind, name, role, scenario, entry)
        return entry

    @contextmanager
    def phase(
        self,
        kind: str,
        name: str,
        *,
        role: str | None = None,
        scenario: str | None = None,
        allure_step: bool = True,
    ) -> Iterator[None]:
        """Time a block and record it; an exception marks it failed (and propagates)."""
        start = time.time()
        began = time.monotonic()
        outcome = "failed"
        self._tell(kind if kind in PHASE_KINDS else "other", name, role, scenario, None)
        try:
            if allure_step:
                with allure.step(f"{kind}: {name}" + (f" [{role}]" if role else "")):
                    yield
            else:
                yield
            outcome = "passed"
        finally:
            self.record(kind, name, role, scenario, start, time.monotonic() - began, outcome)

    def records(self) -> list[PhaseRecord]:
        with self._lock:
            return sorted(self._records, key=lambda entry: (entry.start, entry.kind, entry.name))

    def to_dicts(self) -> list[dict[str, Any]]:
        return [asdict(entry) for entry in self.records()]

    def extend_from_dicts(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.record(
                str(row["kind"]),
                str(row["name"]),
                row.get("role"),
                row.get("scenario"),
                float(row["start"]),
                float(row["duration"]),
                str(row["outcome"]),
                str(row.get("lane") or "main"),
            )

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
