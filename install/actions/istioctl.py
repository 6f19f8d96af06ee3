"""Actions that run istioctl: ``install``, and ``manifest generate`` piped to kubectl apply/delete.

``istioctl install`` prints no list of what it made, and makes more than its manifest (the
namespace, the default revision-tag webhooks of a default revision): what it made is read back
from the cluster's listing afterwards (install/ledger.py).
"""

from __future__ import annotations

from pathlib import Path

from clusters.cluster import ClusterHandle
from install.actions.context import ActionContext, param
from install.faults import PlanError
from install.kubectl import dump, tolerant_delete
from programs.runner import CommandResult
from scenarios.steps import Step


def istioctl_install(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
    _istioctl_with_iop(ctx, step, cluster, "install", "-y")
    ctx.read_back(cluster)
    return None


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
