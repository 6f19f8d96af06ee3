"""The real upstream binaries, resolved the way the suite resolves them, exercised on this machine.

These prove the pins build and run here, and record the real error output the suite's
messages are written against (no Docker engine exists on the self-test machines).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from programs.runner import CommandRunner
from programs.tools import ResolvedTool
from scenarios.releases import load_pins

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
