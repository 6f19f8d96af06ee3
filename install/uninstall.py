"""The ledger-driven uninstall, run: each cluster's chain beside the others', then the sweep.

install/teardown.py decides the steps (pure); this runs them through the installer's step
runner. Each cluster's chain (``uninstall_chains``: its entries newest first) runs in a lane of
its own (run/lanes.py) and ends with the wait for the namespaces and CRDs it deleted without
waiting (``gone_step``); an entry whose steps all passed leaves the ledger, so a second
uninstall skips it. Then each cluster is swept, side by side too.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence

from clusters.cluster import Topology
from install import teardown
from install.faults import StepFailed
from install.ledger import Ledger, LedgerEntry
from install.snapshot import take_snapshot
from programs.runner import CommandError
from programs.waits import Backoff, Observation, WaitTimeout, wait_until
from run.lanes import concurrently
from run.timeouts import UNINSTALL_SWEEP
from scenarios.steps import Role, Step

log = logging.getLogger("eicp.installer")

RunAll = Callable[[Sequence[Step]], list[StepFailed]]
# The sweep looks again this often, up to run/timeouts.py UNINSTALL_SWEEP, while what it
# deleted keeps coming back.
SWEEP_POLL = Backoff(min_s=0.5, max_s=2.0)


def undo_ledger(
    ledger: Ledger, topology: Topology, run_all: RunAll, lock: threading.Lock
) -> list[StepFailed]:
    """Undo what ``ledger`` recorded; every step runs even after one fails; the failures."""
    chains = teardown.uninstall_chains(ledger)
    found = concurrently(
        [
            (role, functools.partial(_undo_chain, ledger, run_all, lock, role, chain))
            for role, chain in chains.items()
        ]
    )
    swept = concurrently(
        [
            (role, functools.partial(_sweep_cluster, ledger, topology, run_all, role))
            for role in ledger.baseline
        ]
    )
    return [failure for failures in (*found, *swept) for failure in failures]


def _undo_chain(
    ledger: Ledger,
    run_all: RunAll,
    lock: threading.Lock,
    role: Role,
    chain: Sequence[tuple[LedgerEntry, list[Step]]],
) -> list[StepFailed]:
    """One cluster's entries, newest first; then the wait for its deferred deletions."""
    failures: list[StepFailed] = []
    for entry, steps in chain:
        failed = run_all(steps)
        if not failed:
            with lock:
                ledger.entries.remove(entry)  # undone: a second uninstall skips it
        failures += failed
    gone = teardown.gone_step(role, [step for _, steps in chain for step in steps])
    return failures + (run_all([gone]) if gone is not None else [])


def _sweep_cluster(ledger: Ledger, topology: Topology, run_all: RunAll, role: Role) -> list[StepFailed]:
    """Delete what controllers made again (``teardown.sweep_refs``) until a listing shows none
    of it: a controller that had not stopped yet when its deletion returned (an istiod process
    outliving its Deployment by a moment) writes its ConfigMaps once more. One that never stops
    is the restore check's to report."""
    failures: list[StepFailed] = []

    def sweep_once() -> Observation[None]:
        try:
            listing = take_snapshot(topology[role]).objects
        except CommandError as error:
            log.warning("uninstall sweep: cannot list %s: %s", role, error)
            return Observation(True, f"cannot list: {error}", None)
        stray = teardown.sweep_refs(ledger, role, listing)
        if not stray:
            return Observation(True, "nothing made again", None)
        shown = ", ".join(str(ref) for ref in stray)
        log.info("uninstall sweep on %s: %s", role, shown)
        failures.extend(run_all(teardown.delete_steps(teardown.sweep_entry(role), stray)))
        return Observation(False, f"deleted again: {shown}", None)

    try:
        wait_until(
            f"[{role}] nothing the run made to come back",
            sweep_once,
            UNINSTALL_SWEEP.seconds(),
            backoff=SWEEP_POLL,
        )
    except WaitTimeout as timeout:
        log.warning("uninstall sweep: %s", timeout)
    return failures
