"""Actions that run Helm: ``upgrade --install`` and ``uninstall`` of a chart release.

A release is undone by ``helm uninstall``, which the ledger notes as the entry's undo. What
Helm never removes (the chart's ``crds/``, a namespace ``--create-namespace`` made) is read
back from the cluster's listing after the install, so the ledger deletes it afterwards.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import yaml

from clusters.cluster import ClusterHandle
from install.actions.context import ActionContext, param
from install.faults import PlanError
from scenarios.steps import Action, Step

log = logging.getLogger("eicp.installer")
# helm install/upgrade's summary: "REVISION: 1" for a release it made, more for one it upgraded.
_REVISION = re.compile(r"^REVISION:\s*(\d+)\s*$", re.MULTILINE)


def helm_install(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
    params = step.params
    release, namespace = param(step, "release", str), param(step, "namespace", str)
    argv = [
        str(_helm(ctx, step)),
        "upgrade",
        "--install",
        release,
        *_chart_args(ctx, step),
        "--namespace",
        namespace,
        *_kube_args(cluster),
        "--wait",
        "--timeout",
        f"{int(ctx.timeout(step))}s",
    ]
    if params.get("create_namespace", True):
        argv.append("--create-namespace")
    if params.get("values"):
        text = yaml.safe_dump(params["values"], sort_keys=False)
        argv += ["--values", str(ctx.write_private(step, f"{_slug(step.name)}-values.yaml", text))]
    if ctx.ledger is not None:
        # Noted before the call: a release half made by a failed install is uninstalled too.
        undo = Step(
            name=f"undo-{step.name}",
            role=step.role,
            action=Action.HELM_UNINSTALL,
            seed=step.seed,
            params={"release": release, "namespace": namespace},
        )
        ctx.ledger.undo_with(undo)
    try:
        result = cluster.runner.run(
            argv,
            timeout_s=ctx.timeout(step) + 60,
            title=f"[{cluster.role}] helm upgrade --install {params['release']}",
        )
    finally:
        ctx.read_back(cluster)
    revision = _REVISION.search(result.stdout)
    if ctx.ledger is not None and revision and int(revision.group(1)) > 1:
        # helm upgraded a release made before this ledger (an upgrade's second install): what
        # made it undoes it, after what depends on it.
        ctx.ledger.undo_with(None)
    return None


def helm_uninstall(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
    release = param(step, "release", str)
    cluster.runner.run(
        [
            str(_helm(ctx, step)),
            "uninstall",
            release,
            "--namespace",
            param(step, "namespace", str),
            *_kube_args(cluster),
            "--ignore-not-found",
            "--wait",
            "--timeout",
            f"{int(ctx.timeout(step))}s",
        ],
        timeout_s=ctx.timeout(step) + 60,
        title=f"[{cluster.role}] helm uninstall {release}",
    )
    return None


def _chart_args(ctx: ActionContext, step: Step) -> list[str]:
    """``CHART --repo REPO --version VERSION``; for a release built from Istio's source (no
    published chart), the chart directory ``source_chart`` of that source tree instead."""
    chart = [
        param(step, "chart", str),
        "--repo",
        param(step, "repo", str),
        "--version",
        param(step, "version", str),
    ]
    in_source = step.params.get("source_chart")
    source = ctx.istio_source() if in_source and ctx.istio_source is not None else None
    if source is None:
        return chart
    directory = source / str(in_source)
    if not (directory / "Chart.yaml").is_file():
        raise PlanError(f"step {step.name!r}: {in_source} is not a chart in the Istio source {source}")
    log.info(
        "%s: the release is built from source; chart %s from %s", step.name, step.params["chart"], directory
    )
    return [str(directory)]


def _helm(ctx: ActionContext, step: Step) -> Path:
    if ctx.helm is None:
        raise PlanError(f"step {step.name!r} needs helm, but the installer was given none")
    return ctx.helm()


def _kube_args(cluster: ClusterHandle) -> list[str]:
    return ["--kubeconfig", str(cluster.kubeconfig), "--kube-context", cluster.context]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "step"
