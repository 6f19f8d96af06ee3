"""Names of the suite's kind clusters: ``<prefix>-<run id>-<role>[-<xdist worker>]``.

That pattern is how the suite recognises its own clusters; nothing else is ever deleted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clusters.kind import validate_cluster_name
from scenarios.steps import ROLES, Role

_RUN_ID_RE = re.compile(r"^[0-9a-z]{1,16}$")
_WORKER_RE = re.compile(r"^gw[0-9]{1,4}$")


@dataclass(frozen=True)
class RunIdentity:
    """Who owns a cluster set: the prefix, the run and (with xdist cluster sets) the worker."""

    prefix: str
    run_id: str
    worker: str | None = None

    def __post_init__(self) -> None:
        if not _RUN_ID_RE.match(self.run_id):
            raise ValueError(f"run id {self.run_id!r} must be 1-16 characters of 0-9 and a-z (EICP_RUN_ID)")
        if self.worker is not None and not _WORKER_RE.match(self.worker):
            raise ValueError(f"worker id {self.worker!r} is not an xdist worker id (gw0, gw1, ...)")

    def cluster_name(self, role: Role) -> str:
        suffix = f"-{self.worker}" if self.worker else ""
        return validate_cluster_name(f"{self.prefix}-{self.run_id}-{role}{suffix}")

    def parse(self, name: str) -> NameParts | None:
        """The parts of a cluster name made by this suite with this prefix, else None."""
        match = re.fullmatch(
            rf"{re.escape(self.prefix)}-(?P<run>[0-9a-z]{{1,16}})-(?P<role>{'|'.join(ROLES)})"
            rf"(?:-(?P<worker>gw[0-9]{{1,4}}))?",
            name,
        )
        if match is None:
            return None
        return NameParts(match["run"], match["role"], match["worker"])


@dataclass(frozen=True)
class NameParts:
    run_id: str
    role: str
    worker: str | None


def worker_for_names(xdist_worker: str) -> str | None:
    """The worker part of cluster names: the xdist worker id, or None outside xdist."""
    return None if xdist_worker in ("", "main", "master") else xdist_worker
