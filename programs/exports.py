"""Files written by a tool that may hold secrets (``kind export logs``: node journals, kubelet and
pod logs) reach the report directory only through the redactor, and only once.

``export_redacted`` lets the tool write into a private temporary directory (mode 0700, outside
the report directory), copies every regular file through the redactor to the target, and lets
the raw files vanish. Exports are keyed (``kind_logs_key(cluster)``) and remembered by the
session's ``CommandRunner``: a second export of the same key is not run and answers where the
first one went, so diagnostics and the cluster teardown never export a cluster's logs twice.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from programs.redaction import copy_tree_redacted
from programs.runner import CommandRunner

MAX_COPIED_FILE_BYTES = 20 * 1024 * 1024


@dataclass
class Export:
    """What an export wrote: its files, the files not copied, or where an earlier one went."""

    target: Path
    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    earlier: Path | None = None


_lock = threading.Lock()


def kind_logs_key(cluster: str) -> str:
    return f"kind export logs {cluster}"


def export_redacted(
    runner: CommandRunner,
    write: Callable[[Path], object],
    target: Path,
    *,
    key: str,
    max_bytes: int = MAX_COPIED_FILE_BYTES,
) -> Export:
    """Run ``write(raw_dir)`` (which fills ``raw_dir``), then copy the files through the runner's
    redactor to ``target``; or nothing, when ``key`` was exported through this runner before.

    Exceptions of ``write`` (a failing command) propagate, and the key stays free for a retry.
    """
    with _lock:
        earlier = runner.exports.get(key)
        if earlier is None:
            runner.exports[key] = target
    if earlier is not None:
        return Export(target=target, earlier=earlier)
    try:
        with tempfile.TemporaryDirectory(prefix="eicp-export-") as raw:
            write(Path(raw))
            files, problems = copy_tree_redacted(Path(raw), target, runner.redactor, max_bytes=max_bytes)
    except BaseException:
        with _lock:
            runner.exports.pop(key, None)
        raise
    return Export(target=target, files=files, problems=problems)
