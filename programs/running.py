"""The commands running now: every ``CommandRunner.run`` call registers its process group here
while it runs, so a terminated suite can end them all (fixtures/termination.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading

from programs.waits import WaitTimeout, wait_until
from run.timeouts import KILL_GRACE


class _RunningGroups:
    """The process groups of the commands running now, in every runner of this process.

    Each command leads its own process group (``start_new_session``), so a signal sent to the
    suite never reaches it: ``end_running_commands`` is how a terminated suite ends them all,
    threads' commands included (fixtures/termination.py).
    """

    def __init__(self) -> None:
        # Re-entrant: a signal handler reads it in the main thread, maybe while it holds it.
        self._lock = threading.RLock()
        self._groups: dict[int, str] = {}

    def add(self, pgid: int, shown: str) -> None:
        with self._lock:
            self._groups[pgid] = shown

    def remove(self, pgid: int) -> None:
        with self._lock:
            self._groups.pop(pgid, None)

    def snapshot(self) -> dict[int, str]:
        with self._lock:
            return dict(self._groups)


RUNNING = _RunningGroups()


def running_commands() -> dict[int, str]:
    """Process group id -> redacted command line of every command running now."""
    return RUNNING.snapshot()


def signal_running_commands(sig: signal.Signals = signal.SIGTERM) -> list[str]:
    """Send ``sig`` to the group of every running command and return their command lines.
    Never blocks: safe inside a signal handler."""
    ended = []
    for pgid, shown in running_commands().items():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
            ended.append(shown)
    return ended


def end_running_commands(grace_s: float | None = None) -> list[str]:
    """SIGTERM every running command's group, SIGKILL the groups still there after ``grace_s``;
    return the command lines that were running. The runner threads waiting on them then see
    them exit (killed by a signal) and raise ``CommandError`` as for any failure."""
    ended = signal_running_commands(signal.SIGTERM)
    if ended:
        with contextlib.suppress(WaitTimeout):  # the grace is over: SIGKILL whatever is left
            wait_until(
                "the running commands to end after SIGTERM",
                running_commands,
                KILL_GRACE.seconds() if grace_s is None else grace_s,
                until=lambda running: not running,
                initial_delay_s=0.05,
                max_delay_s=0.05,
            )
    signal_running_commands(signal.SIGKILL)
    return ended
