"""Which pilot-discovery runs for an istiod image (clusters/kwok/pilot_binaries.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from clusters.kwok.pilot_binaries import binary_for, image_tag, pilot_source, resolve_pilots
from programs.runner import CommandRunner
from scenarios.releases import load_pins
from scenarios.sources import IstioSource
from tests.fakeexec import FakeTools
from tests.istio_sources_data import MASTER_SOURCE, RELEASE_SOURCE


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
    assert pilot_source(release, runner).version == "1.30.3"
    # A custom istioctl (what `istioctl version --remote=false --short` prints names its source).
    fake_tools.install("istioctl").on(r"^version --remote=false --short$", stdout="1.31-alpha.0123456789ab\n")
    custom = fake_tools.bin_dir / "istioctl"
    source = pilot_source(replace(release, istioctl_path=custom, custom=True), runner)
    assert (source.version, source.go_revision) == ("1.31-alpha.0123456789ab", None)


def test_an_istio_source_runs_the_pilot_discovery_built_from_it_under_its_stamp() -> None:
    pins = load_pins()
    a, b = (pins.source_release(source) for source in (MASTER_SOURCE, RELEASE_SOURCE))
    built = {
        MASTER_SOURCE.stamp: Path("a", "pilot-discovery"),
        RELEASE_SOURCE.stamp: Path("b", "pilot-discovery"),
    }

    class Tools:
        def resolve_source(self, name: str, source: IstioSource) -> SimpleNamespace:
            assert name == "pilot-discovery"
            return SimpleNamespace(path=built[source.stamp])

    pilots = resolve_pilots((a, b), Tools(), None)  # type: ignore[arg-type]
    assert pilots == {"1.31-dev.b01690e6db7d": built[a.tag], "1.31-dev.eed52ebb66ad": built[b.tag]}
    lookup = binary_for(pilots)
    assert lookup(f"docker.io/istio/pilot:{b.tag}") == Path("b", "pilot-discovery")


def test_an_unknown_image_tag_is_refused_with_the_known_ones() -> None:
    lookup = binary_for({"1.31.1": Path("/tools/pilot-discovery")})
    assert lookup("docker.io/istio/pilot:1.31.1") == Path("/tools/pilot-discovery")
    with pytest.raises(
        ValueError,
        match=r"no pilot-discovery for image 'docker.io/istio/pilot:1.29.6': this run installs tag\(s\) 1.31.1",
    ):
        lookup("docker.io/istio/pilot:1.29.6")
