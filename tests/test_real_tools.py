"""The real upstream binaries, resolved the way the suite resolves them, exercised on this machine.

These prove the pins build and run here, and record the real error output the suite's
messages are written against (no Docker engine exists on the self-test machines).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from programs.runner import CommandRunner
from programs.tools import ResolvedTool
from scenarios.facts import Facts
from scenarios.registry import render
from scenarios.releases import load_pins
from tests import upstream
from tests.upstream import go_module_dir

pytestmark = [pytest.mark.realtools]

ResolveTool = Callable[[str], ResolvedTool]


def test_kind_is_the_pinned_release(real_tool: ResolveTool, runner: CommandRunner) -> None:
    kind = real_tool("kind")
    output = runner.run([str(kind.path), "version"]).stdout
    assert output.startswith(f"kind {load_pins().tools['kind']['version']} ")


def test_kind_without_a_docker_engine_fails_with_its_own_message(
    real_tool: ResolveTool, runner: CommandRunner, tmp_path: Path
) -> None:
    kind = real_tool("kind")
    result = runner.run(
        [str(kind.path), "get", "clusters"],
        env={"HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "kubeconfig")},
        check=False,
    )
    if result.returncode == 0:
        pytest.skip("a Docker engine is reachable on this machine; this test records the no-engine output")
    assert "failed to list clusters" in result.stderr
    assert "docker" in result.stderr


def test_cloud_provider_kind_offers_the_flags_the_supervisor_passes(
    real_tool: ResolveTool, runner: CommandRunner
) -> None:
    cpk = real_tool("cloud-provider-kind")
    help_text = runner.run([str(cpk.path), "--help"]).stdout
    for flag in ("--gateway-channel", "--enable-default-ingress", "--enable-log-dumping", "--logs-dir"):
        assert flag in help_text, flag
    assert "disabled" in help_text  # --gateway-channel accepts it: no Gateway API CRDs installed


def test_offline_istioctl_reports_its_snapshot_and_renders_the_remote_profile(
    real_tool: ResolveTool, runner: CommandRunner, tmp_path: Path
) -> None:
    istioctl = real_tool("istioctl-offline")
    pins = load_pins()
    snapshot = pins.sources[pins.tier_source()].as_source().stamp
    version = runner.run([str(istioctl.path), "version", "--remote=false", "--short"]).stdout
    assert snapshot in version
    operator = tmp_path / "remote.yaml"
    operator.write_text(
        "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata:\n  namespace: external-istiod\n"
        "spec:\n  profile: remote\n  values:\n    global:\n      istioNamespace: external-istiod\n"
        "      configCluster: true\n    pilot:\n      configMap: true\n    istiodRemote:\n"
        "      injectionURL: https://203.0.113.7:15017/inject/cluster/remote1/net/network1\n"
    )
    generated = runner.run(
        [str(istioctl.path), "manifest", "generate", "-f", str(operator)], attach=False
    ).stdout
    assert "kind: MutatingWebhookConfiguration" in generated
    assert "https://203.0.113.7:15017/inject/cluster/remote1/net/network1" in generated


def test_real_helm_renders_the_egress_gateway_from_the_tier_sources_chart(
    real_tool: ResolveTool, runner: CommandRunner, tmp_path: Path
) -> None:
    """What the installer hands helm for a source build (``source_chart``, the step's values):
    the doc test's egress gateway, a ClusterIP Service and a Deployment the injector completes."""
    helm = real_tool("helm")
    pins = load_pins()
    version = pins.tier_source()  # the release-1.31 source the tiers certify
    source = go_module_dir(upstream.ISTIO_MODULE, version)
    release = pins.source_release(pins.sources[version].as_source())
    step = next(
        step
        for step in render("ip-passthrough", release, Facts(egress_gateway="helm")).plan.steps
        if step.name == "remote-egressgateway"
    )
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(step.params["values"]))
    rendered = runner.run(
        [
            str(helm.path), "template", step.params["release"], str(source / step.params["source_chart"]),
            "--namespace", step.params["namespace"], "--values", str(values),
        ],
        attach=False,
    ).stdout  # fmt: skip
    documents = {(doc["kind"], doc["metadata"]["name"]): doc for doc in yaml.safe_load_all(rendered) if doc}
    service = documents[("Service", "istio-egressgateway")]
    assert service["spec"]["type"] == "ClusterIP"
    template = documents[("Deployment", "istio-egressgateway")]["spec"]["template"]
    assert template["metadata"]["annotations"]["inject.istio.io/templates"] == "gateway"
    assert template["metadata"]["labels"]["sidecar.istio.io/inject"] == "true"
    assert [(c["name"], c["image"]) for c in template["spec"]["containers"]] == [("istio-proxy", "auto")]


def test_real_kubectl_builds_the_gateway_api_crds_from_the_go_module(
    real_tool: ResolveTool, runner: CommandRunner
) -> None:
    """The kustomization the guide fetches from GitHub, from the sigs.k8s.io/gateway-api module
    zip at a release's version (where GitHub cannot be reached)."""
    kubectl = real_tool("kubectl")
    version = load_pins().resolve_release("1.31").profile.gateway_api_version
    module = go_module_dir("sigs.k8s.io/gateway-api", version)
    rendered = runner.run(
        [str(kubectl.path), "kustomize", str(module / "config" / "crd")], attach=False
    ).stdout
    names = {doc["metadata"]["name"] for doc in yaml.safe_load_all(rendered) if doc}
    assert {"gateways.gateway.networking.k8s.io", "httproutes.gateway.networking.k8s.io"} <= names
