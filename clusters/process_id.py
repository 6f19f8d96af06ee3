"""A process named by pid *and* start time, so that a recycled pid is never mistaken for it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ProcessId:
    """A process by pid *and* start time, so a recycled pid never matches."""

    pid: int
    start_ticks: str

    @classmethod
    def of(cls, pid: int) -> ProcessId:
        return cls(pid, _start_ticks(pid) or "")

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ProcessId:
        return cls(int(raw["pid"]), str(raw.get("start_ticks", "")))

    def alive(self) -> bool:
        stat = _proc_stat(self.pid)
        if stat is None:
            # No /proc (not Linux): fall back to "a process with this pid exists".
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
            return not Path("/proc").is_dir()
        state, ticks = stat
        return state != "Z" and (not self.start_ticks or ticks == self.start_ticks)


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks) from /proc/<pid>/stat, or None if there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after its last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], fields[19]


def _start_ticks(pid: int) -> str | None:
    stat = _proc_stat(pid)
    return stat[1] if stat else None
