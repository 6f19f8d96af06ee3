"""The installer's share of what istio.io's doc test for the page does: the egress gateway's
chart (the Istio Helm repository for a release, the Istio source tree's own chart for a source
build) and the Gateway API CRDs from the ``sigs.k8s.io/gateway-api`` Go module where GitHub is
out of reach, against fake helm, kubectl and go."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from install.installer import EnvironmentFault, StepFailed
from install.session_setup import installer_tools_from
from programs.runner import CommandRunner
from programs.tools import ToolResolver, ToolUnavailable
from scenarios.egress import GATEWAY_SOURCE_CHART, ISTIO_HELM_REPO
from scenarios.facts import Facts
from scenarios.registry import render
from scenarios.releases import load_pins
from scenarios.steps import Action, Step
from tests.fakeexec import FakeTools
from tests.installer_support import cluster_fakes, finish_fakes, make_installer, make_topology, plan_of
from tests.istio_sources_data import MASTER_SOURCE, RELEASE_SOURCE, checkout_source

CRD_NOT_FOUND = (
    'Error from server (NotFound): customresourcedefinitions.apiextensions.k8s.io "gateways.gateway.networking.k8s.io" '
    "not found\n"
)
NO_GITHUB = (
    "error: accumulating resources: failed to run '/usr/bin/git fetch --depth=1 "
    "https://github.com/kubernetes-sigs/gateway-api v1.6.0': fatal: unable to access "
    "'https://github.com/kubernetes-sigs/gateway-api/': Could not resolve host: github.com\n"
)
CRD = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: gateways.gateway.networking.k8s.io\n"


def rendered_step(name: str, **facts: str) -> Step:
    release = load_pins().resolve_release("1.30")
    plan = render("ip-passthrough", release, Facts(external_istiod_addr="172.18.0.200", **facts)).plan  # type: ignore[arg-type]
    return next(step for step in plan.steps if step.name == name)


def test_the_egress_gateway_chart_comes_from_the_istio_helm_repository_for_a_release(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    tools = cluster_fakes(fake_tools)
    finish_fakes(tools)
    step = rendered_step("remote-egressgateway", egress_gateway="helm")
    installer = make_installer(tmp_path, make_topology(tmp_path, runner))
    installer.istio_source = lambda: None  # a published release
    installer.install(plan_of(step), Facts(), lambda facts: plan_of(step))
    [line] = fake_tools.lines("helm")
    version = str(load_pins().resolve_release("1.30").version)
    assert line.startswith(
        f"upgrade --install istio-egressgateway gateway --repo {ISTIO_HELM_REPO} --version {version} "
        "--namespace external-istiod "
    )
    assert "--create-namespace" not in line
    values = Path(line.split("--values ")[1].split()[0])
    assert (
        values.read_text() == "service:\n  type: ClusterIP\n"
    )  # as the doc test: --set service.type=ClusterIP


def test_a_source_build_installs_the_gateway_chart_of_its_own_source_tree(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    tools = cluster_fakes(fake_tools)
    finish_fakes(tools)
    source = tmp_path / "istio-source"
    (source / GATEWAY_SOURCE_CHART).mkdir(parents=True)
    (source / GATEWAY_SOURCE_CHART / "Chart.yaml").write_text(
        "apiVersion: v2\nname: gateway\nversion: 1.0.0\n"
    )
    step = rendered_step("remote-egressgateway", egress_gateway="helm")
    installer = make_installer(tmp_path, make_topology(tmp_path, runner))
    installer.istio_source = lambda: source
    installer.install(plan_of(step), Facts(), lambda facts: plan_of(step))
    [line] = fake_tools.lines("helm")
    assert line.startswith(
        f"upgrade --install istio-egressgateway {source / GATEWAY_SOURCE_CHART} --namespace "
    )
    assert "--repo" not in line and "--version" not in line


def test_a_source_tree_without_the_chart_is_refused_naming_it(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    finish_fakes(cluster_fakes(fake_tools))
    step = rendered_step("remote-egressgateway", egress_gateway="helm")
    installer = make_installer(tmp_path, make_topology(tmp_path, runner))
    installer.istio_source = lambda: tmp_path / "empty"
    with pytest.raises(StepFailed, match="manifests/charts/gateway is not a chart in the Istio source"):
        installer.install(plan_of(step), Facts(), lambda facts: plan_of(step))
    assert fake_tools.lines("helm") == []


def test_the_chart_tree_of_a_release_is_the_tree_its_istio_source_builds_from(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    """``InstallerTools.istio_source`` follows ``release.source``: nothing for a published
    release, the checkout itself, or the module's directory as ``go mod download`` names it
    (the tree programs/source_builds.py builds istioctl in)."""
    pins = load_pins()
    module = tmp_path / "module"
    fake_tools.install("go").on(r"^mod download -json", stdout=json.dumps({"Dir": str(module)}), expand=False)
    resolver = ToolResolver({}, tmp_path / "tools", runner)
    config: Any = SimpleNamespace(tools_dir=tmp_path / "tools", allow_download=False)
    tools = installer_tools_from(resolver, config, runner)
    assert tools.istio_source(pins.resolve_release("1.31")) is None
    assert tools.istio_source(pins.source_release(checkout_source(tmp_path / "istio"))) == tmp_path / "istio"
    assert tools.istio_source(pins.source_release(RELEASE_SOURCE)) == module
    [download] = fake_tools.calls("go")
    assert download.args[-1] == RELEASE_SOURCE.spec
    fake_tools.install("go").on(r"^mod download -json", exit=1, stderr="not found")
    with pytest.raises(ToolUnavailable, match="go mod download failed"):
        tools.istio_source(pins.source_release(MASTER_SOURCE))


def crd_fakes(fake_tools: FakeTools, module_dir: Path | None) -> None:
    tools = cluster_fakes(fake_tools)
    kubectl = tools["kubectl"]
    kubectl.on(r"get crd/gateways.gateway.networking.k8s.io", exit=1, stderr=CRD_NOT_FOUND)
    kubectl.on(
        r"kustomize github.com/kubernetes-sigs/gateway-api/config/crd\?ref=v1.6.0", exit=1, stderr=NO_GITHUB
    )
    kubectl.on(r"kustomize /\S+/config/crd$", stdout=CRD)
    kubectl.on(
        r"apply --server-side",
        stdout="customresourcedefinition.apiextensions.k8s.io/gateways.gateway.networking.k8s.io serverside-applied\n",
    )
    go = fake_tools.install("go")
    if module_dir is None:
        go.on(
            r"^mod download -json sigs.k8s.io/gateway-api@v1.6.0",
            exit=1,
            stdout=json.dumps(
                {"Path": "sigs.k8s.io/gateway-api", "Error": "proxy.golang.org: 403 Forbidden"}
            ),
            expand=False,
        )
    else:
        go.on(
            r"^mod download -json sigs.k8s.io/gateway-api@v1.6.0$",
            stdout=json.dumps(
                {"Path": "sigs.k8s.io/gateway-api", "Version": "v1.6.0", "Dir": str(module_dir)}
            ),
            expand=False,
        )
    finish_fakes(tools)


def crd_step() -> Step:
    step = rendered_step("remote-gateway-api-crds", ingress="gateway-api")
    assert step.action is Action.INSTALL_GATEWAY_API_CRDS
    return replace(
        step,
        params={
            **step.params,
            "version": "v1.6.0",
            "source": step.params["source"].replace(step.params["version"], "v1.6.0"),
        },
    )


def test_gateway_api_crds_come_from_the_go_module_where_github_is_out_of_reach(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    module = tmp_path / "gateway-api@v1.6.0"
    crd_fakes(fake_tools, module)
    step = crd_step()
    installer = make_installer(tmp_path, make_topology(tmp_path, runner))
    installer.install(plan_of(step), Facts(), lambda facts: plan_of(step))
    kustomize = [line for line in fake_tools.lines("kubectl") if " kustomize " in f" {line} "]
    assert [line.split(" kustomize ")[1].split()[0] for line in kustomize] == [
        "github.com/kubernetes-sigs/gateway-api/config/crd?ref=v1.6.0",  # the guide's source first
        f"{module}/config/crd",  # the same kustomization, from the module zip
    ]
    assert fake_tools.lines("go") == ["mod download -json sigs.k8s.io/gateway-api@v1.6.0"]
    applied = [call for call in fake_tools.calls("kubectl") if "apply" in call.args]
    assert applied and "gateways.gateway.networking.k8s.io" in applied[-1].stdin


def test_gateway_api_crds_that_cannot_be_had_anywhere_are_an_environment_fault_naming_both(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    crd_fakes(fake_tools, None)
    step = crd_step()
    installer = make_installer(tmp_path, make_topology(tmp_path, runner))
    with pytest.raises(EnvironmentFault) as failed:
        installer.install(plan_of(step), Facts(), lambda facts: plan_of(step))
    message = str(failed.value)
    assert "Could not resolve host: github.com" in message
    assert "go mod download sigs.k8s.io/gateway-api@v1.6.0: proxy.golang.org: 403 Forbidden" in message
    assert not [call for call in fake_tools.calls("kubectl") if "apply" in call.args]
