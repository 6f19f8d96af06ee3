"""The east-west gateway and cross-network gateway against the Istio release's own samples.

The scenarios render what ``samples/multicluster/gen-eastwest-gateway.sh`` prints and what
``samples/multicluster/expose-services.yaml`` holds; this runs the script and reads the file
from Istio's Go module at each supported release's tag (tests/upstream.py), and from the
offline istioctl's Istio snapshot, which any Go module proxy serves.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from programs.runner import CommandRunner
from scenarios.common import RenderContext
from scenarios.facts import Facts
from scenarios.releases import IstioRelease, load_pins
from scenarios.second_remote import cross_network_gateway, eastwest_gateway_iop
from tests.seed_snippets import field_diff
from tests.test_render_golden import HUB_PIN, release
from tests.upstream import istio_file

PINS = load_pins()
SNAPSHOT = PINS.tier_source()
# (release rendered, Istio source version): each supported release's tag, and the offline
# snapshot rendered with the profile of the minor its VERSION file names (1.31).
SOURCES = [
    pytest.param(minor, PINS.profiles[minor].latest_patch, id=f"{minor}-tag")
    for minor in PINS.supported
    if PINS.profiles[minor].latest_patch
] + [pytest.param(PINS.supported[-1], SNAPSHOT, id="offline-snapshot")]


def show(source: str, path: str) -> str:
    return istio_file(source, path)


@pytest.mark.parametrize(("minor", "source"), SOURCES)
@pytest.mark.parametrize("network", ["network1", "network2"])
def test_eastwest_gateway_is_what_the_release_script_prints(
    minor: str, source: str, network: str, runner: CommandRunner, tmp_path: Path
) -> None:
    """With the arguments each guide revision gives the script (seed 001: ``--mesh mesh1
    --cluster C --network N``; today: ``--network N``), it prints what the suite renders."""
    script = tmp_path / "gen-eastwest-gateway.sh"
    script.write_text(show(source, "samples/multicluster/gen-eastwest-gateway.sh"))
    for guide in PINS.profiles[minor].guides.names:
        rel: IstioRelease = release(minor, guide)
        args = rel.procedure.eastwest_generator_argv(mesh="mesh1", cluster="eicp-remote", network=network)
        printed = runner.run(
            ["bash", str(script), *args], title=f"gen-eastwest-gateway.sh {' '.join(args)}"
        ).stdout
        rendered = eastwest_gateway_iop(RenderContext(rel, Facts()), network)
        assert field_diff(rendered, yaml.safe_load(printed)) == HUB_PIN, guide  # the release's hub, pinned


@pytest.mark.parametrize(("minor", "source"), SOURCES)
def test_cross_network_gateway_is_the_release_expose_services(minor: str, source: str) -> None:
    expected = yaml.safe_load(show(source, "samples/multicluster/expose-services.yaml"))
    assert field_diff(cross_network_gateway(), expected) == {}
