"""Which pilot-discovery runs for an istiod image (clusters/kwok/pilot_binaries.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from clusters.kwok.pilot_binaries import binary_for, image_tag, pilot_source
from programs.runner import CommandRunner
from scenarios.releases import load_pins
from tests.fakeexec import FakeTools

OFFLINE = {"go_module_version": "v0.0.0-20260423205519-b01690e6db7d", "reports_as": "1.31-dev+b01690e6db7d"}


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("docker.io/istio/pilot:1.31.1", "1.31.1"),
        ("registry.istio.io/release/pilot:1.30.3-distroless", "1.30.3-distroless"),
        ("localhost:5000/istio/pilot:1.31-dev@sha256:abc", "1.31-dev"),
        ("localhost:5000/istio/pilot", ""),
    ],
)
def test_image_tag(image: str, tag: str) -> None:
    assert image_tag(image) == tag


def test_a_release_runs_its_own_pilot_discovery_and_a_custom_istioctl_names_its_source(
    fake_tools: FakeTools, runner: CommandRunner
) -> None:
    release = load_pins().resolve_release("1.30.3")
    assert pilot_source(release, runner, OFFLINE).version == "1.30.3"
    # The offline tier's istioctl (what `istioctl version --remote=false --short` prints).
    fake_tools.install("istioctl").on(r"^version --remote=false --short$", stdout="1.31-dev+b01690e6db7d\n")
    custom = fake_tools.bin_dir / "istioctl"
    source = pilot_source(replace(release, istioctl_path=custom, custom=True), runner, OFFLINE)
    assert (source.version, source.go_revision) == ("1.31-dev+b01690e6db7d", OFFLINE["go_module_version"])


def test_an_unknown_image_tag_is_refused_with_the_known_ones() -> None:
    lookup = binary_for({"1.31.1": Path("/tools/pilot-discovery")})
    assert lookup("docker.io/istio/pilot:1.31.1") == Path("/tools/pilot-discovery")
    with pytest.raises(
        ValueError,
        match=r"no pilot-discovery for image 'docker.io/istio/pilot:1.29.6': this run installs tag\(s\) 1.31.1",
    ):
        lookup("docker.io/istio/pilot:1.29.6")
