"""Upstream files the self-tests compare with, from where any fresh clone can get them.

Nothing here reads a path that exists only on the machine that wrote the tests:

- Istio's samples and CRDs come from Istio's Go module (``go mod download -json MOD@VER``; the
  module cache is the one ``go env GOMODCACHE`` names);
- the Sail Operator's chart and CRDs from its Go module, or from its Helm repository where the
  run may reach the internet (``EICP_UPSTREAM_HELM=1``: the self-tests contact no address on
  their own);
- the guides (seeds) from ``../shared/seeds`` beside the repository root.

Whatever cannot be had is a ``pytest.skip`` naming what was tried and why it failed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from functools import cache
from pathlib import Path

import pytest

from programs.redaction import Redactor
from programs.runner import CommandRunner

REPO_ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = REPO_ROOT.parent / "shared" / "seeds"
ISTIO_MODULE = "istio.io/istio"
SAIL_MODULE = "github.com/istio-ecosystem/sail-operator"
SAIL_HELM_REPO = "https://istio-ecosystem.github.io/sail-operator"
SAIL_CHART = "sail-operator"
GO_DOWNLOAD_TIMEOUT_S = 900


class UpstreamUnavailable(Exception):
    """An upstream file cannot be had here; the message says what was tried."""


def _runner() -> CommandRunner:
    return CommandRunner(Redactor(), default_timeout_s=GO_DOWNLOAD_TIMEOUT_S)


@cache
def _go_module(module: str, version: str) -> Path | str:
    """The module's directory, or why it cannot be had (cached: one download per session)."""
    if shutil.which("go") is None:
        return "no Go toolchain on PATH"
    runner = _runner()
    cache_dir = Path(runner.run(["go", "env", "GOMODCACHE"], title="go env GOMODCACHE").stdout.strip())
    # Outside any module, with the proxy the Go toolchain is configured with.
    result = runner.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        cwd=Path(tempfile.gettempdir()),
        env={"GOFLAGS": "-mod=mod", "GO111MODULE": "on"},
        check=False,
        title=f"go mod download {module}@{version}",
    )
    try:
        info = json.loads(result.stdout)
    except json.JSONDecodeError:
        return f"go mod download {module}@{version} failed: {(result.stderr or result.stdout).strip()[:400]}"
    if info.get("Error"):
        return f"go mod download {module}@{version}: {info['Error'].strip()}"
    directory = Path(info["Dir"])
    if not directory.is_dir() or cache_dir not in directory.parents:
        return f"go mod download {module}@{version} gave {directory}, not a directory under {cache_dir}"
    return directory


def module_dir_or_reason(module: str, version: str) -> Path | str:
    """The module's directory in the Go module cache, or why it cannot be had (never raises)."""
    return _go_module(module, version)


def go_module_dir(module: str, version: str) -> Path:
    """The source of ``module`` at ``version`` (a semver, pseudo-version or tag) in the module cache."""
    found = _go_module(module, version)
    if isinstance(found, str):
        raise UpstreamUnavailable(found)
    return found


def istio_file(version: str, path: str) -> str:
    """A file of Istio's source at a release tag or module version; skips when it cannot be had."""
    try:
        directory = go_module_dir(ISTIO_MODULE, version)
    except UpstreamUnavailable as reason:
        pytest.skip(f"Istio {version}'s {path}: {reason}")
    target = directory / path
    if not target.is_file():
        pytest.skip(f"Istio's Go module at {version} has no {path}")
    return target.read_text(encoding="utf-8")


@cache
def _sail_chart_from_helm(chart_version: str) -> Path | str:
    if os.environ.get("EICP_UPSTREAM_HELM") != "1":
        return (
            "its Helm repository is not contacted (set EICP_UPSTREAM_HELM=1 where the internet is reachable)"
        )
    helm = shutil.which("helm")
    if helm is None:
        return "no helm on PATH"
    target = Path(os.environ.get("TMPDIR", "/tmp")) / f"eicp-sail-chart-{chart_version}"
    if not (target / SAIL_CHART / "Chart.yaml").is_file():
        pull = [helm, "pull", SAIL_CHART, "--repo", SAIL_HELM_REPO, "--version", chart_version]
        result = _runner().run(
            [*pull, "--untar", "--untardir", str(target)],
            check=False,
            title=f"helm pull {SAIL_CHART} {chart_version}",
        )
        if not result.ok:
            return f"helm pull {SAIL_CHART} --version {chart_version} failed: {result.stderr.strip()[:400]}"
    return target / SAIL_CHART


def sail_chart_dir(chart_version: str) -> Path:
    """The Sail Operator chart (``Chart.yaml``, ``crds/``) at ``chart_version``: from the Sail Go
    module (its release tags are the chart versions), else from its Helm repository."""
    reasons = []
    try:
        chart = go_module_dir(SAIL_MODULE, chart_version) / "chart"
        if (chart / "Chart.yaml").is_file():
            return chart
        reasons.append(f"the Sail Go module at {chart_version} has no chart/")
    except UpstreamUnavailable as reason:
        reasons.append(str(reason))
    found = _sail_chart_from_helm(chart_version)
    if isinstance(found, Path):
        return found
    reasons.append(found)
    pytest.skip(f"the Sail Operator chart {chart_version} cannot be had: " + "; ".join(reasons))


def seeds_dir() -> Path:
    """The guides, in ``../shared/seeds`` beside the repository root; skips where absent."""
    if not SEEDS_DIR.is_dir():
        pytest.skip(
            f"the guides (seeds) are not here: no {SEEDS_DIR.relative_to(REPO_ROOT.parent)} beside the repository"
        )
    return SEEDS_DIR
