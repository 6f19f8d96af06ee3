"""The kwok provider's leftovers: what a kill right now would leave of this run and how to
remove it (``kwok_leftovers``, asked by a signal handler: files only, no commands), and the
sweep of finished earlier runs (their network namespaces, processes first, and their bridges)."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from clusters.capabilities import LeftoverScope
from clusters.kwok.config import leftover_owner
from clusters.names import RunIdentity
from clusters.netns import HostNetwork, IpCli, delete_netns, short_link_name
from clusters.netns_etc import NetnsEtcFiles
from clusters.run_registry import RunRegistry
from run.timeouts import KWOK_SWEEP_GRACE

log = logging.getLogger("eicp.kwok")

NETNS_DIR = Path("/run/netns")  # where `ip netns add` names its namespaces
SYS_NET = Path("/sys/class/net")


def registry_of(state_dir: Path) -> RunRegistry:
    """The kwok provider's own host registry (clusters/run_registry.py) in the suite's state dir."""
    return RunRegistry(state_dir / "kwok")


def kwok_leftovers(scope: LeftoverScope) -> list[str]:
    """This process's network namespaces (its kwok clusters and test hosts) and its bridge, each
    with the command that removes it; nothing once the run is kept on purpose."""
    netns_dir, sys_net = NETNS_DIR, SYS_NET
    records = registry_of(scope.state_dir).records()
    if any(r.run_id == scope.run_id and r.worker == scope.worker and r.kept for r in records):
        return []
    names: list[str] = []
    with contextlib.suppress(OSError):
        names = sorted(
            entry.name
            for entry in netns_dir.iterdir()
            if leftover_owner(scope.prefix, entry.name) == (scope.run_id, scope.worker)
        )
    owner = f"{scope.prefix}-{scope.run_id}" + (f"-{scope.worker}" if scope.worker else "")
    bridge = short_link_name("ekb", owner)
    lines = []
    if names:
        lines.append(f"kwok clusters and test hosts of this run (network namespaces): {', '.join(names)}")
        lines.append(
            f"  delete them: for ns in {' '.join(names)}; do ip netns pids $ns | xargs -r kill -9; "
            "ip netns delete $ns; rm -rf /etc/netns/$ns; done"
        )
    if (sys_net / bridge).exists():
        lines.append(f"bridge {bridge} ({owner}): ip link delete {bridge}")
    if lines:
        lines.append(
            f"  or run the suite again in kwok mode with --cluster-prefix {scope.prefix}: its sweep "
            "deletes the network namespaces and bridges of finished runs with that prefix"
        )
    return lines


def sweep_leftovers(
    ip: IpCli, registry: RunRegistry, identity: RunIdentity, etc: NetnsEtcFiles | None = None
) -> list[str]:
    """Delete namespaces, their ``/etc/netns`` files and bridges of finished earlier runs with
    ``identity``'s prefix, never the current run's, a live run's or a kept one's. Call with
    ``registry.locked()``."""
    etc = etc or NetnsEtcFiles()
    live = registry.live_runs() | {identity.run_id}
    kept = {record.run_id for record in registry.records() if record.kept}

    def leftover(name: str) -> bool:
        owner = leftover_owner(identity.prefix, name)
        return owner is not None and owner[0] not in live and owner[0] not in kept

    swept = [name for name in ip.netns_names() if leftover(name)]
    if swept:
        log.info("deleting leftover network namespaces of earlier runs: %s", ", ".join(swept))
        delete_netns(ip, swept, KWOK_SWEEP_GRACE.seconds(), etc)
    for name in swept:
        registry.forget(name)
    for name in etc.names():  # files whose namespace is already gone (a crash between the two)
        if leftover(name) and name not in swept:
            log.info("deleting the leftover hosts files of network namespace %s", name)
            etc.remove(name)
            swept.append(f"/etc/netns/{name}")
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


def kept_message(
    run_id: str, clusters: dict[str, tuple[str, Path]], kubectl: Path, network: HostNetwork | None
) -> str:
    """What the user is told about a kept cluster set: how to reach each cluster (role ->
    (name, kwokctl's kubeconfig)) and how to delete everything by hand."""
    lines = [f"kwok clusters of run {run_id} kept (--keep-clusters / --keep-on-failure):"]
    for role, (name, raw) in clusters.items():
        lines.append(f"  {role}: ip netns exec {name} {kubectl} --kubeconfig {raw} get nodes")
    if network is not None:
        names = " ".join(sorted(network.hosts))
        lines.append(
            f"  delete them: for ns in {names}; do ip netns pids $ns | xargs -r kill -9; ip netns delete $ns; "
            f"rm -rf /etc/netns/$ns; done; ip link delete {network.bridge}"
        )
    return "\n".join(lines)
