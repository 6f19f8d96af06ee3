"""Binaries built from an Istio source (programs/source_builds.py): cached per source, stamped,
checked, and never cached under a key the checkout no longer matches."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from programs.istio_sources import inspect_source
from programs.runner import CommandRunner
from programs.source_builds import SourceBuildError, SourceBuilds, ldflags
from scenarios.releases import load_pins
from scenarios.sources import IstioSource
from tests.fakeexec import FakeTools
from tests.istio_sources_data import RELEASE_SOURCE
from tests.test_istio_sources import checkout, git
from tests.test_options import REPO
from tests.upstream import ISTIO_MODULE, module_dir_or_reason


def fake_go_building(fake_tools: FakeTools, module: Path, reports: str) -> None:
    """A ``go`` whose build writes a binary that reports ``reports`` as its version."""
    script = f"#!/bin/sh\necho 'client version: {reports}'\n"
    fake_tools.install("go").on(
        r"^mod download -json", stdout=json.dumps({"Dir": str(module)}), expand=False
    ).on(r"^build .* -o (\S+) ", write_file=(r"\1", script))


def test_a_module_source_is_built_once_in_its_own_tree_and_then_served_from_the_cache(
    fake_tools: FakeTools, tmp_path: Path, runner: CommandRunner
) -> None:
    fake_go_building(fake_tools, tmp_path / "module", RELEASE_SOURCE.stamp)
    (tmp_path / "module").mkdir()
    seen: list[tuple[str, str]] = []
    builds = SourceBuilds(
        tmp_path / "tools", runner, on_built=lambda name, _s, _p, how: seen.append((name, how))
    )
    first = builds.binary("istioctl", RELEASE_SOURCE)
    again = builds.binary("istioctl", RELEASE_SOURCE)
    assert first == again == tmp_path / "tools" / "istio-source" / RELEASE_SOURCE.cache_key / "istioctl"
    assert seen == [("istioctl", "go build"), ("istioctl", "cache")]
    build = next(call for call in fake_tools.calls("go") if call.args[0] == "build")
    assert build.cwd == str(tmp_path / "module")
    assert build.env["GOFLAGS"] == "-mod=readonly -buildvcs=false" and build.env["CGO_ENABLED"] == "0"
    assert ldflags(RELEASE_SOURCE) in build.line
    assert build.args[-1] == "./istioctl/cmd/istioctl"


def test_a_binary_that_does_not_report_the_sources_stamp_is_not_kept(
    fake_tools: FakeTools, tmp_path: Path, runner: CommandRunner
) -> None:
    fake_go_building(fake_tools, tmp_path, "1.31.1")
    builds = SourceBuilds(tmp_path / "tools", runner)
    with pytest.raises(
        SourceBuildError, match=r"reports version '1.31.1' \(exit 0\), not '1.31-dev.eed52ebb66ad'"
    ):
        builds.binary("pilot-discovery", RELEASE_SOURCE)
    assert not builds.entry(RELEASE_SOURCE).joinpath("pilot-discovery").exists()


def test_a_checkout_that_changes_during_the_build_is_refused(
    fake_tools: FakeTools, tmp_path: Path, runner: CommandRunner
) -> None:
    root = checkout(tmp_path)
    source = inspect_source(str(root), load_pins(), runner)
    # The "build" also edits the checkout, as an editor saving a file mid-build would.
    script = f"#!/bin/sh\necho 'client version: {source.stamp}'\n"
    fake_tools.install("go").on(r"^build .* -o (\S+) ", write_file=(r"\1", script)).on(
        r"^build", write_file=(str(root / "changed.go"), "package main\n")
    )
    fake_tools.tools["go"].rules.reverse()
    fake_tools.tools["go"].save()
    builds = SourceBuilds(tmp_path / "tools", runner)
    with pytest.raises(SourceBuildError, match=r"changed while it was built .*the build is not kept"):
        builds.binary("istioctl", source)
    assert not (builds.entry(source) / "istioctl").exists()


@pytest.mark.realtools
@pytest.mark.slow
def test_a_checkout_is_built_from_its_tree_and_a_changed_file_is_rebuilt(tmp_path: Path) -> None:
    """Layer 2: the real Go toolchain builds istioctl from a checkout made from the pinned source's
    module (copy, git init, commit); the binary names the checkout's revision; a file changed
    there makes a new source and a new build that carries the change, never the cached binary.
    istioctl is the target (a pilot-discovery relink costs the same proof minutes more)."""
    version = load_pins().tier_source()
    module = module_dir_or_reason(ISTIO_MODULE, version)
    if isinstance(module, str):
        pytest.skip(f"the pinned Istio module cannot be had: {module}")
    if shutil.which("go") is None:
        pytest.skip("no Go toolchain here")
    root = tmp_path / "istio"
    shutil.copytree(module, root, copy_function=shutil.copyfile)
    for directory, _subdirs, _files in os.walk(root):
        Path(directory).chmod(0o755)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "the pinned source, as a local checkout")
    head = git(root, "rev-parse", "HEAD").strip()
    runner = CommandRunner(default_timeout_s=1800)
    tools = tmp_path / "tools"

    clean = inspect_source(str(root), load_pins(), runner)
    assert (clean.revision, clean.dirty_digest) == (head, None)
    istioctl = SourceBuilds(tools, runner).binary("istioctl", clean)
    assert f"1.31-dev.{head[:12]}" in said(istioctl, "version", "--remote=false", "--short")
    # The suite names it by its revision, as a local source, never as a release (--plan: no cluster).
    assert f"# Istio 1.31 source {head[:8]}, local\n" in plan_of(root, tmp_path)

    marker = root / "istioctl" / "cmd" / "istioctl" / "eicp_selftest.go"
    built: list[Path] = []
    for text in ("first change", "second change"):
        marker.write_text(
            'package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\nfunc init() {\n'
            f'\tif os.Getenv("EICP_SELFTEST_MARKER") != "" {{\n\t\tfmt.Println("{text}")\n\t\tos.Exit(0)\n\t}}\n}}\n'
        )
        dirty = inspect_source(str(root), load_pins(), runner)
        assert dirty.revision == head and dirty.dirty_digest is not None
        how: list[str] = []

        def note(_name: str, _source: IstioSource, _path: Path, done: str, seen: list[str] = how) -> None:
            seen.append(done)

        binary = SourceBuilds(tools, runner, on_built=note).binary("istioctl", dirty)
        assert how == ["go build"], f"{text}: served from the cache instead of built"
        assert said(binary, marker="1").strip() == text
        assert dirty.stamp in said(binary, "version", "--remote=false", "--short")
        built.append(binary)
    assert f"# Istio 1.31 source {head[:8]}+dirty, local\n" in plan_of(root, tmp_path)
    assert len({istioctl, *built}) == 3


def plan_of(checkout_dir: Path, tmp_path: Path) -> str:
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "suites",
        "-p",
        "no:cacheprovider",
        "--plan",
        "--topology-mode",
        "kwok",
    ]
    argv += [
        "--istio-source",
        str(checkout_dir),
        "--scenario",
        "ip-passthrough",
        "--report-dir",
        str(tmp_path / "r"),
    ]
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=True, timeout=300).stdout


def said(binary: Path, *args: str, marker: str | None = None) -> str:
    env = {**os.environ, **({"EICP_SELFTEST_MARKER": marker} if marker else {})}
    return subprocess.run([binary, *args], env=env, capture_output=True, text=True, check=True).stdout


def test_the_tools_step_names_build_from_the_pinned_sources(
    fake_tools: FakeTools, tmp_path: Path, runner: CommandRunner
) -> None:
    """programs/tools_cli.py: ``<tool>-offline`` comes from the tiers' source (release-1.31),
    ``<tool>-upgrade-from`` from their upgrade's A (master); ``kwok-tier`` is the control planes."""
    from programs.tool_policy import KWOK_MODE_TOOLS
    from programs.tools_cli import expand_names, resolve_named
    from tests.istio_sources_data import MASTER_SOURCE

    module = tmp_path / "module"
    module.mkdir()
    (module / "VERSION").write_text("1.31\n")
    fake_tools.install("go").on(r"^mod download", stdout=json.dumps({"Dir": str(module)}), expand=False)
    asked: list[tuple[str, IstioSource]] = []

    class Resolver:
        def __init__(self) -> None:
            self.runner = runner

        def resolve_source(self, name: str, source: IstioSource) -> str:
            asked.append((name, source))
            return name

    pins = load_pins()
    for name in ("istioctl-offline", "xdsclient-upgrade-from", "pilot-discovery-upgrade-from"):
        resolve_named(Resolver(), pins, name)  # type: ignore[arg-type]
    assert asked == [
        ("istioctl", RELEASE_SOURCE),
        ("xdsclient", MASTER_SOURCE),
        ("pilot-discovery", MASTER_SOURCE),
    ]
    assert expand_names(["kwok-tier", "kind"]) == [*KWOK_MODE_TOOLS, "kind"]
