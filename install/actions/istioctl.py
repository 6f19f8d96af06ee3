"""Actions that run istioctl: ``install``, and ``manifest generate`` piped to kubectl apply/delete.

``istioctl install`` prints no list of what it made, and makes more than its manifest (the
namespace, the default revision-tag webhooks of a default revision): what it made is read back
from the API afterwards: the cluster's listing (install/ledger.py), and the namespaced objects
istioctl labels as its own that were not there before the step.
"""

from __future__ import annotations

import logging
from pathlib import Path

from clusters.cluster import ClusterHandle
from install.actions.context import ActionContext, param
from install.faults import PlanError
from install.kubectl import dump, tolerant_delete
from install.ledger import OBJECT_COLUMNS, ObjectRef, parse_object_columns
from programs.runner import CommandError, CommandResult
from run.timeouts import INSTALL_POLL
from scenarios.steps import Step

log = logging.getLogger("eicp.installer")

# What istioctl labels every object it installs with, and the namespaced kinds its uninstall
# prunes (istio operator/pkg/uninstall/prune.go NamespacedResources, less pods and EnvoyFilters).
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


def istioctl_install(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
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


def _labelled(ctx: ActionContext, cluster: ClusterHandle) -> set[ObjectRef] | None:
    """The namespaced objects istioctl labels as its own (``operator.istio.io/component``), of the
    kinds its uninstall prunes; None when nothing is recorded or the listing failed."""
    if ctx.ledger is None:
        return None
    try:
        result = cluster.kubectl(
            "get", ",".join(ISTIOCTL_NAMESPACED_KINDS), "--all-namespaces", "-l", ISTIOCTL_COMPONENT_LABEL,
            "-o", OBJECT_COLUMNS, "--no-headers",
            timeout_s=INSTALL_POLL.seconds(),
            title=f"[{cluster.role}] the objects istioctl labels as its own",
        )  # fmt: skip
    except CommandError as error:
        log.warning("[%s] could not list istioctl's objects: %s", cluster.role, error)
        return None
    return set(parse_object_columns(result.stdout))


def manifest_generate_apply(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
    ctx.apply(cluster, _manifest_generate(ctx, step, cluster), step)
    return None


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
