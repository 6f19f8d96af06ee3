"""A run's cancellation and its cleanups: what a signal handler (fixtures/termination.py) asks
and every stage tells, without importing the plugins.

- ``cleanup(what)`` marks code that undoes what the run made (an uninstall and its restore
  check, a cluster set's deletion, the stand-ins' stop, the run directory's removal). A signal
  that arrives inside one never interrupts it: the handler lets it go on to its end.
- ``request_cancel(signal_name)`` is the handler saying that the run was cancelled: from then
  on work that only adds information (diagnostics) stops early (``cancelled()``), and when the
  outermost cleanup that was running ends, the ``at_cleanup_end`` callback decides how the
  run stops (the handler raises ``KeyboardInterrupt`` there, unless pytest is tearing down).

State is process-wide and touched from the main thread only (a signal handler runs there),
except ``cancelled()``, which any thread may read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

_cleanups: list[str] = []
_cancelled: list[str] = []
_at_cleanup_end: list[Callable[[], None]] = []


@contextlib.contextmanager
def cleanup(what: str) -> Iterator[None]:
    """Mark the block as a cleanup (``what``: "uninstall of ip-passthrough-1.30.5")."""
    _cleanups.append(what)
    try:
        yield
    finally:
        _cleanups.pop()
        if not _cleanups and _cancelled:
            for callback in list(_at_cleanup_end):
                callback()


def current_cleanup() -> str | None:
    """The innermost cleanup running now, or None."""
    return _cleanups[-1] if _cleanups else None


def request_cancel(signal_name: str) -> None:
    if not _cancelled:
        _cancelled.append(signal_name)


def cancelled() -> str | None:
    """The signal that cancelled the run (``SIGTERM``...), or None."""
    return _cancelled[0] if _cancelled else None


def at_cleanup_end(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` when the outermost cleanup ends after a cancel; returns an unregister."""
    _at_cleanup_end.append(callback)
    return lambda: _at_cleanup_end.remove(callback) if callback in _at_cleanup_end else None


def reset() -> None:
    """Forget the cancellation (a process that runs several sessions, as the self-tests do)."""
    _cancelled.clear()
    _cleanups.clear()
