"""The one way secrets reach the disk: files created with mode 0600, directories with 0700.

A mode given at creation can only be narrowed by the umask, never widened, so nothing here is
ever chmod-ed after the fact (a window in which another user could read it) and nothing
relies on ``Path.touch(mode=...)`` or ``write_text`` on a file that may already exist with a
wider mode. ``write_private`` writes a new file (``O_CREAT | O_EXCL``, mode 0600) beside the
target and renames it over the target, so the content is never readable by others, whatever
the target's mode was, and a reader never sees half a file.

Used for kubeconfigs, istioctl and helm inputs, the kwok stand-ins' volumes and tokens, and
the run directory itself (clusters/, install/, fixtures/core.py).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def make_private_dir(directory: Path) -> Path:
    """Create ``directory`` (and its missing parents) with mode 0700; leave existing ones as they
    are (``EICP_RUNS_DIR=/tmp`` must keep /tmp's sticky bit and its mode)."""
    missing = [directory, *(parent for parent in directory.parents)]
    missing = missing[: next((i for i, d in enumerate(missing) if d.is_dir()), len(missing))]
    for new in reversed(missing):
        try:
            new.mkdir(mode=DIR_MODE)
        except FileExistsError:
            if not new.is_dir():
                raise
    return directory


def write_private(path: Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` as a file only this user can read (0600), atomically."""
    make_private_dir(path.parent)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path
