"""A summary of the commands the runner ran, fed by ``CommandRunner`` listeners.

Keeps only what the reports show (title, timing, exit status), never the output: the full,
redacted output already sits in the Allure steps and the transcript.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

from programs.runner import CommandRecord

_KEPT_SLOWEST = 50


@dataclass(frozen=True)
class CommandSummary:
    title: str
    started_at: float
    duration_s: float
    status: str  # "ok", "exit N", "timeout", "not started"


class CommandLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0
        self.failed = 0
        self.total_s = 0.0
        self._slowest: list[CommandSummary] = []
        # (start, duration, lane) of every command the suite waited for (not background
        # children): what the benchmark (ci/benchmark.py) counts as time spent in tools, and
        # the lane (run/lanes.py) its critical path follows.
        self.spans: list[tuple[float, float, str]] = []

    def __call__(self, record: CommandRecord) -> None:
        """The runner listener."""
        if record.timed_out:
            status = "timeout"
        elif record.returncode is None:
            status = "not started"
        else:
            status = "ok" if record.returncode == 0 else f"exit {record.returncode}"
        summary = CommandSummary(record.title, record.started_at, record.duration_s, status)
        with self._lock:
            if not record.background:
                self.spans.append((record.started_at, record.duration_s, record.lane))
            self.count += 1
            self.failed += summary.status != "ok"
            self.total_s += summary.duration_s
            self._keep([summary])

    def _keep(self, summaries: list[CommandSummary]) -> None:
        self._slowest.extend(summaries)
        self._slowest.sort(key=lambda item: item.duration_s, reverse=True)
        del self._slowest[_KEPT_SLOWEST:]

    def slowest(self, limit: int = 10) -> list[CommandSummary]:
        with self._lock:
            return self._slowest[:limit]

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "count": self.count,
                "failed": self.failed,
                "total_s": self.total_s,
                "slowest": [asdict(item) for item in self._slowest],
                "spans": list(self.spans),
            }

    def merge(self, data: dict[str, Any]) -> None:
        with self._lock:
            self.count += int(data.get("count", 0))
            self.failed += int(data.get("failed", 0))
            self.total_s += float(data.get("total_s", 0.0))
            self._keep([CommandSummary(**item) for item in data.get("slowest", [])])
            self.spans.extend(
                (float(span[0]), float(span[1]), str(span[2]) if len(span) > 2 else "main")
                for span in data.get("spans", [])
            )
