"""Actions that are plain kubectl: namespaces, service accounts, manifests, samples, CRDs, deletes."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from clusters.cluster import ClusterHandle
from install.actions.context import ActionContext, param
from install.faults import PlanError
from install.kubectl import (
    FIELD_MANAGER,
    NOT_FOUND,
    create_tolerant,
    dump,
    namespace_args,
    tolerant_delete,
)
from install.ledger import documents_of
from programs.runner import CommandError
from run.timeouts import INSTALL_POLL
from scenarios.steps import Step


def create_namespace(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
    namespace = param(step, "namespace", str)
    ctx.record(create_tolerant(cluster, ctx.timeout(step), "namespace", namespace))
    return None


def label_namespace(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
    _set_metadata(ctx, step, cluster, "label", "labels")
    return None


def annotate_namespace(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
    _set_metadata(ctx, step, cluster, "annotate", "annotations")
    return None


def create_service_account(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
    namespace = param(step, "namespace", str)
    name = param(step, "name", str)
    output = create_tolerant(cluster, ctx.timeout(step), "serviceaccount", name, "-n", namespace)
    ctx.record(output, namespace=namespace)
    return None


def _set_metadata(ctx: ActionContext, step: Step, cluster: ClusterHandle, verb: str, key: str) -> None:
    namespace = param(step, "namespace", str)
    pairs = param(step, key, dict)
    if not pairs:
        raise PlanError(f"step {step.name!r}: {key} is empty")
    cluster.kubectl(
        verb,
        "namespace",
        namespace,
        *(f"{name}={value}" for name, value in pairs.items()),
        "--overwrite",
        timeout_s=ctx.timeout(step),
    )


def apply(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
    if not step.manifests:
        raise PlanError(f"step {step.name!r} applies nothing: it has no manifests")
    ctx.register_secrets(step.manifests)
    ctx.apply(cluster, dump(step.manifests), step, *namespace_args(step.params))
    return None


def apply_sample(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
    path = _sample_path(ctx, step)
    namespace = param(step, "namespace", str)
    extra = ["-n", namespace]
    if step.params.get("selector"):
        extra += ["-l", str(step.params["selector"])]
    result = cluster.kubectl(
        "apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "--force-conflicts",
        "-f", str(path), *extra, "-o", "name",
        timeout_s=ctx.timeout(step),
        title=f"[{cluster.role}] kubectl apply -f {step.params['path']}",
    )  # fmt: skip
    ctx.record(result.stdout, documents_of(path.read_text(encoding="utf-8")), namespace)
    return None


def _sample_path(ctx: ActionContext, step: Step) -> Path:
    """``path`` is ``samples/...`` inside the release archive of the version under test."""
    if ctx.samples is None:
        raise PlanError(f"step {step.name!r} needs the release's samples/, but none were given")
    relative = param(step, "path", str)
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts or pure.parts[:1] != ("samples",):
        raise PlanError(f"step {step.name!r}: sample path {relative!r} must be samples/<file>")
    root = ctx.samples()
    path = root.joinpath(*pure.parts[1:])
    if not path.is_file():
        raise PlanError(f"step {step.name!r}: {relative} is not in the release's samples ({root})")
    return path


def install_gateway_api_crds(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
    """Seed 001: ``kubectl get crd ... || kubectl kustomize <source> | kubectl apply -f -``."""
    probe = param(step, "skip_if_present", str)
    try:
        cluster.kubectl("get", probe, "-o", "name", timeout_s=INSTALL_POLL.seconds())
        return None  # present (installed by someone else or an earlier run): leave them be
    except CommandError as error:
        if not NOT_FOUND.search(error.stderr):
            raise
    rendered = cluster.kubectl(
        "kustomize",
        param(step, "source", str),
        timeout_s=ctx.timeout(step),
        title=f"[{cluster.role}] kubectl kustomize Gateway API CRDs {step.params['version']}",
    )
    ctx.apply(cluster, rendered.stdout, step)
    return None


def delete(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
    """Delete the step's manifests, or ``resource`` (TYPE/NAME or a list of them, in ``namespace``?)."""
    timeout = ctx.timeout(step)
    resource = step.params.get("resource")
    if step.manifests:
        tolerant_delete(cluster, timeout, "-f", "-", stdin=dump(step.manifests))
    elif isinstance(resource, list) and resource:
        tolerant_delete(cluster, timeout, *(str(item) for item in resource), *namespace_args(step.params))
    elif resource:
        tolerant_delete(cluster, timeout, str(resource), *namespace_args(step.params))
    else:
        raise PlanError(f"step {step.name!r} deletes nothing: no manifests and no resource")
    return None
