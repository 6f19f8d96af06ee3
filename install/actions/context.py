"""What every action gets: the clusters, the release's tools, what is known, and the ledger.

An action is a function ``(ctx, step, cluster) -> str | None`` (the value is the fact a wait
``provides``). The engine (install/installer.py) builds one ``ActionContext`` per step from
its own fields, so a field changed between steps (node access handed over) is seen.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from clusters.cluster import ClusterHandle, Topology
from install.faults import PlanError
from install.hostname import KindNodes
from install.kubectl import dump, server_side_apply
from install.ledger import Ledger, ObjectRef, documents_of, refs_from_output
from install.snapshot import take_snapshot
from programs.private_files import write_private
from programs.runner import CommandError, CommandResult
from programs.waits import Backoff
from run.timeouts import (
    INSTALL_COMMAND,
    INSTALL_DELETE,
    INSTALL_HELM,
    INSTALL_ISTIOCTL,
    INSTALL_MANIFEST_APPLY,
    INSTALL_PUBLISH,
    INSTALL_REMOTE_SECRET,
    INSTALL_UNINSTALL,
    INSTALL_WAIT,
    Deadline,
)
from scenarios.facts import Facts
from scenarios.pki import SuitePki
from scenarios.releases import IstioRelease
from scenarios.steps import Action, Role, Step

T = TypeVar("T")
log = logging.getLogger("eicp.installer")

# A step's deadline when it names none (``deadline_s``): by action, else INSTALL_COMMAND.
ACTION_DEADLINES: dict[Action, Deadline] = {
    Action.ISTIOCTL_INSTALL: INSTALL_ISTIOCTL,
    Action.MANIFEST_GENERATE_APPLY: INSTALL_MANIFEST_APPLY,
    Action.HELM_INSTALL: INSTALL_HELM,
    Action.WAIT: INSTALL_WAIT,
    Action.REMOTE_SECRET: INSTALL_REMOTE_SECRET,
    Action.DELETE: INSTALL_DELETE,
    Action.ISTIOCTL_UNINSTALL: INSTALL_UNINSTALL,
    Action.PUBLISH_HOSTNAME: INSTALL_PUBLISH,
}


@dataclass(frozen=True)
class ActionContext:
    topology: Topology
    release: IstioRelease
    work_dir: Path
    istioctl: Path
    helm: Callable[[], Path] | None
    samples: Callable[[], Path] | None
    pki: Callable[[], SuitePki] | None
    nodes: KindNodes | None
    poll: Backoff
    facts: Facts
    ledger: Ledger | None
    # The Istio source tree the release was built from; None (or returning None): a published
    # release, whose charts come from its Helm repository.
    istio_source: Callable[[], Path | None] | None = None

    def timeout(self, step: Step) -> float:
        if "deadline_s" in step.params:
            return float(step.params["deadline_s"])
        return ACTION_DEADLINES.get(step.action, INSTALL_COMMAND).seconds()

    def apply(
        self, cluster: ClusterHandle, documents: str, step: Step, *extra: str, title: str | None = None
    ) -> CommandResult:
        """Server-side apply of ``documents``; the ledger records every object kubectl names."""
        result = server_side_apply(cluster, documents, self.timeout(step), *extra, title=title)
        namespace = extra[extra.index("-n") + 1] if "-n" in extra else None
        self.record(result.stdout, documents_of(documents), namespace, cluster.role)
        return result

    def record(
        self,
        output: str,
        documents: Sequence[dict[str, Any]] = (),
        namespace: str | None = None,
        role: Role | None = None,
    ) -> None:
        """Objects named by a tool's ``-o name`` output, created by the current step."""
        if self.ledger is not None:
            self.ledger.created(refs_from_output(output, documents, namespace), role)

    def record_refs(self, refs: Sequence[ObjectRef]) -> None:
        """Objects read back from the API that the current step created."""
        if self.ledger is not None:
            self.ledger.created(refs)

    def read_back(self, cluster: ClusterHandle) -> None:
        """Record what the cluster's listing gained since the last one (tools' own objects)."""
        if self.ledger is None:
            return
        try:
            self.ledger.read_back(cluster.role, take_snapshot(cluster).objects)
        except CommandError as error:
            # Not fatal: the uninstall's final sweep compares with the baseline again.
            log.warning("[%s] could not read back what the step created: %s", cluster.role, error)

    def register_secrets(self, manifests: Sequence[dict[str, Any]]) -> None:
        """Secret payloads in a step's manifests (e.g. the PKI's keys) become redacted values."""
        redactor = self.topology.clusters[next(iter(self.topology.clusters))].runner.redactor
        for manifest in manifests:
            if manifest.get("kind") != "Secret":
                continue
            for value in (manifest.get("stringData") or {}).values():
                redactor.register(str(value))
            for value in (manifest.get("data") or {}).values():
                with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                    redactor.register(base64.b64decode(str(value), validate=True).decode())
                redactor.register(str(value))

    def write_private(self, step: Step, name: str, text: str) -> Path:
        """A file only this user reads, under ``<work dir>/<role>/`` (IstioOperators, values)."""
        return write_private(self.work_dir / step.role / name, text)


def param(step: Step, key: str, kind: type[T]) -> T:
    if key not in step.params:
        raise PlanError(
            f"step {step.name!r} ({step.action.value}) lacks parameter {key!r}; it has: "
            f"{', '.join(step.params) or 'none'}"
        )
    value = step.params[key]
    if not isinstance(value, kind):
        raise PlanError(f"step {step.name!r}: parameter {key!r} should be a {kind.__name__}, got {value!r}")
    return value


__all__ = ["ActionContext", "dump", "param"]
