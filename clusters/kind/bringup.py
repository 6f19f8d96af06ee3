"""Bringing a kind cluster set up: settings, adoption of kept clusters, parallel creation with
bounded retries of kind's known transient failures, an overall deadline, and node preparation.

``KindBringUp`` is a mixin of ``KindProvisioner`` (clusters/kind/lifecycle.py); ``KindState``
names the state they share.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from clusters.cluster import ClusterHandle, ProviderError
from clusters.kind.cli import DockerCli, KindCli, KindError, transient_create_failure
from clusters.kind.cloud_provider_kind import CloudProviderKind
from clusters.kind.config import dump_kind_config, render_kind_config
from clusters.kind.nodes import prepare_nodes
from clusters.kubeconfig import save_kubeconfig
from clusters.names import RunIdentity
from clusters.networks import ROLE_NETWORKS
from clusters.run_registry import ClusterRecord, RunRegistry
from programs.redaction import Redactor
from programs.runner import CommandError, CommandRunner
from programs.waits import Backoff, retry
from run.timeouts import KIND_BRING_UP, KIND_COREDNS, KIND_CREATE_WAIT, KIND_NODES_READY, REGISTRY_LOCK
from scenarios.steps import Role

log = logging.getLogger("eicp.lifecycle")


def go_duration(seconds: float) -> str:
    """kind's --wait, in Go's duration syntax: ``5m``, ``90s``."""
    return f"{seconds / 60:g}m" if seconds % 60 == 0 else f"{seconds:g}s"


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
    create_wait: str = field(default_factory=lambda: go_duration(KIND_CREATE_WAIT.seconds()))
    nodes_ready_deadline_s: float = field(default_factory=KIND_NODES_READY.seconds)
    coredns_deadline_s: float = field(default_factory=KIND_COREDNS.seconds)
    # The whole parallel bring-up (all creations with their retries, node preparation, image
    # loading) and the wait for the host's cluster-set lock are bounded too.
    bring_up_deadline_s: float = field(default_factory=KIND_BRING_UP.seconds)
    lock_timeout_s: float = field(default_factory=REGISTRY_LOCK.seconds)


class ProvisioningError(ProviderError):
    """Some clusters could not be made ready; ``errors`` maps each role to its error."""

    def __init__(
        self,
        errors: dict[Role, BaseException],
        kept_message: str | None = None,
        *,
        deadline_passed: bool = False,
    ) -> None:
        self.errors = errors
        self.deadline_passed = deadline_passed  # commands may still be running: end them
        lines = ["kind clusters could not be provisioned:"]
        for role, error in errors.items():
            detail = str(error).replace("\n", "\n    ")
            lines.append(f"  - {role}: {detail}")
        if kept_message:
            lines.append(kept_message)
        super().__init__("\n".join(lines))


class TeardownError(ProviderError):
    """Some clusters of this run could not be deleted; the next run's sweep will retry."""


@dataclass
class KindState:
    """The state ``KindProvisioner`` shares with its mixins: its fields, declared once."""

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


class KindBringUp(KindState):
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
            _, pending = concurrent.futures.wait(futures.values(), timeout=self.settings.bring_up_deadline_s)
        finally:
            # Never block here: after Ctrl-C the futures are ended by _abort, not awaited.
            executor.shutdown(wait=False, cancel_futures=True)
        errors: dict[Role, BaseException] = {}
        for role, future in futures.items():
            if future in pending:
                self._cancelled.set()  # the threads stop at their next step; _abort deletes
                errors[role] = KindError(
                    f"bring-up did not finish within the overall deadline of "
                    f"{self.settings.bring_up_deadline_s:.0f} s"
                )
                continue
            error = future.exception()
            if error is not None:
                errors[role] = error
            else:
                self.handles[role] = future.result()
        if errors:
            raise ProvisioningError(errors, deadline_passed=bool(pending))

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

        def clean_before_retry(error: BaseException, attempt: int) -> None:
            why = transient_create_failure(error) if isinstance(error, CommandError) else None
            log.warning(
                "kind create %s failed with a known transient failure (%s); attempt %d of %d follows",
                name,
                why,
                attempt,
                self.settings.create_attempts,
            )
            self.kind.delete(name, kubeconfig)

        def create() -> None:
            self._check_not_cancelled()
            self.kind.create(name, config_path, kubeconfig, wait=self.settings.create_wait)

        retry(
            f"kind create {name}",
            create,
            self.settings.create_attempts,
            transient=retry_transient,
            backoff=Backoff(self.settings.retry_wait_s, 6 * self.settings.retry_wait_s),
            before_retry=clean_before_retry,
        )
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
