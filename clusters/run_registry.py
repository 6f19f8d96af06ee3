"""Host-wide record of the suite's runs and kind clusters (shared by every run by this user).

- ``runs/<run id>.<worker>.lock`` is held by each live pytest process of a run, so another run
  can tell a finished (or killed) run from a live one;
- ``clusters/<name>.json`` records how each cluster was made (role, node image, subnets) and
  whether it was kept on purpose (``--keep-clusters``/``--keep-on-failure``);
- ``registry.lock`` serialises sweeps and adoption; ``registry.holder`` says who holds it, so a
  run that waits too long can name the holder.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from clusters.cluster import ProviderError
from clusters.names import RunIdentity
from run.timeouts import REGISTRY_LOCK

log = logging.getLogger("eicp.lifecycle")


class RegistryBusy(ProviderError):
    """The cluster-set lock was not free within the run's deadline."""


@dataclass
class ClusterRecord:
    name: str
    role: str
    run_id: str
    worker: str | None
    node_image: str
    pod_subnet: str
    service_subnet: str
    created_at: float
    kept: bool = False
    in_use_by: str | None = None


class RunRegistry:
    """Host-wide record of the suite's runs and clusters (see the module docstring)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.runs_dir = state_dir / "runs"
        self.clusters_dir = state_dir / "clusters"
        self._held: FileLock | None = None

    @contextlib.contextmanager
    def locked(self, timeout_s: float | None = None, *, holder: str = "") -> Iterator[None]:
        """Hold the cluster-set lock; wait at most ``timeout_s`` (the run's own deadline), then
        raise ``RegistryBusy`` naming who holds it."""
        timeout_s = REGISTRY_LOCK.seconds() if timeout_s is None else timeout_s
        self.state_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.state_dir / "registry.lock"), timeout=max(0.0, timeout_s))
        holder_file = self.state_dir / "registry.holder"
        try:
            lock.acquire()
        except Timeout:
            try:
                who = holder_file.read_text().strip() or "unknown"
            except OSError:
                who = "unknown (no holder record)"
            raise RegistryBusy(
                f"the suite's cluster-set lock {self.state_dir / 'registry.lock'} was not free within "
                f"{timeout_s:.0f} s; it is held by {who}. Wait for that run to finish, or end it."
            ) from None
        try:
            holder_file.write_text(f"pid {os.getpid()} {holder} since {time.strftime('%H:%M:%S')}\n")
            yield
        finally:
            holder_file.unlink(missing_ok=True)
            lock.release()

    def hold_run(self, identity: RunIdentity) -> None:
        """Mark this process's part of the run as live until ``release_run`` or process exit."""
        if self._held is not None:
            return
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.runs_dir / f"{identity.run_id}.{identity.worker or 'main'}.lock"), timeout=0)
        lock.acquire()
        self._held = lock

    def release_run(self) -> None:
        if self._held is not None:
            self._held.release()
            self._held = None

    def live_runs(self) -> set[str]:
        """Run ids with at least one live process (its lock file is held)."""
        live: set[str] = set()
        if not self.runs_dir.is_dir():
            return live
        for path in self.runs_dir.glob("*.lock"):
            run_id = path.name.split(".", 1)[0]
            if run_id in live:
                continue
            probe = FileLock(str(path), timeout=0)
            try:
                probe.acquire()
            except Timeout:
                live.add(run_id)
            else:
                probe.release()
        return live

    def records(self) -> list[ClusterRecord]:
        if not self.clusters_dir.is_dir():
            return []
        records = []
        for path in sorted(self.clusters_dir.glob("*.json")):
            try:
                records.append(ClusterRecord(**json.loads(path.read_text())))
            except (json.JSONDecodeError, TypeError, OSError) as error:
                log.warning("ignoring unreadable cluster record %s: %s", path, error)
        return records

    def get(self, name: str) -> ClusterRecord | None:
        return next((record for record in self.records() if record.name == name), None)

    def save(self, record: ClusterRecord) -> None:
        self.clusters_dir.mkdir(parents=True, exist_ok=True)
        path = self.clusters_dir / f"{record.name}.json"
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(asdict(record), indent=1))
        partial.replace(path)

    def forget(self, name: str) -> None:
        (self.clusters_dir / f"{name}.json").unlink(missing_ok=True)
