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
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from clusters.cloud_provider_kind import CloudProviderKind
from clusters.cluster import ClusterHandle, Topology
from clusters.kind import DockerCli, KindCli, KindError, transient_create_failure, validate_cluster_name
from clusters.kind_config import ROLE_NETWORKS, dump_kind_config, render_kind_config
from clusters.kubeconfig import save_kubeconfig
from clusters.preflight import PreflightError, check_docker, check_inotify, check_memory
from programs.redaction import Redactor
from programs.runner import CommandError, CommandRunner
from programs.waits import wait_until
from scenarios.steps import ROLES, Role

log = logging.getLogger("eicp.lifecycle")

EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
REGISTRY_LOCK_TIMEOUT_S = 600.0
KUBECTL_PROBE_TIMEOUT_S = 30.0
INTERRUPT_GRACE_S = 30.0
_RUN_ID_RE = re.compile(r"^[0-9a-z]{1,16}$")
_WORKER_RE = re.compile(r"^gw[0-9]{1,4}$")


# -- names ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunIdentity:
    """Who owns a cluster set: the prefix, the run and (with xdist cluster sets) the worker."""

    prefix: str
    run_id: str
    worker: str | None = None

    def __post_init__(self) -> None:
        if not _RUN_ID_RE.match(self.run_id):
            raise ValueError(f"run id {self.run_id!r} must be 1-16 characters of 0-9 and a-z (EICP_RUN_ID)")
        if self.worker is not None and not _WORKER_RE.match(self.worker):
            raise ValueError(f"worker id {self.worker!r} is not an xdist worker id (gw0, gw1, ...)")

    def cluster_name(self, role: Role) -> str:
        suffix = f"-{self.worker}" if self.worker else ""
        return validate_cluster_name(f"{self.prefix}-{self.run_id}-{role}{suffix}")

    def parse(self, name: str) -> NameParts | None:
        """The parts of a cluster name made by this suite with this prefix, else None."""
        match = re.fullmatch(
            rf"{re.escape(self.prefix)}-(?P<run>[0-9a-z]{{1,16}})-(?P<role>{'|'.join(ROLES)})"
            rf"(?:-(?P<worker>gw[0-9]{{1,4}}))?",
            name,
        )
        if match is None:
            return None
        return NameParts(match["run"], match["role"], match["worker"])


@dataclass(frozen=True)
class NameParts:
    run_id: str
    role: str
    worker: str | None


def worker_for_names(xdist_worker: str) -> str | None:
    """The worker part of cluster names: the xdist worker id, or None outside xdist."""
    return None if xdist_worker in ("", "main", "master") else xdist_worker


# -- host registry ----------------------------------------------------------------------


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
    def locked(self) -> Iterator[None]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.state_dir / "registry.lock"), timeout=REGISTRY_LOCK_TIMEOUT_S):
            yield

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


# -- provisioning -----------------------------------------------------------------------


@dataclass(frozen=True)
class KindSettings:
    node_image: str
    keep_clusters: bool = False
    reuse_clusters: bool = False
    keep_on_failure: bool = False
    preload_images: tuple[str, ...] = ()
    image_archive_dir: Path | None = None
    # Cluster sets being brought up on this host at the same time (one per xdist worker): the
    # memory preflight needs room for all of them, not just this worker's.
    parallel_cluster_sets: int = 1
    create_attempts: int = 3
    retry_wait_s: float = 10.0
    create_wait: str = "5m"
    nodes_ready_deadline_s: float = 300.0
    coredns_deadline_s: float = 300.0


class ProvisioningError(RuntimeError):
    """Some clusters could not be made ready; ``errors`` maps each role to its error."""

    def __init__(self, errors: dict[Role, BaseException], kept_message: str | None = None) -> None:
        self.errors = errors
        lines = ["kind clusters could not be provisioned:"]
        for role, error in errors.items():
            detail = str(error).replace("\n", "\n    ")
            lines.append(f"  - {role}: {detail}")
        if kept_message:
            lines.append(kept_message)
        super().__init__("\n".join(lines))


class TeardownError(RuntimeError):
    """Some clusters of this run could not be deleted; the next run's sweep will retry."""


@dataclass
class KindProvisioner:
    kind: KindCli
    docker: DockerCli
    registry: RunRegistry
    identity: RunIdentity
    settings: KindSettings
    run_dir: Path
    report_dir: Path
    runner: CommandRunner
    redactor: Redactor
    kubectl_bin: str
    cpk: CloudProviderKind | None = None
    proc_root: Path = Path("/proc")  # where the host limits are read (a fake one in self-tests)
    handles: dict[Role, ClusterHandle] = field(default_factory=dict)
    created: dict[Role, str] = field(default_factory=dict)
    adopted: dict[Role, str] = field(default_factory=dict)
    kept_message: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _cancelled: threading.Event = field(default_factory=threading.Event)
    _torn_down: bool = False

    # -- public -------------------------------------------------------------------------

    def cluster_names(self) -> list[str]:
        """Names of this run's clusters (created or adopted), for cloud-provider-kind cleanup."""
        with self._lock:
            return [*self.created.values(), *self.adopted.values()]

    def provision(self, roles: Sequence[Role]) -> Topology:
        """Make the clusters for ``roles`` ready and return the topology (see the module docstring)."""
        roles = tuple(dict.fromkeys(roles))
        problems = [
            *check_docker(self.runner, shutil.which(self.docker.docker_bin)),
            *check_inotify(self.proc_root),
        ]
        if problems:
            raise PreflightError(problems)
        self.registry.hold_run(self.identity)
        with self.registry.locked():
            self.sweep_leftovers()
            to_create = self._adopt(roles) if self.settings.reuse_clusters else list(roles)
        memory = check_memory(len(to_create) * max(1, self.settings.parallel_cluster_sets), self.proc_root)
        if memory:
            raise PreflightError(memory)
        try:
            self._bring_up(roles, to_create)
        except BaseException as error:
            interrupted = not isinstance(error, Exception)
            self._abort(error, interrupted=interrupted)
            if isinstance(error, ProvisioningError) and self.kept_message:
                raise ProvisioningError(error.errors, self.kept_message) from None
            raise
        return Topology(mode="kind", clusters=dict(self.handles), prefix=self.identity.prefix)

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

    # -- bring-up -----------------------------------------------------------------------

    def _adopt(self, roles: tuple[Role, ...]) -> list[Role]:
        """Adopt matching kept clusters of finished runs; return the roles still to create."""
        live = self.registry.live_runs() | {self.identity.run_id}
        existing = set(self.kind.clusters())
        to_create: list[Role] = []
        for role in roles:
            network = ROLE_NETWORKS[role]
            candidates = [
                record
                for record in self.registry.records()
                if record.kept
                and record.name in existing
                and record.role == role
                and record.worker == self.identity.worker
                and self.identity.parse(record.name) is not None
                and record.run_id not in live
                and (record.in_use_by is None or record.in_use_by not in live)
                and record.node_image == self.settings.node_image
                and (record.pod_subnet, record.service_subnet) == (network.pod_subnet, network.service_subnet)
            ]
            if not candidates:
                log.info("--reuse-clusters: no kept %s cluster matches; creating one", role)
                to_create.append(role)
                continue
            record = max(candidates, key=lambda candidate: candidate.created_at)
            record.in_use_by = self.identity.run_id
            self.registry.save(record)
            self.adopted[role] = record.name
            log.info("--reuse-clusters: adopting %s for role %s", record.name, role)
        return to_create

    def _bring_up(self, roles: tuple[Role, ...], to_create: list[Role]) -> None:
        executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, len(roles)), thread_name_prefix="kind"
        )
        try:
            futures = {
                role: executor.submit(self._create if role in to_create else self._connect_adopted, role)
                for role in roles
            }
            concurrent.futures.wait(futures.values())
        finally:
            # Never block here: after Ctrl-C the futures are ended by _abort, not awaited.
            executor.shutdown(wait=False, cancel_futures=True)
        errors: dict[Role, BaseException] = {}
        for role, future in futures.items():
            error = future.exception()
            if error is not None:
                errors[role] = error
            else:
                self.handles[role] = future.result()
        if errors:
            raise ProvisioningError(errors)

    def _create(self, role: Role) -> ClusterHandle:
        name = self.identity.cluster_name(role)
        network = ROLE_NETWORKS[role]
        config_path = self.run_dir / f"kind-{role}.yaml"
        kubeconfig = self.run_dir / f"kubeconfig-{role}"
        config_path.write_text(
            dump_kind_config(render_kind_config(role, name=name, node_image=self.settings.node_image))
        )
        with self._lock:
            self._check_not_cancelled()
            # Recorded before kind runs: a failure or Ctrl-C half-way still deletes it.
            self.created[role] = name
        self.registry.save(
            ClusterRecord(
                name=name,
                role=role,
                run_id=self.identity.run_id,
                worker=self.identity.worker,
                node_image=self.settings.node_image,
                pod_subnet=network.pod_subnet,
                service_subnet=network.service_subnet,
                created_at=time.time(),
                in_use_by=self.identity.run_id,
            )
        )

        def retry_transient(error: BaseException) -> bool:
            return (
                isinstance(error, CommandError)
                and not self._cancelled.is_set()
                and transient_create_failure(error) is not None
            )

        def clean_before_retry(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            why = transient_create_failure(error) if isinstance(error, CommandError) else None
            log.warning(
                "kind create %s failed with a known transient failure (%s); attempt %d of %d follows",
                name,
                why,
                state.attempt_number + 1,
                self.settings.create_attempts,
            )
            self.kind.delete(name, kubeconfig)

        for attempt in Retrying(
            stop=stop_after_attempt(self.settings.create_attempts),
            retry=retry_if_exception(retry_transient),
            wait=wait_exponential(multiplier=self.settings.retry_wait_s, max=6 * self.settings.retry_wait_s),
            before_sleep=clean_before_retry,
            reraise=True,
        ):
            with attempt:
                self._check_not_cancelled()
                self.kind.create(name, config_path, kubeconfig, wait=self.settings.create_wait)
        return self._connect(role, name, created=True)

    def _connect_adopted(self, role: Role) -> ClusterHandle:
        return self._connect(role, self.adopted[role], created=False)

    def _connect(self, role: Role, name: str, *, created: bool) -> ClusterHandle:
        self._check_not_cancelled()
        kubeconfig = self.run_dir / f"kubeconfig-{role}"
        save_kubeconfig(kubeconfig, self.kind.kubeconfig(name), self.redactor, f"kind cluster {name}")
        internal_api_server, _ = self.docker.internal_api_server(name)
        handle = ClusterHandle(
            role=role,
            name=name,
            context=f"kind-{name}",
            kubeconfig=kubeconfig,
            internal_api_server=internal_api_server,
            network=ROLE_NETWORKS[role].mesh_network,
            runner=self.runner,
            kubectl_bin=self.kubectl_bin,
            created_by_suite=created,
        )
        self._check_not_cancelled()
        prepare_nodes(
            handle,
            nodes_deadline_s=self.settings.nodes_ready_deadline_s,
            coredns_deadline_s=self.settings.coredns_deadline_s,
            check_cancelled=self._check_not_cancelled,
        )
        self._load_images(name)
        return handle

    def _load_images(self, name: str) -> None:
        self.kind.load_docker_images(name, self.settings.preload_images)
        if self.settings.image_archive_dir is not None:
            for archive in sorted(self.settings.image_archive_dir.glob("*.tar")):
                self._check_not_cancelled()
                self.kind.load_image_archive(name, archive)

    def _check_not_cancelled(self) -> None:
        if self._cancelled.is_set():
            raise KindError("cluster bring-up cancelled")

    # -- failure and teardown helpers -----------------------------------------------------

    def _abort(self, error: BaseException, *, interrupted: bool) -> None:
        """Stop in-flight work and delete what this run created (or keep it on failure)."""
        self._cancelled.set()
        if interrupted:
            log.warning("interrupted during cluster bring-up: stopping kind and deleting this run's clusters")
            self._end_own_children()
        self._torn_down = True
        keep = self.settings.keep_clusters or (self.settings.keep_on_failure and not interrupted)
        if keep:
            self._forget_failed_creations()
            self._mark_kept("--keep-clusters" if self.settings.keep_clusters else "--keep-on-failure")
        else:
            created = self._created_in_role_order()
            if not interrupted and isinstance(error, ProvisioningError):
                self._export_logs(created)
            _, errors = self._delete(created)
            for problem in errors:
                log.error("could not delete %s", problem)
            self._release_adopted()
        self.registry.release_run()

    def _delete(self, clusters: dict[Role, str]) -> tuple[list[str], list[str]]:
        """Delete clusters of this run; return (deleted names, errors)."""
        deleted: list[str] = []
        errors: list[str] = []
        for role, name in clusters.items():
            try:
                self.kind.delete(name, self.run_dir / f"kubeconfig-{role}")
            except CommandError as error:
                errors.append(f"{name}: {error}")
                continue
            deleted.append(name)
            self.registry.forget(name)
            # Its credentials are useless now and must not stay in the report directory.
            (self.run_dir / f"kubeconfig-{role}").unlink(missing_ok=True)
        with self._lock:
            self.created = {role: name for role, name in self.created.items() if name not in deleted}
        return deleted, errors

    def _end_own_children(self) -> None:
        """Ctrl-C: end the kind/docker/kubectl processes this process started, then wait for threads.

        The runner starts each command in its own process group, so the terminal's SIGINT does
        not reach them; without this a ``kind create`` would go on and leave a cluster behind.
        Only direct children running one of this provisioner's executables are signalled.
        """
        executables = {self.kind.kind_bin, self.docker.docker_bin, self.kubectl_bin}
        deadline = time.monotonic() + INTERRUPT_GRACE_S
        while True:
            pids = _own_children_running(executables)
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    if os.getpgid(pid) == pid:
                        os.killpg(pid, signal.SIGTERM)
                    else:
                        os.kill(pid, signal.SIGTERM)
            busy = [t for t in threading.enumerate() if t.name.startswith("kind_") and t.is_alive()]
            if not busy or time.monotonic() > deadline:
                return
            time.sleep(0.2)

    def _forget_failed_creations(self) -> None:
        """Before keeping clusters: drop the ones whose creation failed (kind removed their nodes)."""
        try:
            existing = set(self.kind.clusters())
        except CommandError as error:
            log.warning("could not list kind clusters: %s", error)
            return
        with self._lock:
            for role, name in list(self.created.items()):
                if name not in existing:
                    del self.created[role]
                    self.registry.forget(name)

    def _created_in_role_order(self) -> dict[Role, str]:
        with self._lock:
            return {role: self.created[role] for role in ROLES if role in self.created}

    def _keep_reason(self, *, failed: bool, interrupted: bool) -> str | None:
        if self.settings.keep_clusters:
            return "--keep-clusters"
        if self.settings.keep_on_failure and failed and not interrupted:
            return "--keep-on-failure"
        return None

    def _mark_kept(self, reason: str | None) -> None:
        """Record kept clusters (so sweeps spare them) and build the "how to reach" message."""
        created = self._created_in_role_order()
        if reason is not None:
            for name in created.values():
                record = self.registry.get(name)
                if record is not None:
                    record.kept = True
                    record.in_use_by = None
                    self.registry.save(record)
        self._release_adopted()
        kept = {**(created if reason is not None else {}), **self.adopted}
        if not kept:
            self.kept_message = None
            return
        why = reason or "--reuse-clusters (adopted clusters are never deleted by the adopting run)"
        lines = [f"kind clusters kept ({why}):"]
        # The run directory (and its kubeconfigs) outlives the session only with a keep option
        # (fixtures/core.py ``run_dir``); otherwise kind itself hands out the kubeconfig.
        run_dir_kept = self.settings.keep_clusters or self.settings.keep_on_failure
        for role, name in kept.items():
            kubeconfig = self.run_dir / f"kubeconfig-{role}"
            lines.append(f"  {role}: {name}")
            if run_dir_kept:
                lines.append(f"      kubectl --kubeconfig {kubeconfig} --context kind-{name} get pods -A")
            lines.append(
                f"      kind export kubeconfig --name {name}  # adds context kind-{name} to ~/.kube/config"
            )
        lines.append(
            "  delete them with: " + "; ".join(f"kind delete cluster --name {name}" for name in kept.values())
        )
        lines.append("  or use them again with --reuse-clusters --keep-clusters")
        self.kept_message = "\n".join(lines)

    def _release_adopted(self) -> None:
        for name in self.adopted.values():
            record = self.registry.get(name)
            if record is not None and record.in_use_by == self.identity.run_id:
                record.in_use_by = None
                self.registry.save(record)

    def _export_logs(self, created: dict[Role, str]) -> None:
        for name in created.values():
            try:
                self.kind.export_logs(name, self.report_dir / "diagnostics" / "kind" / name)
            except CommandError as error:
                log.warning("kind export logs %s failed: %s", name, error)

    def _remove_cpk_leftovers(self, deleted: list[str]) -> None:
        """Remove kindccm containers of deleted clusters unless a live cloud-provider-kind will."""
        if not deleted or (self.cpk is not None and self.cpk.running()):
            return
        try:
            removed = self.docker.remove_cpk_containers_of(deleted)
        except CommandError as error:
            log.warning("could not list cloud-provider-kind containers: %s", error)
            return
        if removed:
            log.info("removed leftover cloud-provider-kind containers: %s", ", ".join(removed))


# -- node preparation -------------------------------------------------------------------


def prepare_nodes(
    handle: ClusterHandle,
    *,
    nodes_deadline_s: float,
    coredns_deadline_s: float,
    check_cancelled: Callable[[], None] = lambda: None,
) -> None:
    """Wait for Ready nodes and an available CoreDNS; drop the LB exclusion label on one-node clusters.

    kubeadm labels control-plane nodes ``exclude-from-external-load-balancers``; the service
    controller that cloud-provider-kind runs skips such nodes, so a one-node cluster would get
    no LoadBalancer backends. kind drops the label itself for one-node clusters; this makes
    sure of it (also for adopted clusters). ``check_cancelled`` raises to end the waits early.
    """

    def get_json(*args: str) -> dict[str, Any]:
        check_cancelled()
        return _get_json(handle, *args)

    nodes = wait_until(
        f"the nodes of the {handle.role} cluster {handle.name} to be Ready",
        lambda: get_json("get", "nodes")["items"],
        nodes_deadline_s,
        until=lambda items: bool(items) and all(_condition(node, "Ready") == "True" for node in items),
        show=_nodes_summary,
        transient=(CommandError,),
    )
    if len(nodes) == 1 and EXCLUDE_LB_LABEL in (nodes[0]["metadata"].get("labels") or {}):
        handle.kubectl(
            "label",
            "node",
            nodes[0]["metadata"]["name"],
            f"{EXCLUDE_LB_LABEL}-",
            title=f"[{handle.role}] let cloud-provider-kind use the single node as a LoadBalancer backend",
        )
    wait_until(
        f"CoreDNS (kube-system/coredns) in the {handle.role} cluster {handle.name} to be Available",
        lambda: get_json("-n", "kube-system", "get", "deployment", "coredns"),
        coredns_deadline_s,
        until=lambda deployment: _condition(deployment, "Available") == "True",
        show=_deployment_summary,
        transient=(CommandError,),
    )


def _get_json(handle: ClusterHandle, *args: str) -> dict[str, Any]:
    result = handle.kubectl(
        *args,
        "-o",
        "json",
        f"--request-timeout={int(KUBECTL_PROBE_TIMEOUT_S)}s",
        timeout_s=KUBECTL_PROBE_TIMEOUT_S + 10,
    )
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _condition(obj: dict[str, Any], kind: str) -> str | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return str(condition.get("status"))
    return None


def _nodes_summary(items: list[dict[str, Any]]) -> str:
    if not items:
        return "no nodes registered"
    return ", ".join(f"{node['metadata']['name']} Ready={_condition(node, 'Ready')}" for node in items)


def _deployment_summary(deployment: dict[str, Any]) -> str:
    status = deployment.get("status") or {}
    return (
        f"Available={_condition(deployment, 'Available')}, "
        f"ready {status.get('readyReplicas', 0)}/{(deployment.get('spec') or {}).get('replicas', '?')}"
    )


def _own_children_running(executables: set[str]) -> list[int]:
    """Pids of this process's direct children whose command is one of ``executables``."""
    me = os.getpid()
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            if parent != me:
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        # Scripts run through an interpreter show it first: look at the first two words.
        if any(word.decode(errors="replace") in executables for word in argv[:2]):
            pids.append(int(entry.name))
    return pids
