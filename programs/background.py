"""A long-running child of the suite (a daemon, a stand-in process): ``CommandRunner.start``.

Its output goes to a log file; ``stop()`` ends its process group with a deadline and tells the
runner's listeners, once, as a ``background`` record (its duration is its lifetime, not time
the suite waited for it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from run.timeouts import KILL_GRACE

if TYPE_CHECKING:
    from programs.runner import CommandRunner

log = logging.getLogger("eicp.runner")


@dataclass
class BackgroundProcess:
    """A long-running child started by ``CommandRunner.start``: its output goes to a log file,
    ``stop()`` ends its process group with a deadline and tells the runner's listeners."""

    process: subprocess.Popen[bytes]
    shown: tuple[str, ...]
    title: str
    log_file: Path
    started_wall: float
    owner: CommandRunner

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def returncode(self) -> int | None:
        return self.process.poll()

    def exit_within(self, seconds: float) -> int | None:
        """Its exit code if it exits within ``seconds`` (a daemon that dies at once), else None."""
        try:
            return self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace_s: float | None = None) -> int | None:
        """SIGTERM the group, SIGKILL after ``grace_s``; return the exit code (None if unkillable)."""
        was_running = self.running()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=KILL_GRACE.seconds() if grace_s is None else grace_s)
                break
            except subprocess.TimeoutExpired:
                continue
        code = self.process.poll()
        duration = time.time() - self.started_wall
        log.info("  stopped %s (exit %s, ran %.1fs)", self.title, code, duration)
        if was_running or code is not None:
            self.owner._notify(
                self.title, self.shown, self.started_wall, duration, code, False, "", "", background=True
            )
        return code
