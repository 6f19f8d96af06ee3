"""What a cluster provider declares about its clusters: ``ProviderCapabilities``.

Declared once per ``--topology-mode`` (clusters/providers.py), carried by every ``Topology`` the
provider makes, and asked instead of mode names: by the applicability decision (which checks
run here, suites/applicability.py), the installers (may the suite publish its test hostname),
diagnostics (are there container logs), the reports (what a run stood in for) and the plugins
(how clusters are named to the user, whether they are the suite's to create and keep).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from scenarios.capabilities import Capability

__all__ = ["Capability", "LeftoverScope", "ProviderCapabilities"]


@dataclass(frozen=True)
class ProviderCapabilities:
    mode: str  # its --topology-mode value
    clusters: str  # how messages name its clusters: "kind clusters"
    # The suite creates and deletes them (one cluster set per xdist worker; --keep-clusters,
    # --keep-on-failure apply); otherwise they are the user's, shared by the whole run.
    creates_clusters: bool
    supports: frozenset[Capability]
    # Why each capability it does not support is missing: half of every skip reason.
    lacks: Mapping[Capability, str] = field(default_factory=dict)
    # What every run of this mode stands in for, whatever else the provider notes during a run,
    # in the reports' "component (stand-in)" form.
    stands_in: tuple[str, ...] = ()
    # Without CONTAINER_LOGS: the pods whose containers ``kubectl logs`` and ``exec`` reach all
    # the same, because a stand-in process runs for them: (namespace, labels) pairs (kwok: the
    # external istiod's pods, each a pilot-discovery host process).
    served_pods: tuple[tuple[str, Mapping[str, str]], ...] = ()

    def reaches_containers_of(self, namespace: str, labels: Mapping[str, str]) -> bool:
        """Whether ``kubectl logs`` and ``exec`` reach the containers of this pod."""
        return self.can(Capability.CONTAINER_LOGS) or any(
            namespace == served and all(labels.get(key) == value for key, value in wanted.items())
            for served, wanted in self.served_pods
        )

    def __post_init__(self) -> None:
        unexplained = [c.value for c in Capability if c not in self.supports and c not in self.lacks]
        both = [c.value for c in self.supports if c in self.lacks]
        if unexplained or both:
            raise ValueError(
                f"{self.mode} capabilities: every capability is supported or lacked with a reason "
                f"(unexplained: {unexplained}, both: {both})"
            )

    def can(self, capability: Capability) -> bool:
        return capability in self.supports

    def why_not(self, capability: Capability) -> str:
        """Why its clusters lack ``capability`` (empty when they have it)."""
        return "" if self.can(capability) else self.lacks[capability]


@dataclass(frozen=True)
class LeftoverScope:
    """Whose leftovers to describe: one pytest process's part of a run (a signal handler asks)."""

    state_dir: Path  # host-wide state of the suite (clusters/topology_support.py state_dir)
    prefix: str
    run_id: str
    worker: str | None  # the xdist worker's part of cluster names (None outside xdist)
