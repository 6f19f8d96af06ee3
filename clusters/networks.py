"""Addressing of each role's cluster, shared by every provider that makes clusters.

Each role gets its own pod and service subnets so that pod and service IPs never collide
between clusters of one mesh, and the Istio network its workloads are on.
"""

from __future__ import annotations

from dataclasses import dataclass

from scenarios.steps import Role


@dataclass(frozen=True)
class RoleNetwork:
    """Addressing of one role's cluster, and the Istio network its workloads are on."""

    pod_subnet: str
    service_subnet: str
    mesh_network: str | None


ROLE_NETWORKS: dict[Role, RoleNetwork] = {
    "external": RoleNetwork("10.10.0.0/16", "10.255.10.0/24", None),
    "remote": RoleNetwork("10.20.0.0/16", "10.255.20.0/24", "network1"),
    "second": RoleNetwork("10.30.0.0/16", "10.255.30.0/24", "network2"),
}
