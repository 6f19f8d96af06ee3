"""Actions that run istioctl: ``install``/``uninstall``, and ``manifest generate`` piped to
kubectl apply/delete.

``istioctl install`` prints no list of what it made, and makes more than its manifest (the
namespace, the default revision-tag webhooks of a default revision): what it made is read back
from the API afterwards: the cluster's listing (install/ledger.py), and the namespaced objects
istioctl labels as its own that were not there before the step.

A step whose guide cleans up with ``istioctl uninstall -y --purge -f <file>`` (``uninstall=
"purge"``) gets that command as its ledger undo, so the uninstall runs the guide's cleanup first
and then deletes whatever the ledger recorded that is still there. A purge removes every object
labelled as Istio's on the cluster, not only this run's: it runs only when each of those is the
run's own (recorded, or inside a namespace the run created); otherwise it is refused with the
objects named, and the ledger's deletions alone undo the step.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from clusters.cluster import ClusterHandle
from install.actions.context import ActionContext, param
from install.faults import PlanError
from install.kubectl import KIND_GONE, dump, tolerant_delete
from install.ledger import OBJECT_COLUMNS, ObjectRef, group_kind, parse_object_columns
from install.snapshot import TRACKED_KINDS
from programs.runner import CommandError, CommandResult
from run.timeouts import INSTALL_POLL
from scenarios.steps import Action, Step

log = logging.getLogger("eicp.installer")

# What istioctl labels every object it installs with, and the namespaced kinds its uninstall
# prunes (istio operator/pkg/uninstall/prune.go NamespacedResources, less pods, which go with
# their owners, and EnvoyFilters, whose kind may not exist; see PURGE_CLUSTER_KINDS).
ISTIOCTL_COMPONENT_LABEL = "operator.istio.io/component"
ISTIOCTL_NAMESPACED_KINDS = (
    "deployments.apps",
    "daemonsets.apps",
    "services",
    "configmaps",
    "secrets",
    "serviceaccounts",
    "roles.rbac.authorization.k8s.io",
    "rolebindings.rbac.authorization.k8s.io",
    "poddisruptionbudgets.policy",
    "horizontalpodautoscalers.autoscaling",
)
# The cluster-scoped kinds ``istioctl uninstall --purge`` prunes (prune.go AllClusterResources),
# and the EnvoyFilter kind it prunes where Istio's CRDs exist.
PURGE_CLUSTER_KINDS = (
    "mutatingwebhookconfigurations.admissionregistration.k8s.io",
    "validatingwebhookconfigurations.admissionregistration.k8s.io",
    "clusterroles.rbac.authorization.k8s.io",
    "clusterrolebindings.rbac.authorization.k8s.io",
    "customresourcedefinitions.apiextensions.k8s.io",
)
ENVOYFILTERS = "envoyfilters.networking.istio.io"


def istioctl_install(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
    _note_guide_undo(ctx, step)
    before = _labelled(ctx, cluster)
    try:
        _istioctl_with_iop(ctx, step, cluster, "install", "-y")
    finally:
        ctx.read_back(cluster)  # its namespace, webhooks (the default revision tag), cluster roles
        if before is not None:
            after = _labelled(ctx, cluster) or set()
            # Its objects in namespaces the run did not create (those go with their namespace).
            owned = ctx.ledger.namespaces(cluster.role) if ctx.ledger is not None else set()
            ctx.record_refs(sorted(ref for ref in after - before if ref.namespace not in owned))
    return None


def _labelled(
    ctx: ActionContext,
    cluster: ClusterHandle,
    kinds: tuple[str, ...] = ISTIOCTL_NAMESPACED_KINDS,
    *,
    kind_may_be_missing: bool = False,
) -> set[ObjectRef] | None:
    """The objects of ``kinds`` istioctl labels as its own (``operator.istio.io/component``);
    None when nothing is recorded or the listing failed (empty: a kind that may be missing is)."""
    if ctx.ledger is None:
        return None
    try:
        result = cluster.kubectl(
            "get", ",".join(kinds), "--all-namespaces", "-l", ISTIOCTL_COMPONENT_LABEL,
            "-o", OBJECT_COLUMNS, "--no-headers",
            timeout_s=INSTALL_POLL.seconds(),
            title=f"[{cluster.role}] the objects istioctl labels as its own",
        )  # fmt: skip
    except CommandError as error:
        if kind_may_be_missing and KIND_GONE.search(error.stderr):
            return set()
        log.warning("[%s] could not list istioctl's objects: %s", cluster.role, error)
        return None
    return set(parse_object_columns(result.stdout))


def manifest_generate_apply(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
    _note_guide_undo(ctx, step)
    ctx.apply(cluster, _manifest_generate(ctx, step, cluster), step)
    return None


def istioctl_uninstall(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
    """``istioctl uninstall -y [--purge] -f <file> [--set ...]``; a purge only where everything
    it removes is the run's own (see the module's docstring)."""
    purge = bool(step.params.get("purge"))
    if purge:
        foreign = purge_would_remove_foreign(ctx, cluster)
        if foreign:
            shown = ", ".join(str(ref) for ref in foreign[:10]) + (" ..." if len(foreign) > 10 else "")
            log.warning(
                "[%s] %s: not running `istioctl uninstall --purge`: it would also remove %d object(s) "
                "this run did not create (%s); the run deletes what it recorded instead",
                cluster.role, step.name, len(foreign), shown,
            )  # fmt: skip
            return None
    _istioctl_with_iop(ctx, step, cluster, "uninstall", "-y", *(["--purge"] if purge else []))
    _note_what_uninstall_left(ctx, cluster, step)
    return None


# Cluster-wide objects with their deletion mark: kubectl's custom columns, no header.
DELETION_COLUMNS = (
    "custom-columns=KIND:.kind,APIVERSION:.apiVersion,NAME:.metadata.name,"
    "DELETING:.metadata.deletionTimestamp"
)


def _note_what_uninstall_left(ctx: ActionContext, cluster: ClusterHandle, step: Step) -> None:
    """Say which of the run's recorded cluster-wide objects istioctl left in place (not even
    being deleted; the ledger deletes them next): istio.io's own test of the page removes the
    remote's validating webhooks by hand after the purge, so what is left is worth a line."""
    if ctx.ledger is None:
        return
    kinds = [kind for kind in TRACKED_KINDS if kind != "namespaces"]
    try:
        result = cluster.kubectl(
            "get", ",".join(kinds), "-o", DELETION_COLUMNS, "--no-headers",
            timeout_s=INSTALL_POLL.seconds(), title=f"[{cluster.role}] what {step.name} left",
        )  # fmt: skip
    except CommandError as error:
        log.warning("[%s] could not list what %s left: %s", cluster.role, step.name, error)
        return
    recorded = {ref for ref in ctx.ledger.recorded(cluster.role) if ref.namespace is None}
    left, deleting = [], 0
    for line in result.stdout.splitlines():
        fields = line.split()
        if len(fields) != 4:
            continue
        ref = ObjectRef(group_kind({"kind": fields[0], "apiVersion": fields[1]}), fields[2])
        if ref in recorded:
            if fields[3] == "<none>":
                left.append(str(ref))
            else:
                deleting += 1
    log.info(
        "[%s] %s: istioctl uninstall left %s of the run's cluster-wide objects in place%s",
        cluster.role, step.name, ", ".join(sorted(left)) if left else "none",
        f" ({deleting} more being deleted)" if deleting else "",
    )  # fmt: skip


def purge_would_remove_foreign(ctx: ActionContext, cluster: ClusterHandle) -> list[ObjectRef]:
    """What ``istioctl uninstall --purge`` would remove from ``cluster`` that is not the run's:
    objects labelled as Istio's that the ledger did not record and that are outside the
    namespaces the run created. Without a ledger (self-tests of the step loop alone) nothing is
    checked: the plan's cleanup runs as written."""
    ledger = ctx.ledger
    if ledger is None:
        return []  # no record at all (self-tests of the step loop): the plan's cleanup as written
    labelled = _labelled(ctx, cluster, ISTIOCTL_NAMESPACED_KINDS + PURGE_CLUSTER_KINDS)
    filters = _labelled(ctx, cluster, (ENVOYFILTERS,), kind_may_be_missing=True)
    if labelled is None or filters is None:
        raise PlanError(f"[{cluster.role}] cannot list what `istioctl uninstall --purge` would remove")
    labelled |= filters
    ours, owned = ledger.recorded(cluster.role), ledger.namespaces(cluster.role)
    return sorted(ref for ref in labelled if ref not in ours and ref.namespace not in owned)


def _note_guide_undo(ctx: ActionContext, step: Step) -> None:
    """A step the guide cleans up with ``istioctl uninstall -y --purge -f <file>`` is undone so
    (noted before the call: a half-made install is purged too)."""
    if ctx.ledger is None or step.params.get("uninstall") != "purge":
        return
    params: dict[str, Any] = {key: step.params[key] for key in ("file", "set") if key in step.params}
    undo = Step(
        name=f"undo-{step.name}",
        role=step.role,
        action=Action.ISTIOCTL_UNINSTALL,
        seed=f"{ctx.release.procedure.guide} §Cleanup (istioctl uninstall -y --purge -f {params['file']})",
        manifests=step.manifests,
        params={**params, "purge": True},
    )
    ctx.ledger.undo_with(undo)


def manifest_generate_delete(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
    generated = _manifest_generate(ctx, step, cluster)
    tolerant_delete(cluster, ctx.timeout(step), "-f", "-", stdin=generated)
    return None


def _manifest_generate(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str:
    result = _istioctl_with_iop(ctx, step, cluster, "manifest", "generate")
    if not result.stdout.strip():
        raise PlanError(f"step {step.name!r}: istioctl manifest generate printed nothing")
    return result.stdout


def _istioctl_with_iop(ctx: ActionContext, step: Step, cluster: ClusterHandle, *verb: str) -> CommandResult:
    """``istioctl <verb> -f <the step's IstioOperator> [--set k=v ...]`` on ``cluster``."""
    iop = _iop_file(ctx, step)
    return cluster.istioctl(
        ctx.istioctl,
        *verb,
        "-f",
        str(iop),
        *_set_flags(step),
        timeout_s=ctx.timeout(step),
        title=f"[{cluster.role}] istioctl {' '.join(w for w in verb if not w.startswith('-'))} -f {iop.name}",
    )


def _iop_file(ctx: ActionContext, step: Step) -> Path:
    """The step's IstioOperator, written where istioctl reads it: ``<work dir>/<role>/<file>``."""
    name = param(step, "file", str)
    if "/" in name or name.startswith("."):
        raise PlanError(f"step {step.name!r}: file {name!r} must be a plain file name")
    if len(step.manifests) != 1:
        raise PlanError(
            f"step {step.name!r} needs exactly one IstioOperator manifest, has {len(step.manifests)}"
        )
    return ctx.write_private(step, name, dump(step.manifests))


def _set_flags(step: Step) -> list[str]:
    flags: list[str] = []
    for item in step.params.get("set") or ():
        if "=" not in str(item):
            raise PlanError(f"step {step.name!r}: --set {item!r} is not key=value")
        flags += ["--set", str(item)]
    return flags
