"""Ending a kind cluster set: abort after a failed or interrupted bring-up, delete or keep the
run's clusters, export their logs on failure, and say how to reach what was kept.

``KindTeardown`` is a mixin of ``KindProvisioner`` (clusters/kind/lifecycle.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from functools import partial

from clusters.kind.bringup import KindState, ProvisioningError
from clusters.kind.nodes import own_children_running
from programs import cancellation
from programs.exports import export_redacted, kind_logs_key
from programs.runner import CommandError
from programs.waits import WaitTimeout, wait_until
from run.timeouts import KIND_INTERRUPT
from scenarios.steps import ROLES, Role

log = logging.getLogger("eicp.lifecycle")


class KindTeardown(KindState):
    def _abort(self, error: BaseException, *, interrupted: bool) -> None:
        """Stop in-flight work and delete what this run created (or keep it on failure)."""
        with cancellation.cleanup("the deletion of the kind clusters this run created"):
            self._cancelled.set()
            if interrupted:
                log.warning(
                    "interrupted during cluster bring-up: stopping kind and deleting this run's clusters"
                )
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

        def signal_children() -> list[str]:
            for pid in own_children_running(executables):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    if os.getpgid(pid) == pid:
                        os.killpg(pid, signal.SIGTERM)
                    else:
                        os.kill(pid, signal.SIGTERM)
            return [t.name for t in threading.enumerate() if t.name.startswith("kind_") and t.is_alive()]

        try:
            wait_until(
                "this run's kind threads to end after SIGTERM to their commands",
                signal_children,
                KIND_INTERRUPT.seconds(),
                until=lambda busy: not busy,
                show=lambda busy: f"still running: {', '.join(busy)}",
                initial_delay_s=0.2,
                max_delay_s=0.2,
            )
        except WaitTimeout as timeout:
            log.warning("%s; deleting the clusters anyway", timeout)

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
        # Through the redactor, once per cluster: diagnostics may have exported them already.
        for name in created.values():
            try:
                export = export_redacted(
                    self.runner,
                    partial(self.kind.export_logs, name),
                    self.report_dir / "diagnostics" / "kind" / name,
                    key=kind_logs_key(name),
                )
            except CommandError as error:
                log.warning("kind export logs %s failed: %s", name, error)
                continue
            if export.earlier is not None:
                log.info("kind logs of %s were exported with the diagnostics: %s", name, export.earlier)

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
