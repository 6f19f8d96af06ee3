"""The istioctl the offline tier runs, and where the Istio and Sail schemas come from."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from programs.tools import ResolvedTool
from programs.tools_cli import OFFLINE_ISTIOCTL
from scenarios.releases import load_pins
from tests.upstream import istio_file


@pytest.fixture
def istioctl(real_tool: Callable[[str], ResolvedTool]) -> Path:
    """istioctl built from the tiers' pinned Istio source (versions.yaml ``istio_sources.tier``),
    as the suite builds it (programs/source_builds.py); skipped when it cannot be had."""
    return real_tool(OFFLINE_ISTIOCTL).path


@pytest.fixture(scope="session")
def istio_crds_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Istio's CRD schemas from the Go module of the offline istioctl's Istio source
    (``go mod download``; skipped with the reason when the module cannot be had)."""
    version = load_pins().tier_source()
    path = tmp_path_factory.mktemp("istio-crds") / "crd-all.gen.yaml"
    path.write_text(istio_file(version, "manifests/charts/base/files/crd-all.gen.yaml"), encoding="utf-8")
    return path
