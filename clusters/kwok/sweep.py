"""The kwok provider's leftovers: what a kept cluster set's message says, and the sweep of
finished earlier runs (their network namespaces, processes first, and their bridges)."""

from __future__ import annotations

import logging

from clusters.kwok.config import leftover_owner
from clusters.names import RunIdentity
from clusters.netns import IpCli, delete_netns
from clusters.run_registry import RunRegistry

log = logging.getLogger("eicp.kwok")

SWEEP_GRACE_S = 3.0  # leftover test clusters: no data worth a graceful shutdown


def sweep_leftovers(ip: IpCli, registry: RunRegistry, identity: RunIdentity) -> list[str]:
    """Delete namespaces and bridges of finished earlier runs with ``identity``'s prefix, never
    the current run's, a live run's or a kept one's. Call with ``registry.locked()``."""
    live = registry.live_runs() | {identity.run_id}
    kept = {record.run_id for record in registry.records() if record.kept}

    def leftover(name: str) -> bool:
        owner = leftover_owner(identity.prefix, name)
        return owner is not None and owner[0] not in live and owner[0] not in kept

    swept = [name for name in ip.netns_names() if leftover(name)]
    if swept:
        log.info("deleting leftover network namespaces of earlier runs: %s", ", ".join(swept))
        delete_netns(ip, swept, SWEEP_GRACE_S)
    for name in swept:
        registry.forget(name)
    for bridge, alias in ip.bridges().items():
        if alias and leftover(alias):
            log.info("deleting leftover bridge %s (%s) of an earlier run", bridge, alias)
            ip.run("link", "delete", bridge, check=False)
            swept.append(bridge)
    return swept


def mark_kept(registry: RunRegistry, names: list[str]) -> None:
    """Record ``names`` as kept on purpose: later sweeps leave their run alone."""
    for name in names:
        record = registry.get(name)
        if record is not None:
            record.kept = True
            registry.save(record)
