"""Tool resolution: find or fetch the pinned kind, cloud-provider-kind, helm and istioctl.

Order, per tool and version (README.md, "Prerequisites for certification on kind"):
  1. an explicit path (``--tool-path NAME=PATH`` or ``EICP_<NAME>_BIN``);
  2. the tools cache (``--tools-dir``), if the cached binary answers with the right version;
  3. the official release artifact, verified against its published SHA-256;
  4. a Go build of the same version from its Go module, when ``go`` is on PATH.
Each resolved binary is version-checked. A host-wide file lock makes xdist workers fetch or
build a tool once. When nothing works, the error lists every way tried and why it failed.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from programs.downloads import (
    extract_member,
    install_binary,
    one_line,
    published_sha256,
    recorded_download,
    sha256_of,
)
from programs.gobuild import GoBuilder, GoBuildError, GoRecipe
from programs.runner import CommandError, CommandRunner
from programs.source_builds import SourceBuildError, SourceBuilds
from run.timeouts import GO_BUILD, TOOL_VERSION
from scenarios.sources import IstioSource

log = logging.getLogger("eicp.tools")


class ToolUnavailable(RuntimeError):
    """No way of getting a tool worked; ``attempts`` says what was tried and why it failed."""

    def __init__(self, name: str, version: str, attempts: list[tuple[str, str]]) -> None:
        self.name = name
        self.version = version
        self.attempts = attempts
        lines = [f"{name} {version} could not be had; tried:"]
        lines += [f"  - {how}: {why}" for how, why in attempts]
        lines.append(
            f"Fix: pass --tool-path {name}=/path/to/{name} (or set {env_var_for(name)}), "
            "put it in the tools cache, allow downloads, or install Go."
        )
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class ResolvedTool:
    name: str
    version: str
    path: Path
    source: str  # "explicit", "cache", "download" or "go build"
    version_output: str


@dataclass(frozen=True)
class ToolSpec:
    """One tool's entry in versions.yaml."""

    name: str
    version: str | None
    go_module: str | None
    go_package: str
    go_version_ldflags: dict[str, str]
    go_build: str  # "module" (in the module's directory) or "wrapper" (programs/gobuild.py)
    go_wrapper_pin_local_replaces: str | None
    download_url: str | None
    checksum_url: str | None
    archive_member: str | None
    version_args: tuple[str, ...]
    version_pattern: str
    # Checksums of the pinned version (python -m programs.pins writes them): the release
    # artifact's SHA-256 per platform ("linux-amd64") and the Go module's hash ("h1:...").
    sha256: dict[str, str] = field(default_factory=dict)
    go_sum: str | None = None

    @classmethod
    def from_pins(cls, name: str, raw: dict[str, Any]) -> ToolSpec:
        return cls(
            name=name,
            version=raw.get("version"),
            go_module=raw.get("go_module"),
            go_package=raw.get("go_package", "."),
            go_version_ldflags=dict(raw.get("go_version_ldflags") or {}),
            go_build=raw.get("go_build", "module"),
            go_wrapper_pin_local_replaces=raw.get("go_wrapper_pin_local_replaces"),
            download_url=raw.get("download_url"),
            checksum_url=raw.get("checksum_url"),
            archive_member=raw.get("archive_member"),
            version_args=tuple(raw.get("version_args", ["version"])),
            version_pattern=raw.get("version_pattern", r"(\S+)"),
            sha256=dict(raw.get("sha256") or {}),
            go_sum=raw.get("go_sum"),
        )


def env_var_for(name: str) -> str:
    return "EICP_" + re.sub(r"[^A-Z0-9]", "_", name.upper()) + "_BIN"


def host_arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


def expand_template(template: str, version: str, arch: str | None = None) -> str:
    """Fill ``{version}``, ``{bare_version}``, ``{major}``/``{minor}``/``{patch}`` (empty for
    non-semver versions), ``{arch}`` (this host's unless given); ``{module_time}`` is left for
    the Go build to fill."""
    parts = re.match(r"v?([0-9]+)\.([0-9]+)\.([0-9]+)", version)
    major, minor, patch = parts.groups() if parts else ("", "", "")
    return template.format(
        version=version,
        bare_version=version.removeprefix("v"),
        major=major,
        minor=minor,
        patch=patch,
        arch=arch or host_arch(),
        module_time="{module_time}",
    )


@dataclass
class ToolResolver:
    """Resolves tools for one run; safe to share between threads and xdist workers (file locks)."""

    specs: dict[str, ToolSpec]
    cache_dir: Path
    runner: CommandRunner
    explicit: dict[str, Path] = field(default_factory=dict)
    allow_download: bool = True
    go_binary: str = "go"
    # Told about every tool resolved (the reports note which versions a run really used).
    on_resolved: Callable[[ResolvedTool], None] | None = None
    _resolved: dict[tuple[str, str], ResolvedTool] = field(default_factory=dict)

    @classmethod
    def from_pins(
        cls,
        tools: dict[str, dict[str, Any]],
        cache_dir: Path,
        runner: CommandRunner,
        explicit: dict[str, Path] | None = None,
        allow_download: bool = True,
    ) -> ToolResolver:
        specs = {name: ToolSpec.from_pins(name, raw) for name, raw in tools.items()}
        return cls(specs, cache_dir, runner, dict(explicit or {}), allow_download)

    def resolve(
        self, name: str, version: str | None = None, *, go_revision: str | None = None
    ) -> ResolvedTool:
        """Return a working binary of ``name`` at ``version`` (default: the pinned version).

        ``go_revision`` builds from another Go module revision than ``version`` (used for
        source snapshots whose tag the Go proxy cannot resolve); the binary is cached under
        ``version`` and reports it.
        """
        spec = self.specs.get(name)
        if spec is None:
            raise ToolUnavailable(name, version or "?", [("versions.yaml", f"no entry for {name!r}")])
        wanted = version or spec.version
        if not wanted:
            raise ToolUnavailable(name, "?", [("versions.yaml", "no version given or pinned")])
        key = (name, wanted)
        if key in self._resolved:
            return self._resolved[key]
        attempts: list[tuple[str, str]] = []

        explicit = self.explicit.get(name) or _env_path(name)
        if explicit is not None:
            # An explicit path is the user's decision: use it or fail, never fall back silently.
            tool = self._checked(spec, wanted, explicit, "explicit", attempts, strict=False)
            if tool is None:
                raise ToolUnavailable(name, wanted, attempts)
            return self._remember(key, tool)

        target = self.cache_dir / name / wanted / name
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.cache_dir / f".{name}-{wanted}.lock"), timeout=GO_BUILD.seconds() + 300.0)
        with lock:
            tool = self._from_cache(spec, wanted, target, attempts)
            if tool is None and self.allow_download and spec.download_url:
                tool = self._from_download(spec, wanted, target, attempts)
            elif tool is None:
                attempts.append(
                    ("download", "disabled" if not self.allow_download else "no download URL pinned")
                )
            if tool is None:
                tool = self._from_go(spec, wanted, go_revision or wanted, target, attempts)
        if tool is None:
            raise ToolUnavailable(name, wanted, attempts)
        return self._remember(key, tool)

    def resolve_source(self, name: str, source: IstioSource) -> ResolvedTool:
        """``istioctl``, ``pilot-discovery`` or ``xdsclient`` built from an Istio source
        (programs/source_builds.py: cached per source, never an explicit path or PATH binary:
        the source is the user's decision). ``ToolUnavailable`` says why not."""
        key = (name, f"source:{source.cache_key}")
        if key in self._resolved:
            return self._resolved[key]
        builds = SourceBuilds(self.cache_dir, self.runner, go_binary=self.go_binary)
        try:
            path = builds.xdsclient(source) if name == "xdsclient" else builds.binary(name, source)
        except SourceBuildError as error:
            raise ToolUnavailable(
                name, source.stamp, [(f"build from Istio {source.label}", str(error))]
            ) from None
        tool = ResolvedTool(name, source.stamp, path, f"built from Istio {source.label}", source.stamp)
        return self._remember(key, tool)

    def source_tree(self, source: IstioSource) -> Path:
        """The tree ``resolve_source`` builds from (the checkout, or the module's directory in the
        Go module cache): where a source's charts are, since it has no published ones."""
        try:
            return SourceBuilds(self.cache_dir, self.runner, go_binary=self.go_binary).tree(source)
        except SourceBuildError as error:
            raise ToolUnavailable("istio-source", source.stamp, [("source tree", str(error))]) from None

    def _remember(self, key: tuple[str, str], tool: ResolvedTool) -> ResolvedTool:
        self._resolved[key] = tool
        if self.on_resolved is not None:
            self.on_resolved(tool)
        return tool

    # -- sources -----------------------------------------------------------------------

    def _from_cache(
        self, spec: ToolSpec, version: str, target: Path, attempts: list[tuple[str, str]]
    ) -> ResolvedTool | None:
        if not target.exists():
            attempts.append(("cache", f"{target} does not exist"))
            return None
        return self._checked(spec, version, target, "cache", attempts)

    def _from_download(
        self, spec: ToolSpec, version: str, target: Path, attempts: list[tuple[str, str]]
    ) -> ResolvedTool | None:
        assert spec.download_url is not None
        url = expand_template(spec.download_url, version)
        how = f"download {url}"
        try:
            with tempfile.TemporaryDirectory(dir=self.cache_dir) as scratch:
                artifact = Path(scratch) / url.rsplit("/", 1)[-1]
                log.info("downloading %s", url)
                recorded_download(self.runner, url, artifact)
                if not spec.checksum_url:
                    attempts.append((how, "no checksum URL pinned; refusing an unverified binary"))
                    return None
                expected = published_sha256(
                    expand_template(spec.checksum_url, version), artifact.name, scratch, self.runner
                )
                actual = sha256_of(artifact)
                if actual != expected:
                    attempts.append((how, f"SHA-256 mismatch: got {actual}, published {expected}"))
                    return None
                pinned = spec.sha256.get(f"linux-{host_arch()}") if version == spec.version else None
                if pinned and actual != pinned:
                    attempts.append((how, f"SHA-256 {actual} is not the one versions.yaml pins ({pinned})"))
                    return None
                binary = extract_member(
                    artifact, expand_template(spec.archive_member, version) if spec.archive_member else None
                )
                install_binary(binary, target)
        except (urllib.error.URLError, OSError, TimeoutError, ValueError, tarfile.TarError) as error:
            attempts.append((how, one_line(error)))
            return None
        return self._checked(spec, version, target, "download", attempts)

    def _from_go(
        self, spec: ToolSpec, version: str, revision: str, target: Path, attempts: list[tuple[str, str]]
    ) -> ResolvedTool | None:
        if not spec.go_module:
            attempts.append(("go build", "no Go module pinned"))
            return None
        go = shutil.which(self.go_binary)
        how = f"go build {spec.go_module}@{revision}"
        if go is None:
            attempts.append((how, f"{self.go_binary!r} is not on PATH"))
            return None
        recipe = GoRecipe(
            module=spec.go_module,
            revision=revision,
            package=spec.go_package,
            method=spec.go_build,
            ldflags={
                symbol: expand_template(value, version) for symbol, value in spec.go_version_ldflags.items()
            },
            pin_local_replaces=(
                expand_template(spec.go_wrapper_pin_local_replaces, version)
                if spec.go_wrapper_pin_local_replaces
                else None
            ),
            expected_sum=spec.go_sum if version == spec.version and revision == version else None,
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        try:
            GoBuilder(self.runner, go, self.cache_dir).build(
                recipe, partial, f"go build {spec.name} {version}"
            )
            partial.chmod(0o755)
            partial.replace(target)
        except (GoBuildError, OSError) as error:
            attempts.append((how, one_line(error)))
            return None
        return self._checked(spec, version, target, "go build", attempts)

    # -- checks ------------------------------------------------------------------------

    def _checked(
        self,
        spec: ToolSpec,
        version: str,
        path: Path,
        source: str,
        attempts: list[tuple[str, str]],
        *,
        strict: bool = True,
    ) -> ResolvedTool | None:
        """Run the binary's version command; accept it only if it reports ``version``.

        ``strict=False`` (explicit paths) accepts any version the pattern finds, and logs it:
        a user who points at a custom build means it.
        """
        try:
            result = self.runner.run(
                [str(path), *spec.version_args],
                timeout_s=TOOL_VERSION.seconds(),
                title=f"{spec.name} version check",
                check=False,
                attach=False,
            )
        except CommandError as error:
            attempts.append((f"{source} {path}", one_line(error)))
            return None
        output = result.stdout + result.stderr
        match = re.search(spec.version_pattern, output)
        if result.returncode != 0 or match is None:
            attempts.append(
                (f"{source} {path}", f"version check failed (exit {result.returncode}): {one_line(output)}")
            )
            return None
        reported = match.group(1)
        if strict and not _reports_version(spec, reported, version):
            attempts.append((f"{source} {path}", f"reports version {reported!r}, wanted {version!r}"))
            return None
        if reported != version:
            log.info("%s at %s reports %s (wanted %s)", spec.name, path, reported, version)
        return ResolvedTool(spec.name, version, path, source, output.strip())


def _reports_version(spec: ToolSpec, reported: str, wanted: str) -> bool:
    # Tools without a version command (cloud-provider-kind) are matched on a flag they offer.
    if reported.startswith("--"):
        return True
    return reported.removeprefix("v") == wanted.removeprefix("v")


def _env_path(name: str) -> Path | None:
    value = os.environ.get(env_var_for(name))
    return Path(value) if value else None
