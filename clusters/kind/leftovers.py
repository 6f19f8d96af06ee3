"""What a kill right now would leave of a kind run, and how to remove it (a signal handler asks,
fixtures/termination.py): the run's clusters still recorded and not kept, and the host's
cloud-provider-kind daemon when this process is its only live user. Files only, no commands."""

from __future__ import annotations

import contextlib
import os

from clusters.capabilities import LeftoverScope
from clusters.kind.cloud_provider_kind import STATE_FILE, read_state
from clusters.process_id import ProcessId
from clusters.run_registry import RunRegistry


def kind_leftovers(scope: LeftoverScope) -> list[str]:
    lines = []
    clusters = [
        record.name
        for record in RunRegistry(scope.state_dir).records()
        if record.run_id == scope.run_id and record.worker == scope.worker and not record.kept
    ]
    if clusters:
        lines.append(f"kind clusters of this run: {', '.join(clusters)}")
        lines.append("  delete them: " + "; ".join(f"kind delete cluster --name {c}" for c in clusters))
        lines.append(
            f"  or run the suite again in kind mode with --cluster-prefix {scope.prefix}: "
            "its leftover sweep deletes the clusters of finished runs with that prefix"
        )
    daemon = _daemon_pid(scope)
    if daemon is not None:
        lines.append(f"cloud-provider-kind pid {daemon}: kill -TERM -- -{daemon}  (its process group)")
    return lines


def _daemon_pid(scope: LeftoverScope) -> int | None:
    """The cloud-provider-kind daemon's pid when this process is its only live user."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        state = read_state(scope.state_dir / STATE_FILE)
        if state is None:
            return None
        users = [user for user in state.get("users", []) if ProcessId.from_json(user).alive()]
        if all(int(user["pid"]) == os.getpid() for user in users):
            daemon = ProcessId.from_json(state["daemon"])
            return daemon.pid if daemon.alive() else None
    return None
