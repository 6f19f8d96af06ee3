"""Kind cluster sets: naming, provisioning in parallel, teardown, reuse and the leftover sweep.

Names. Every cluster is ``<prefix>-<run id>-<role>`` plus ``-<xdist worker>`` when workers own
cluster sets, e.g. ``eicp-1121003745-remote-gw1``. That pattern is how the suite recognises its
own clusters; nothing else is ever deleted.

Host state (``state_dir``, shared by every run of the suite by this user):
- ``runs/<run id>.<worker>.lock`` is held by each live pytest process of a run, so another run
  can tell a finished (or killed) run from a live one;
- ``clusters/<name>.json`` records how each cluster was made (role, node image, subnets) and
  whether it was kept on purpose (``--keep-clusters``/``--keep-on-failure``).

Lifecycle of a session (``KindProvisioner``):
1. preflight: Docker answers, inotify limits (``clusters/preflight.py``);
2. leftover sweep: clusters and cloud-provider-kind containers of *earlier, finished* runs
   with this prefix that were not kept on purpose are deleted;
3. ``--reuse-clusters``: kept clusters of a finished run that match (same prefix, worker, role,
   node image and subnets) are adopted; they are never deleted by the adopting run;
4. memory preflight for the clusters still to create, then all of them are created in
   parallel; only kind's known transient failures are retried, a bounded number of times;
5. per cluster: kubeconfig (0600, run dir), control-plane IP on the kind network, node
   preparation (Ready nodes, CoreDNS available, LB exclusion label dropped), image loading.
On a failure or Ctrl-C during 4-5, what this run created is deleted at once (or kept with
``--keep-on-failure``). ``teardown()`` runs from a session finalizer, after failures and after
Ctrl-C: it releases cloud-provider-kind, then deletes this run's clusters unless kept, then
removes this run's leftover ``kindccm-*`` containers if no cloud-provider-kind is left to do it.

The pieces: names (kind_names.py), the host registry (kind_registry.py), bring-up
(bringup.py), node preparation (nodes.py), teardown and keeping (teardown.py).
The builder the topology plugin calls is ``build_kind_provider`` (clusters/kind/provider.py).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from clusters.capabilities import Capability, ProviderCapabilities
from clusters.cluster import Topology
from clusters.kind.bringup import KindBringUp, KindSettings, ProvisioningError, TeardownError
from clusters.kind.nodes import prepare_nodes
from clusters.kind.preflight import check_docker, check_inotify, check_memory
from clusters.kind.teardown import KindTeardown
from clusters.names import NameParts, RunIdentity, worker_for_names
from clusters.preflight import PreflightError
from clusters.provider import ExternalLoadBalancers, LoadBalancerProvider, StepRecordLike
from clusters.run_registry import ClusterRecord, RegistryBusy, RunRegistry
from programs.runner import CommandRunner
from scenarios.steps import Role

__all__ = [
    "ClusterRecord",
    "KindProvisioner",
    "KindSettings",
    "NameParts",
    "ProvisioningError",
    "RegistryBusy",
    "RunIdentity",
    "RunRegistry",
    "TeardownError",
    "host_preflight",
    "prepare_nodes",
    "worker_for_names",
]

log = logging.getLogger("eicp.lifecycle")

CAPABILITIES = ProviderCapabilities(
    mode="kind",
    clusters="kind clusters",
    creates_clusters=True,
    supports=frozenset(Capability) - {Capability.ISTIO_SOURCES},
    lacks={
        Capability.ISTIO_SOURCES: (
            "its clusters pull istiod and proxy images, and a source build makes none (only "
            "istioctl, pilot-discovery and the synthetic proxy, as host binaries)"
        ),
    },
)


def host_preflight(runner: CommandRunner, docker_bin: str, proc_root: Path = Path("/proc")) -> None:
    """Docker answers and the inotify limits suffice; raise ``PreflightError`` listing every problem.

    Runs before any tool is resolved and before any cluster is created (the memory check,
    which needs the number of clusters to create, follows in ``provision``).
    """
    problems = [*check_docker(runner, shutil.which(docker_bin)), *check_inotify(proc_root)]
    if problems:
        raise PreflightError(problems)


@dataclass
class KindProvisioner(KindBringUp, KindTeardown):
    """The kind ``ClusterProvider`` (clusters/provider.py): one cluster set per session.

    Its state is ``KindState``'s fields (clusters/kind/bringup.py), shared with the mixins."""

    capabilities: ClassVar[ProviderCapabilities] = CAPABILITIES
    preflight_passed: bool = False  # set when the builder ran ``host_preflight`` already

    # -- the ClusterProvider contract ---------------------------------------------------

    def load_balancers(self) -> LoadBalancerProvider:
        return self.cpk if self.cpk is not None else ExternalLoadBalancers()

    def stand_ins(self) -> tuple[str, ...]:
        return ()

    def step_recorded(self, record: StepRecordLike) -> None:
        """kind follows nothing the steps create: its nodes run the pods themselves."""

    def cluster_names(self) -> list[str]:
        """Names of this run's clusters (created or adopted), for cloud-provider-kind cleanup."""
        with self._lock:
            return [*self.created.values(), *self.adopted.values()]

    def provision(self, roles: Sequence[Role]) -> Topology:
        """Make the clusters for ``roles`` ready and return the topology (see the module docstring)."""
        roles = tuple(dict.fromkeys(roles))
        if not self.preflight_passed:
            host_preflight(self.runner, self.docker.docker_bin, self.proc_root)
            self.preflight_passed = True
        self.registry.hold_run(self.identity)
        with self.registry.locked(self.settings.lock_timeout_s, holder=f"run {self.identity.run_id}"):
            self.sweep_leftovers()
            to_create = self._adopt(roles) if self.settings.reuse_clusters else list(roles)
        memory = check_memory(len(to_create) * max(1, self.settings.parallel_cluster_sets), self.proc_root)
        if memory:
            raise PreflightError(memory)
        try:
            self._bring_up(roles, to_create)
        except BaseException as error:
            interrupted = not isinstance(error, Exception)
            if isinstance(error, ProvisioningError) and error.deadline_passed:
                log.error(
                    "cluster bring-up passed its deadline: ending kind and deleting this run's clusters"
                )
                self._end_own_children()
            self._abort(error, interrupted=interrupted)
            if isinstance(error, ProvisioningError) and self.kept_message:
                raise ProvisioningError(error.errors, self.kept_message) from None
            raise
        return Topology(self.capabilities, clusters=dict(self.handles), prefix=self.identity.prefix)

    def teardown(self, *, failed: bool, interrupted: bool = False) -> str | None:
        """End of session: release cloud-provider-kind, delete or keep this run's clusters.

        Returns the "how to reach the kept clusters" message when clusters are kept.
        """
        if self._torn_down:
            return self.kept_message
        self._torn_down = True
        keep_reason = self._keep_reason(failed=failed, interrupted=interrupted)
        if self.cpk is not None:
            outcome = self.cpk.release()
            log.info("cloud-provider-kind: %s", outcome)
        errors: list[str] = []
        if keep_reason is None:
            created = self._created_in_role_order()
            if failed:
                self._export_logs(created)
            deleted, errors = self._delete(created)
            self._remove_cpk_leftovers(deleted)
        self._mark_kept(keep_reason)
        self.registry.release_run()
        if errors:
            raise TeardownError(
                "could not delete kind cluster(s) of this run (the next run's leftover sweep will retry):\n  "
                + "\n  ".join(errors)
            )
        return self.kept_message

    def sweep_leftovers(self) -> list[str]:
        """Delete clusters and cloud-provider-kind containers of finished earlier runs (not kept ones).

        Only names of this suite's pattern with this prefix qualify, never the current run's,
        never a live run's, never a cluster kept on purpose. Call with ``registry.locked()``.
        """
        if self.cpk is not None:
            self.cpk.stop_orphan()
        live = self.registry.live_runs() | {self.identity.run_id}
        records = {record.name: record for record in self.registry.records()}
        existing = self.kind.clusters()

        def leftover(name: str) -> bool:
            parts = self.identity.parse(name)
            if parts is None or parts.run_id in live:
                return False
            record = records.get(name)
            return record is None or not record.kept

        doomed = [name for name in existing if leftover(name)]
        for name in doomed:
            log.info("deleting leftover kind cluster %s of an earlier run", name)
            self.kind.delete(name, self.run_dir / "sweep" / f"{name}.kubeconfig")
            self.registry.forget(name)
        # Load balancer containers of those clusters, and of suite clusters already gone.
        stale = [container.name for container in self.docker.cpk_containers() if leftover(container.cluster)]
        self.docker.remove_containers(stale)
        for name, record in records.items():
            if name not in existing and (record.in_use_by is None or record.in_use_by not in live):
                self.registry.forget(name)
        return doomed
