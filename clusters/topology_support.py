"""What the topology plugin needs besides pytest: the roles of a selection, the host's state
directory, and the Kubernetes version each cluster reports (noted for the reports)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from clusters.cluster import Topology
from programs.runner import CommandError
from run.info import RunFacts
from run.timeouts import SERVER_VERSION
from scenarios.registry import roles_of
from scenarios.steps import Role

STATE_DIR_ENV = "EICP_STATE_DIR"


def needed_roles(scenarios: Iterable[str]) -> tuple[Role, ...]:
    """The cluster roles the given scenarios need (their ``ScenarioSpec.roles``; external and remote always)."""
    return roles_of(scenarios)


def state_dir() -> Path:
    """Host-wide state of the suite (run locks, cluster records, cloud-provider-kind state)."""
    explicit = os.environ.get(STATE_DIR_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "eicp"


def note_server_versions(topology: Topology, facts: RunFacts) -> None:
    """Tell the reports each cluster's Kubernetes version (``unknown`` when it cannot be read)."""
    for role, cluster in topology.clusters.items():
        try:
            result = cluster.kubectl("version", "-o", "json", check=False, timeout_s=SERVER_VERSION.seconds())
            server = json.loads(result.stdout or "{}").get("serverVersion") or {}
        except (CommandError, json.JSONDecodeError, AttributeError):
            server = {}  # a slow or odd API server is for the checks to report, not this note
        facts.note_kubernetes_version(role, server.get("gitVersion"))
