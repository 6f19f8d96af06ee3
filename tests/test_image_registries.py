"""Images from live registries: every plan the suite can render names no retired registry.

Every scenario is rendered for every release of the table (supported, candidates, past their
end of life, and the older procedure's 1.21), with the facts of a real run and of ``--plan``;
every string of every step (manifests and params, install and uninstall) is searched for the
registries versions.yaml lists as retired (istio.retired_registries). Where the plan names an
image hub (IstioOperator ``spec.hub``, a Sail ``Istio`` resource's ``values.global.hub``, the
Sail operator's per-version image values) it must be the release's own. The offline tier
(tests/offline/test_offline_tier.py) does the same over what the real istioctl generates.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from scenarios import sail_support
from scenarios.common import RenderedScenario
from scenarios.facts import Facts
from scenarios.registry import SCENARIO_IDS, ScenarioUnavailable, render
from scenarios.releases import IstioRelease, Pins, load_pins
from scenarios.steps import Step
from tests.test_render_golden import facts, release

PINS = load_pins()
MINORS = tuple(PINS.profiles)
VARIANTS = (Facts(), facts(), facts(ingress="both", second_remote_base="dns-tls"))


def strings(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a manifest or params tree, with its path (keys count: annotations are keys)."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield f"{where}.{key}", str(key)
            yield from strings(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from strings(item, f"{where}[{index}]")


def retired_references(pins: Pins, steps: tuple[Step, ...]) -> list[str]:
    found = []
    for step in steps:
        for where, text in strings({"manifests": list(step.manifests), "params": dict(step.params)}):
            for registry in pins.retired_registries:
                if registry in text:
                    found.append(f"{step.name}{where}: {text!r} names {registry}")
    return found


def hubs(steps: tuple[Step, ...]) -> Iterator[tuple[str, str]]:
    """The image hubs a plan names: IstioOperator spec.hub, Sail Istio values.global.hub, and the
    hub part of the Sail operator's image values."""
    for step in steps:
        for manifest in step.manifests:
            if manifest["kind"] == "IstioOperator":
                yield f"{step.name} IstioOperator spec.hub", manifest["spec"].get("hub", "<none>")
            if manifest["kind"] == "Istio" and manifest["apiVersion"].startswith("sailoperator.io/"):
                hub = manifest["spec"].get("values", {}).get("global", {}).get("hub", "<none>")
                yield f"{step.name} Istio/{manifest['metadata']['name']} values.global.hub", hub
        annotations = (step.params.get("values") or {}).get("deployment", {}).get("annotations", {})
        for key, image in annotations.items():
            yield f"{step.name} operator value {key}", image.rsplit("/", 1)[0]


def plan_release(scenario: str, minor: str) -> IstioRelease:
    if scenario == "sail" and (newest := sail_support.newest_installable(PINS.profiles[minor])):
        return replace(release(minor), version=PINS.resolve_release(newest).version, tag=newest)
    return release(minor)


def rendered(scenario: str, minor: str, variant: Facts) -> RenderedScenario | None:
    try:
        return render(scenario, plan_release(scenario, minor), variant)
    except ScenarioUnavailable:
        return None  # not applicable (sail without a chart): nothing is installed


def all_steps(plan: RenderedScenario) -> tuple[Step, ...]:
    return (*plan.plan.steps, *plan.plan.uninstall)


def test_the_table_retires_the_registries_the_1_31_upgrade_notes_name() -> None:
    assert set(PINS.retired_registries) == {"registry.istio.io", "gcr.io/istio-release"}
    for profile in PINS.profiles.values():
        assert PINS.retired_registry_in(profile.hub) is None, profile.minor


@pytest.mark.parametrize(("scenario", "minor"), list(itertools.product(SCENARIO_IDS, MINORS)))
def test_no_rendered_plan_names_a_retired_registry(scenario: str, minor: str) -> None:
    plans = [plan for variant in VARIANTS if (plan := rendered(scenario, minor, variant)) is not None]
    if scenario != "sail":
        assert plans, f"{scenario} renders for {minor}"
    for plan in plans:
        steps = all_steps(plan)
        assert retired_references(PINS, steps) == []
        named = list(hubs(steps))
        assert named, f"{scenario} {minor}: the plan names no image hub"
        for where, hub in named:
            assert hub == PINS.profiles[minor].hub, f"{scenario} {minor}: {where} is {hub}"


def test_a_plan_on_a_retired_registry_is_caught() -> None:
    """The check has teeth: a custom build from a retired registry is found in every place."""
    custom = PINS.resolve_release("1.31", hub="registry.istio.io/release", tag="1.31.3")
    plan = render("ip-passthrough", custom, facts())
    found = retired_references(PINS, all_steps(plan))
    assert found and all("registry.istio.io" in line for line in found)
    assert any("spec.hub" in line for line in found)
    sail = render("sail", PINS.resolve_release("1.31", hub="gcr.io/istio-release", tag="1.31.3"), facts())
    found = retired_references(PINS, all_steps(sail))
    assert any("images.v1_31_3.istiod" in line for line in found)
    assert any("values.global.hub" in line or ".global.hub" in line for line in found)


def test_sail_operator_values_name_the_release_images() -> None:
    plan = rendered("sail", "1.31", facts())
    assert plan is not None
    helm = [step for step in plan.plan.steps if step.params.get("chart") == "sail-operator"]
    assert len(helm) == 2
    version = sail_support.newest_installable(PINS.profiles["1.31"])
    key = "v" + str(version).replace(".", "_")
    for step in helm:
        assert step.params["values"] == {
            "deployment": {
                "annotations": {
                    f"images.{key}.istiod": f"docker.io/istio/pilot:{version}",
                    f"images.{key}.proxy": f"docker.io/istio/proxyv2:{version}",
                    f"images.{key}.cni": f"docker.io/istio/install-cni:{version}",
                    f"images.{key}.ztunnel": f"docker.io/istio/ztunnel:{version}",
                }
            }
        }
