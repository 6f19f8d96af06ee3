"""The east-west gateway and cross-network gateway against the Istio release's own samples.

The scenarios render what ``samples/multicluster/gen-eastwest-gateway.sh`` prints and what
``samples/multicluster/expose-services.yaml`` holds; this runs the script and reads the file
at each supported release's tag in the Istio mirror.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from programs.runner import CommandRunner
from scenarios.common import RenderContext
from scenarios.facts import Facts
from scenarios.releases import load_pins
from scenarios.second_remote import cross_network_gateway, eastwest_gateway_iop
from tests.seed_snippets import field_diff
from tests.test_render_golden import release

ISTIO_MIRROR = Path("/work/.mirror/istio+istio/repo")
TAGGED = [minor for minor in ("1.29", "1.30", "1.31") if load_pins().profiles[minor].latest_patch]


def show(runner: CommandRunner, tag: str, path: str) -> str:
    if not ISTIO_MIRROR.is_dir():
        pytest.skip(f"no Istio mirror at {ISTIO_MIRROR}: cannot read {path} at {tag}")
    result = runner.run(
        ["git", "-C", str(ISTIO_MIRROR), "show", f"{tag}:{path}"], check=False, title=f"read {path}"
    )
    if not result.ok:
        pytest.skip(f"the Istio mirror has no {path} at tag {tag}")
    return result.stdout


@pytest.mark.parametrize("minor", TAGGED)
@pytest.mark.parametrize("network", ["network1", "network2"])
def test_eastwest_gateway_is_what_the_release_script_prints(
    minor: str, network: str, runner: CommandRunner, tmp_path: Path
) -> None:
    rel = release(minor)
    script = tmp_path / "gen-eastwest-gateway.sh"
    script.write_text(show(runner, str(rel.version), "samples/multicluster/gen-eastwest-gateway.sh"))
    printed = runner.run(
        ["bash", str(script), "--mesh", "mesh1", "--cluster", "eicp-remote", "--network", network],
        title="gen-eastwest-gateway.sh",
    ).stdout
    rendered = eastwest_gateway_iop(RenderContext(rel, Facts()), network)
    assert field_diff(rendered, yaml.safe_load(printed)) == {}


@pytest.mark.parametrize("minor", TAGGED)
def test_cross_network_gateway_is_the_release_expose_services(minor: str, runner: CommandRunner) -> None:
    expected = yaml.safe_load(
        show(runner, str(release(minor).version), "samples/multicluster/expose-services.yaml")
    )
    assert field_diff(cross_network_gateway(), expected) == {}
