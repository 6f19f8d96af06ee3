"""Actions that are plain kubectl: namespaces, service accounts, manifests, samples, CRDs, deletes."""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath

from clusters.cluster import ClusterHandle
from install.actions.context import ActionContext, param
from install.faults import EnvironmentFault, PlanError
from install.kubectl import (
    FIELD_MANAGER,
    NOT_FOUND,
    create_tolerant,
    dump,
    namespace_args,
    tolerant_delete,
)
from install.ledger import documents_of
from programs.gomodules import GoModuleUnavailable, module_dir
from programs.runner import CommandError
from run.timeouts import INSTALL_POLL
from scenarios.steps import Step

log = logging.getLogger("eicp.installer")


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
    """Seed 001: ``kubectl get crd ... || kubectl kustomize <source> | kubectl apply -f -``.

    Where ``source`` (GitHub) cannot be fetched, the same kustomization comes from the Go
    module ``go_module`` at the same version (its module zip holds ``config/crd``), as
    ``kubectl kustomize <module dir>/config/crd``; both failures are reported if neither works."""
    probe = param(step, "skip_if_present", str)
    try:
        cluster.kubectl("get", probe, "-o", "name", timeout_s=INSTALL_POLL.seconds())
        return None  # present (installed by someone else or an earlier run): leave them be
    except CommandError as error:
        if not NOT_FOUND.search(error.stderr):
            raise
    version = param(step, "version", str)
    source = param(step, "source", str)
    title = f"[{cluster.role}] kubectl kustomize Gateway API CRDs {version}"
    try:
        rendered = cluster.kubectl("kustomize", source, timeout_s=ctx.timeout(step), title=title)
    except CommandError as error:
        module = step.params.get("go_module")
        if not module:
            raise
        unreachable = " ".join(error.stderr_tail.split())[-300:] or str(error)
        log.info(
            "%s: %s cannot be fetched (%s); using the Go module %s@%s",
            step.name,
            source,
            unreachable,
            module,
            version,
        )
        try:
            directory = module_dir(cluster.runner, str(module), version) / _kustomization_path(source)
        except GoModuleUnavailable as fallback:
            raise EnvironmentFault(
                f"step {step.name!r}: the Gateway API CRDs {version} could not be had: "
                f"kubectl kustomize {source}: {unreachable}; {fallback}"
            ) from None
        rendered = cluster.kubectl(
            "kustomize", str(directory), timeout_s=ctx.timeout(step), title=f"{title} (Go module {module})"
        )
    ctx.apply(cluster, rendered.stdout, step)
    return None


def _kustomization_path(source: str) -> str:
    """``github.com/<org>/<repo>/<path>?ref=<version>`` -> ``<path>`` (inside the module)."""
    location = source.split("?", 1)[0]
    parts = location.split("/")
    if len(parts) < 4:
        raise PlanError(f"Gateway API CRD source {source!r} names no path inside its repository")
    return "/".join(parts[3:])


def delete(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
    """Delete the step's manifests, or ``resource`` (TYPE/NAME or a list of them, in ``namespace``?)."""
    timeout = ctx.timeout(step)
    resource = step.params.get("resource")
    wait = step.params.get("wait") is not False
    if step.manifests:
        tolerant_delete(cluster, timeout, "-f", "-", stdin=dump(step.manifests), wait=wait)
    elif isinstance(resource, list) and resource:
        names = (str(item) for item in resource)
        tolerant_delete(cluster, timeout, *names, *namespace_args(step.params), wait=wait)
    elif resource:
        tolerant_delete(cluster, timeout, str(resource), *namespace_args(step.params), wait=wait)
    else:
        raise PlanError(f"step {step.name!r} deletes nothing: no manifests and no resource")
    return None
