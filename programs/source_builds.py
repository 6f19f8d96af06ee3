"""Binaries built from an Istio source (``--istio-source``): istioctl, pilot-discovery and the
synthetic proxy (programs/xdsclient), cached per source.

Each is built in the source tree itself (the Go module directory, or the checkout), with that
tree's own go.mod and go.sum and ``-mod=readonly``: exactly the source's dependencies, checked
against its own go.sum (the checksum database knows none of some sources' pseudo-versions, see
versions.yaml ``istio_sources``). ``CGO_ENABLED=0 -trimpath -ldflags "-s -w -X ..."`` stamps
``istio.io/istio/pkg/version`` with the source's version stamp and commit, so each binary
reports what it was built from; the stamp is checked after the build and on every cache hit.

Cache: ``<tools dir>/istio-source/<cache key>/<name>``; the key is the module version, or a
checkout's revision plus the digest of its uncommitted changes (scenarios/sources.py). A
checkout whose revision or changes differ after the build from what the run was started with
is refused (its binary is thrown away): a build is never cached under a key it does not match.
A file lock per source makes xdist workers and parallel runs build once.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from programs.istio_sources import uncommitted_digest
from programs.runner import CommandError, CommandRunner
from programs.xds_client import XdsClientBuild, XdsClientUnavailable
from run.timeouts import SOURCE_BUILD, SOURCE_BUILD_LOCK, SOURCE_GIT, TOOL_VERSION
from scenarios.sources import ISTIO_MODULE, IstioSource

log = logging.getLogger("eicp.tools")

PACKAGES = {"istioctl": "./istioctl/cmd/istioctl", "pilot-discovery": "./pilot/cmd/pilot-discovery"}
VERSION_ARGS = {
    "istioctl": ("version", "--remote=false", "--short"),
    "pilot-discovery": ("version", "--short"),
}
VERSION_PACKAGE = f"{ISTIO_MODULE}/pkg/version"
GO_ENV = {"CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly -buildvcs=false"}
CACHE_SUBDIR = "istio-source"


class SourceBuildError(RuntimeError):
    """A binary could not be built from a source; the message says which, from what, and why."""


def _safe(key: str) -> str:
    return "".join(char if char.isalnum() or char in "._-+" else "_" for char in key)


@dataclass
class SourceBuilds:
    """Builds (or finds cached) the binaries of Istio sources for one run."""

    tools_dir: Path
    runner: CommandRunner
    go_binary: str = "go"
    git_binary: str = "git"
    # Told (name, source, path, how: "cache" or "go build") for every binary handed out.
    on_built: Callable[[str, IstioSource, Path, str], None] | None = None

    def entry(self, source: IstioSource) -> Path:
        return self.tools_dir / CACHE_SUBDIR / _safe(source.cache_key)

    def binary(self, name: str, source: IstioSource) -> Path:
        """``istioctl`` or ``pilot-discovery`` built from ``source`` (cached)."""
        if name not in PACKAGES:
            raise SourceBuildError(f"no {name!r} is built from an Istio source (only {', '.join(PACKAGES)})")
        target = self.entry(source) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(target.parent / f".{name}.lock"), timeout=SOURCE_BUILD_LOCK.seconds()):
            how = "cache"
            if not (target.exists() and self._reports(name, target, source) is None):
                how = "go build"
                self._build(name, source, target)
                problem = self._reports(name, target, source)
                if problem is not None:
                    target.unlink(missing_ok=True)
                    raise SourceBuildError(f"{name} built from Istio {source.label}: {problem}")
        if self.on_built is not None:
            self.on_built(name, source, target, how)
        return target

    def xdsclient(self, source: IstioSource) -> Path:
        """The synthetic proxy (programs/xdsclient) built against ``source``'s pkg/adsc (cached)."""
        build = XdsClientBuild(
            istio_revision=source.location
            if source.kind == "module"
            else "v0.0.0-00010101000000-000000000000",
            tools_dir=self.entry(source),
            runner=self.runner,
            go_binary=self.go_binary,
            istio_dir=self.tree(source),
            cache_key="xdsclient",
        )
        try:
            path = build.resolve()
        except XdsClientUnavailable as error:
            raise SourceBuildError(str(error)) from None
        self._still_same(source, path, "the synthetic proxy")
        if self.on_built is not None:
            self.on_built("xdsclient", source, path, "cache or go build")
        return path

    def tree(self, source: IstioSource) -> Path:
        """The source tree: the checkout, or the module's directory in the Go module cache."""
        if source.directory is not None:
            return source.directory
        go = shutil.which(self.go_binary)
        if go is None:
            raise SourceBuildError(f"Istio {source.label}: {self.go_binary!r} is not on PATH")
        with tempfile.TemporaryDirectory(prefix="eicp-source-") as outside_any_module:
            try:
                result = self.runner.run(
                    [go, "mod", "download", "-json", source.spec],
                    cwd=Path(outside_any_module),
                    env={"GOFLAGS": "-mod=mod"},
                    timeout_s=SOURCE_BUILD.seconds(),
                    title=f"go mod download {source.spec}",
                    attach=False,
                )
                return Path(str(json.loads(result.stdout)["Dir"]))
            except (CommandError, KeyError, json.JSONDecodeError) as error:
                raise SourceBuildError(f"Istio {source.label}: go mod download failed: {error}") from None

    def _build(self, name: str, source: IstioSource, target: Path) -> None:
        go = shutil.which(self.go_binary)
        if go is None:
            raise SourceBuildError(f"{name} from Istio {source.label}: {self.go_binary!r} is not on PATH")
        tree = self.tree(source)
        partial = target.with_name(target.name + ".partial")
        log.info(
            "building %s from Istio %s in %s (minutes when the Go caches are cold)", name, source.label, tree
        )
        try:
            self.runner.run(
                [go, "build", "-trimpath", "-ldflags", ldflags(source), "-o", str(partial), PACKAGES[name]],
                cwd=tree,
                env=GO_ENV,
                timeout_s=SOURCE_BUILD.seconds(),
                title=f"go build {name} from Istio {source.label}",
            )
            self._still_same(source, partial, name)
            partial.chmod(0o755)
            partial.replace(target)
        except CommandError as error:
            raise SourceBuildError(
                f"{name} from Istio {source.label} ({tree}): go build failed: {_one_line(error.stderr_tail or error)}"
            ) from None
        finally:
            partial.unlink(missing_ok=True)

    def _still_same(self, source: IstioSource, built: Path, what: str) -> None:
        """A checkout must still be at the revision and changes the run started with."""
        if source.directory is None:
            return
        head = self.runner.run(
            [self.git_binary, "-C", str(source.directory), "rev-parse", "HEAD"],
            timeout_s=SOURCE_GIT.seconds(),
            title=f"git rev-parse HEAD ({source.directory})",
            attach=False,
        ).stdout.strip()
        digest = uncommitted_digest(source.directory, self.runner, git=self.git_binary)
        if head != source.revision or digest != source.dirty_digest:
            built.unlink(missing_ok=True)
            raise SourceBuildError(
                f"{what} from Istio {source.label}: the checkout {source.directory} changed while it "
                f"was built (now at {head[:8]}{'+dirty' if digest else ''}); the build is not kept. "
                "Run again once it is still."
            )

    def _reports(self, name: str, binary: Path, source: IstioSource) -> str | None:
        """``None`` when ``binary`` reports ``source``'s stamp, else what is wrong."""
        try:
            result = self.runner.run(
                [str(binary), *VERSION_ARGS[name]],
                timeout_s=TOOL_VERSION.seconds(),
                title=f"{name} version check",
                check=False,
                attach=False,
            )
        except CommandError as error:
            return f"its version command failed: {_one_line(error)}"
        # stdout first: pilot-discovery logs to stderr, and the two must not run together.
        pattern = r"([0-9]+\.[0-9]+[^\s]*)"
        found = re.search(pattern, result.stdout) or re.search(pattern, result.stderr)
        reported = found.group(1) if found else None
        if result.returncode != 0 or reported != source.stamp:
            return f"reports version {reported!r} (exit {result.returncode}), not {source.stamp!r}"
        return None


def ldflags(source: IstioSource) -> str:
    """``-s -w`` and the ``pkg/version`` stamps: version, commit, and tree state."""
    stamps = {
        "buildVersion": source.stamp,
        "buildGitRevision": source.revision,
        "buildStatus": "Modified" if source.dirty_digest else "Clean",
        "buildTag": source.stamp,
    }
    return " ".join(["-s", "-w", *(f"-X {VERSION_PACKAGE}.{key}={value}" for key, value in stamps.items())])


def _one_line(error: object) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 300 else text[:297] + "..."
