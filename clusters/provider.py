"""The contract every cluster provider (kind, existing, kwok) keeps with the topology plugin.

A provider declares what its clusters can do (``capabilities``, clusters/capabilities.py),
turns the roles a run needs into a ``Topology`` carrying them, tells installers how
LoadBalancer Services get addresses, hears of every finished scenario step, lists what it
stands in for, and removes what it created. The topology plugin (fixtures/topology_plugin.py)
picks the provider by ``--topology-mode`` from clusters/providers.py and calls nothing else,
so a new provider is its package plus one ``ProviderSpec`` there.

A provider is made by a builder ``build_<mode>_provider(context: ProviderContext)``. The builder
runs before any cluster exists: host preflight first, then it resolves (and version-checks)
every tool its mode needs through ``context.tools``, so a missing tool or an unfit host stops
the session before anything is created. Builders and ``provision`` raise ``ProviderError``
(or a subclass) with a message the user can act on; the plugin ends the session with it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from clusters.capabilities import ProviderCapabilities
from clusters.cluster import ProviderError, Topology
from programs.redaction import Redactor
from programs.runner import CommandRunner
from programs.tools import ToolResolver
from run.config import SuiteConfig
from scenarios.steps import Role

log = logging.getLogger("eicp.clusters")

__all__ = [
    "ClusterProvider",
    "ExternalLoadBalancers",
    "LoadBalancerProvider",
    "ProviderContext",
    "ProviderError",
    "StepRecordLike",
]


class LoadBalancerProvider(Protocol):
    """What installers call before they create the first LoadBalancer Service."""

    def ensure_started(self) -> None: ...


class ExternalLoadBalancers:
    """Clusters that bring their own LoadBalancer implementation: nothing to start."""

    def ensure_started(self) -> None:
        log.debug("LoadBalancer addresses come from the clusters' own provider")


class StepRecordLike(Protocol):
    """What ``install.installer.StepRecord`` tells a provider about a finished step."""

    @property
    def role(self) -> Role: ...
    @property
    def action(self) -> str: ...
    @property
    def phase(self) -> str: ...
    @property
    def outcome(self) -> str: ...


@dataclass(frozen=True)
class ProviderContext:
    """What a provider builder gets from the topology plugin."""

    config: SuiteConfig
    run_id: str
    worker: str  # the pytest-xdist worker id (gw0, ...) or "main"
    run_dir: Path  # per-run, per-worker directory (0700) for kubeconfigs and other secrets
    state_dir: Path  # host-wide state of the suite (locks, cluster records)
    report_dir: Path
    runner: CommandRunner
    redactor: Redactor
    tools: ToolResolver


class ClusterProvider(Protocol):
    """One ``--topology-mode``: provisions the clusters of a run and tears them down."""

    @property
    def capabilities(self) -> ProviderCapabilities:
        """What its clusters can do (the same record clusters/providers.py declares)."""
        ...

    def provision(self, roles: tuple[Role, ...]) -> Topology:
        """Create (or connect to) one cluster per role; raise ``ProvisioningError``-like
        errors with a message the user can act on (the plugin ends the session with it)."""
        ...

    def load_balancers(self) -> LoadBalancerProvider:
        """What installers call ``ensure_started()`` on before the first LoadBalancer Service."""
        ...

    def step_recorded(self, record: StepRecordLike) -> None:
        """A scenario step finished (a provider that follows the workloads the steps create,
        as kwok's synthetic proxies do, acts on it; others ignore it)."""
        ...

    def stand_ins(self) -> tuple[str, ...]:
        """What this mode stands in for instead of running it for real, as the reports list it
        (empty for kind and existing clusters)."""
        ...

    def teardown(self, *, failed: bool, interrupted: bool) -> str | None:
        """Remove what ``provision`` created (unless kept); return a message for the user
        about anything kept or left behind, else ``None``."""
        ...
