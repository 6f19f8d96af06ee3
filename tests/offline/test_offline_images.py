"""Layer 2 for "images from live registries": what the real istioctl generates from the suite's
IstioOperators pulls only from the release's hub, and from no retired registry.

The istioctl here is the offline tier's (a build of the pinned Istio source snapshot), whose
built-in default hub is a development registry (registry.istio.io/testing): an IstioOperator that
did not pin the release's hub would show it. The second test does the same for the versions.yaml
``python -m programs.pins update`` writes from the recorded upstream data.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from programs.pins.__main__ import main as pins_main
from programs.runner import CommandRunner
from scenarios.registry import render
from scenarios.releases import Pins, load_pins, parse_pins
from scenarios.steps import Action
from tests.test_render_golden import facts

pytestmark = [pytest.mark.offline, pytest.mark.realtools]

RECORDED = Path(__file__).resolve().parent.parent / "data" / "upstream" / "2026-12-06"
SCENARIOS = ("ip-passthrough", "dns-tls", "second-remote")


def images(docs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    found = []
    for doc in docs:
        spec = (doc.get("spec") or {}).get("template", {}).get("spec", {})
        for container in (*spec.get("containers", []), *spec.get("initContainers", [])):
            found.append((f"{doc['kind']}/{doc['metadata']['name']}", str(container.get("image"))))
    return found


def injector_hubs(docs: list[dict[str, Any]]) -> list[str]:
    return [
        json.loads(doc["data"]["values"])["global"]["hub"]
        for doc in docs
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith("istio-sidecar-injector")
    ]


def generated(
    runner: CommandRunner, istioctl: Path, tmp: Path, pins: Pins, minor: str, scenario: str
) -> list[list[dict[str, Any]]]:
    plan = render(scenario, pins.resolve_release(minor), facts()).plan
    out = []
    for step in plan.steps:
        if step.action not in (Action.ISTIOCTL_INSTALL, Action.MANIFEST_GENERATE_APPLY):
            continue
        path = tmp / f"{scenario}-{minor}-{step.name}.yaml"
        path.write_text(yaml.safe_dump(step.manifests[0], sort_keys=False))
        argv = [str(istioctl), "manifest", "generate", "-f", str(path)]
        for value in step.params.get("set", []):
            argv += ["--set", value]
        text = runner.run(
            argv, env={"KUBECONFIG": str(tmp / "none")}, title=f"manifest generate {step.name}"
        ).stdout
        out.append([doc for doc in yaml.load_all(text, Loader=yaml.CSafeLoader) if doc])
    return out


def check(
    pins: Pins, runner: CommandRunner, istioctl: Path, tmp: Path, scenarios: tuple[str, ...] = SCENARIOS
) -> None:
    for minor in pins.supported:
        hub = pins.profiles[minor].hub
        for scenario in scenarios:
            for docs in generated(runner, istioctl, tmp, pins, minor, scenario):
                text = yaml.safe_dump_all(docs)
                assert not [r for r in pins.retired_registries if r in text], (scenario, minor)
                for where, image in images(docs):
                    assert image == "auto" or image.startswith(hub + "/"), (scenario, minor, where, image)
                assert all(found == hub for found in injector_hubs(docs)), (scenario, minor)


def test_generated_manifests_pull_from_the_release_hub(
    runner: CommandRunner, istioctl: Path, tmp_path: Path
) -> None:
    check(load_pins(), runner, istioctl, tmp_path)


def test_the_table_the_pins_command_writes_generates_alike(
    runner: CommandRunner, istioctl: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOPROXY", raising=False)
    target = tmp_path / "versions.yaml"
    shutil.copyfile(RECORDED / "versions-before.yaml", target)
    assert (
        pins_main(["update", "--versions", str(target), "--recorded", str(RECORDED), "--today", "2026-12-06"])
        == 0
    )
    check(parse_pins(yaml.safe_load(target.read_text())), runner, istioctl, tmp_path, ("ip-passthrough",))
