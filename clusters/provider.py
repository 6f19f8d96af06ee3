"""The contract every cluster provider (kind, existing, kwok) keeps with the topology plugin.

A provider turns the roles a run needs into a ``Topology``, tells installers how LoadBalancer
Services get addresses, lists what it stands in for, and removes what it created. The
topology plugin (fixtures/topology_plugin.py) picks the provider by ``--topology-mode`` and
calls nothing else, so a new provider is one module here plus one line in that plugin.
"""

from __future__ import annotations

from typing import Protocol

from clusters.cloud_provider_kind import LoadBalancerProvider
from clusters.cluster import Topology
from scenarios.steps import Role


class ClusterProvider(Protocol):
    """One ``--topology-mode``: provisions the clusters of a run and tears them down."""

    mode: str

    def provision(self, roles: tuple[Role, ...]) -> Topology:
        """Create (or connect to) one cluster per role; raise ``ProvisioningError``-like
        errors with a message the user can act on (the plugin ends the session with it)."""
        ...

    def load_balancers(self) -> LoadBalancerProvider:
        """What installers call ``ensure_started()`` on before the first LoadBalancer Service."""
        ...

    def stand_ins(self) -> tuple[str, ...]:
        """What this mode stands in for instead of running it for real, as the reports list it
        (empty for kind and existing clusters)."""
        ...

    def teardown(self, *, failed: bool, interrupted: bool) -> str | None:
        """Remove what ``provision`` created (unless kept); return a message for the user
        about anything kept or left behind, else ``None``."""
        ...
