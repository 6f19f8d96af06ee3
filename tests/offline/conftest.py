"""The istioctl the offline tier runs, and where the Istio and Sail schemas come from."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from programs.tools import ResolvedTool
from programs.tools_cli import OFFLINE_ISTIOCTL
from scenarios.releases import load_pins


@pytest.fixture
def istioctl(real_tool: Callable[[str], ResolvedTool]) -> Path:
    """The pinned offline istioctl (versions.yaml ``offline_istioctl``), resolved as the suite
    does (``EICP_ISTIOCTL_BIN``, cache, download, Go build); skipped when it cannot be had."""
    return real_tool(OFFLINE_ISTIOCTL).path


def istio_module_dir() -> Path:
    """The Istio Go module source of the offline istioctl, in the Go module cache."""
    version = load_pins().offline_istioctl["go_module_version"]
    cache = Path(os.environ.get("GOMODCACHE") or Path.home() / "go" / "pkg" / "mod")
    return cache / f"istio.io/istio@{version}"


@pytest.fixture(scope="session")
def istio_crds_file() -> Path:
    path = istio_module_dir() / "manifests/charts/base/files/crd-all.gen.yaml"
    if not path.is_file():
        pytest.skip(
            f"Istio CRD schemas not found at {path} (the offline istioctl's Go module is not in the cache)"
        )
    return path
