"""A run's tools: only its mode's, the version each binary reported, PATH as the last resort."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from clusters.providers import refused_tools
from programs.runner import CommandRunner
from programs.tool_policy import RunToolResolver, reported_version, skew_problem
from programs.tools import ResolvedTool, ToolSpec, ToolUnavailable
from tests.fakeexec import FakeTools

KUBECTL = {
    "version": "v1.37.0",
    "version_args": ["version", "--client"],
    "version_pattern": "Client Version: (v[0-9.]+)",
}
KIND = {"version": "v0.33.0", "version_args": ["version"], "version_pattern": "kind (v[0-9.]+)"}


def make(tmp_path: Path, runner: CommandRunner, fakes: FakeTools, **kwargs: Any) -> RunToolResolver:
    resolver = RunToolResolver.from_pins(
        {"kubectl": KUBECTL, "kind": KIND}, tmp_path / "cache", runner, allow_download=False, **kwargs
    )
    assert isinstance(resolver, RunToolResolver)
    resolver.go_binary = "go-is-not-here"  # no Go build: the pinned version cannot be had
    resolver.search_path = str(fakes.bin_dir)
    return resolver


def test_a_path_binary_within_the_skew_is_used_with_a_warning(
    fake_tools: FakeTools, runner: CommandRunner, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake_tools.install("kubectl").on(r"^version --client$", stdout="Client Version: v1.36.2\n")
    resolver = make(tmp_path, runner, fake_tools)
    seen: list[ResolvedTool] = []
    resolver.on_resolved = seen.append
    tool = resolver.resolve("kubectl")
    assert (tool.version, tool.source, tool.path) == ("v1.36.2", "PATH", fake_tools.bin_dir / "kubectl")
    assert seen == [tool]
    assert "kubectl v1.37.0 could not be had; using" in caplog.text and "which reports v1.36.2" in caplog.text
    assert resolver.path_fallbacks == [
        f"kubectl v1.37.0 could not be had; using {tool.path}, which reports v1.36.2"
    ]
    assert resolver.resolve("kubectl") is tool  # resolved once


def test_a_path_binary_outside_the_skew_is_refused_and_named(
    fake_tools: FakeTools, runner: CommandRunner, tmp_path: Path
) -> None:
    fake_tools.install("kubectl").on(r"^version --client$", stdout="Client Version: v1.33.0\n")
    with pytest.raises(ToolUnavailable) as caught:
        make(tmp_path, runner, fake_tools).resolve("kubectl")
    message = str(caught.value)
    assert "kubectl v1.37.0 could not be had" in message
    assert f"PATH {fake_tools.bin_dir / 'kubectl'}: reports v1.33.0, more than 1 minor version(s)" in message


def test_an_explicit_path_never_falls_back(
    fake_tools: FakeTools, runner: CommandRunner, tmp_path: Path
) -> None:
    fake_tools.install("kubectl").on(r"^version --client$", stdout="Client Version: v1.37.0\n")
    broken = tmp_path / "broken-kubectl"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(ToolUnavailable, match="explicit"):
        make(tmp_path, runner, fake_tools, explicit={"kubectl": broken}).resolve("kubectl")


def test_existing_mode_never_resolves_kind(
    fake_tools: FakeTools, runner: CommandRunner, tmp_path: Path
) -> None:
    kind = fake_tools.install("kind").on(r"^version$", stdout="kind v0.33.0 go1.26 linux/amd64\n")
    resolver = make(tmp_path, runner, fake_tools)
    resolver.refused = refused_tools("existing")
    with pytest.raises(ToolUnavailable, match="--topology-mode existing does not use kind"):
        resolver.resolve("kind")
    with pytest.raises(ToolUnavailable, match="does not use cloud-provider-kind"):
        resolver.resolve("cloud-provider-kind")
    assert fake_tools.calls(kind.name) == []  # not even asked for its version
    assert "kind" not in refused_tools("kind") and "etcd" in refused_tools("kind")


def test_reports_name_the_version_the_binary_reported() -> None:
    spec = ToolSpec.from_pins("kubectl", KUBECTL)
    assert reported_version(spec, "Client Version: v1.32.4\nKustomize Version: v5\n") == "v1.32.4"
    no_version = ToolSpec.from_pins("cloud-provider-kind", {"version_pattern": "(--gateway-channel)"})
    assert reported_version(no_version, "      --gateway-channel string") is None


@pytest.mark.parametrize(
    ("name", "reported", "wanted", "ok"),
    [
        ("kubectl", "v1.36.9", "v1.37.0", True),
        ("kubectl", "v1.35.0", "v1.37.0", False),
        ("helm", "v3.12.0", "v3.19.0", True),
        ("helm", "v4.0.0", "v3.19.0", False),
        ("istioctl", "1.30.3", "1.30.3", True),
        ("istioctl", "1.30.2", "1.30.3", False),
        ("kind", "v0.32.0", "v0.33.0", False),
        ("kind", "weird", "v0.33.0", False),
    ],
)
def test_skew_policy(name: str, reported: str, wanted: str, ok: bool) -> None:
    assert (skew_problem(name, reported, wanted) is None) is ok


def test_reports_note_the_version_an_explicit_binary_reports(tmp_path: Path, runner: CommandRunner) -> None:
    """Issue 10: ``--tool-path kubectl=...`` of v1.32.4 is reported as v1.32.4, not the pin."""
    from types import SimpleNamespace

    from fixtures.core import make_tools
    from run.info import RunFacts

    kubectl = tmp_path / "kubectl"
    kubectl.write_text("#!/bin/sh\necho 'Client Version: v1.32.4'\necho 'Kustomize Version: v5.5.0'\n")
    kubectl.chmod(0o755)
    config = SimpleNamespace(
        tools_dir=tmp_path / "tools", tool_paths={"kubectl": kubectl}, allow_download=False, mode="kind"
    )
    facts = RunFacts()
    make_tools(config, runner, facts).resolve("kubectl")  # type: ignore[arg-type]
    assert facts.export()["tools"]["kubectl"] == "v1.32.4 (explicit)"
