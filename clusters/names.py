"""Names of the clusters the suite makes (kind and kwok alike): ``<prefix>-<run id>-<role>[-<xdist worker>]``.

That pattern is how the suite recognises its own clusters; nothing else is ever deleted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scenarios.steps import ROLES, Role

# kind warns above 50 characters (pkg/cluster/internal/create/create.go, clusterNameMax): node
# container hostnames are "<name>-control-plane" and must stay within 63 characters.
KIND_NAME_MAX = 50
KIND_NAME_RE = re.compile(r"^[a-z0-9.-]+$")  # kind's validNameRE (pkg/internal/apis/config/validate.go)

_RUN_ID_RE = re.compile(r"^[0-9a-z]{1,16}$")
_WORKER_RE = re.compile(r"^gw[0-9]{1,4}$")


class ClusterNameError(ValueError):
    """A cluster name the suite would make breaks kind's naming rules (kwok follows the same)."""


def validate_cluster_name(name: str) -> str:
    """Cluster names follow kind's rules, the stricter of the providers that make clusters."""
    if not KIND_NAME_RE.match(name):
        raise ClusterNameError(f"kind cluster name {name!r} must match {KIND_NAME_RE.pattern}")
    if len(name) > KIND_NAME_MAX:
        raise ClusterNameError(
            f"kind cluster name {name!r} has {len(name)} characters; kind supports at most {KIND_NAME_MAX} "
            "(use a shorter --cluster-prefix)"
        )
    return name


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
