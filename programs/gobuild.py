"""Go builds of pinned tools: in the module's own directory, or through a generated wrapper module.

Two ways, chosen per tool in versions.yaml (``go_build``):

- ``module`` (the default): ``go mod download`` the module, then ``go build`` the package in
  the module's own directory with its own go.mod and go.sum. This works for Istio's
  non-semver revisions and for source snapshots whose dependencies the checksum database does
  not know (they are verified against the module's own go.sum instead).
- ``wrapper``: a throw-away main module, written into a temporary directory at build time,
  that requires the tool's module and imports the package to build. This is how a module that
  cannot be built in its own directory is built: etcd's server (its go.mod points at sibling
  directories absent from the module zip) and Kubernetes (its go.mod replaces every staging
  module with ``./staging/...``). With ``go_wrapper_pin_local_replaces`` every module that
  the tool's go.mod requires and replaces with a local path is required, and replaced, at
  that version (``v0.{minor}.{patch}`` for Kubernetes' staging modules), which is what the
  Kubernetes release itself ships; a module it only replaces (Kubernetes' sample-cli-plugin,
  sample-controller) is in no build graph, so it is left out.

Every build uses ``CGO_ENABLED=0 -trimpath -ldflags "-s -w -X ..."``: static, reproducible
binaries whose version variables say what they were built from. The Go module and build
caches make a rebuild of the same version take seconds; the binary itself is cached by the
caller (the tools cache, keyed by version).
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from programs.runner import CommandError, CommandRunner
from run.timeouts import GO_BUILD

log = logging.getLogger("eicp.tools")

GO_ENV = {"CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
WRAPPER_MODULE = "eicp.local/gowrap"
WRAPPER_GO_VERSION = "1.25"
_LOCAL_REPLACE = re.compile(r"^\s*(?:replace\s+)?(\S+)(?:\s+\S+)?\s+=>\s+(\./\S+|\.\./\S+)\s*$")


class GoBuildError(RuntimeError):
    """A Go build failed; the message is one line saying why (safe to show)."""


@dataclass(frozen=True)
class GoRecipe:
    """How to build one tool at one revision."""

    module: str
    revision: str
    package: str
    method: str  # "module" or "wrapper"
    ldflags: Mapping[str, str]  # -X symbol -> value (already expanded)
    pin_local_replaces: str | None = None  # version for locally replaced modules (wrapper only)
    expected_sum: str | None = None  # the module's hash versions.yaml pins (go_sum), if any


def local_replaces(go_mod: str) -> list[str]:
    """Modules a go.mod replaces with a local directory (``X => ./staging/src/X``), in order."""
    found: list[str] = []
    in_block = False
    for raw in go_mod.splitlines():
        line = raw.split("//", 1)[0].rstrip()
        stripped = line.strip()
        if stripped.startswith("replace ("):
            in_block = True
            continue
        if in_block and stripped == ")":
            in_block = False
            continue
        if not (in_block or stripped.startswith("replace ")):
            continue
        match = _LOCAL_REPLACE.match(stripped)
        if match and match[1] not in found:
            found.append(match[1])
    return found


_REQUIRE = re.compile(r"^\s*(?:require\s+)?([^\s()]+)\s+(v\S+)\s*$")


def required_modules(go_mod: str) -> set[str]:
    """Modules a go.mod requires (``require X v1.2.3``, single or in a block)."""
    found: set[str] = set()
    in_block = False
    for raw in go_mod.splitlines():
        stripped = raw.split("//", 1)[0].strip()
        if stripped.startswith("require ("):
            in_block = True
            continue
        if in_block and stripped == ")":
            in_block = False
            continue
        if in_block or stripped.startswith("require "):
            match = _REQUIRE.match(stripped)
            if match:
                found.add(match[1])
    return found


def pinned_local_replaces(go_mod: str, version: str) -> dict[str, str]:
    """The modules a wrapper pins at ``version``: those the go.mod requires and replaces locally."""
    required = required_modules(go_mod)
    return {name: version for name in local_replaces(go_mod) if name in required}


def wrapper_go_mod(module: str, revision: str, pinned: Mapping[str, str]) -> str:
    """The wrapper's go.mod: require the tool's module, and pin (require + replace) ``pinned``."""
    lines = [f"module {WRAPPER_MODULE}", "", f"go {WRAPPER_GO_VERSION}", "", f"require {module} {revision}"]
    if pinned:
        lines += ["", "require ("]
        lines += [f"\t{name} {version}" for name, version in pinned.items()]
        lines += [")", "", "replace ("]
        lines += [f"\t{name} => {name} {version}" for name, version in pinned.items()]
        lines.append(")")
    return "\n".join(lines) + "\n"


def wrapper_tools_go(package: str) -> str:
    return f'//go:build tools\n\npackage tools\n\nimport _ "{package}"\n'


def ldflags_arg(ldflags: Mapping[str, str]) -> str:
    return " ".join(["-s", "-w", *(f"-X {symbol}={value}" for symbol, value in ldflags.items())])


@dataclass
class GoBuilder:
    runner: CommandRunner
    go: str
    scratch_root: Path  # where wrapper modules are written (a temporary directory each build)

    def download(self, module: str, revision: str) -> dict[str, str]:
        """``go mod download -json``: the module's Dir, GoMod and Info paths."""
        try:
            listing = self.runner.run(
                [self.go, "mod", "download", "-json", f"{module}@{revision}"],
                timeout_s=GO_BUILD.seconds(),
                title=f"go mod download {module}@{revision}",
                check=False,
                env=GO_ENV,
            )
            info = json.loads(listing.stdout or "{}")
        except json.JSONDecodeError as error:
            raise GoBuildError(f"go mod download printed no JSON: {error}") from None
        if listing.returncode != 0 or "Dir" not in info:
            raise GoBuildError(one_line(info.get("Error") or listing.stderr or "no module directory"))
        return {key: str(value) for key, value in info.items() if isinstance(value, str)}

    def build(self, recipe: GoRecipe, output: Path, title: str) -> None:
        """Build ``recipe`` into ``output`` (raise ``GoBuildError`` with the reason)."""
        info = self.download(recipe.module, recipe.revision)
        if recipe.expected_sum and info.get("Sum") != recipe.expected_sum:
            raise GoBuildError(
                f"{recipe.module}@{recipe.revision} has module hash {info.get('Sum') or 'none'}, "
                f"not the {recipe.expected_sum} versions.yaml pins (go_sum)"
            )
        log.info(
            "%s (%s build of %s@%s; minutes when the Go caches are cold)",
            title,
            recipe.method,
            recipe.module,
            recipe.revision,
        )
        stamped = {
            symbol: value.replace("{module_time}", module_time(info))
            for symbol, value in recipe.ldflags.items()
        }
        command = [self.go, "build", "-trimpath", "-ldflags", ldflags_arg(stamped), "-o", str(output)]
        try:
            if recipe.method == "module":
                self.runner.run(
                    [*command, recipe.package],
                    cwd=Path(info["Dir"]),
                    timeout_s=GO_BUILD.seconds(),
                    title=title,
                    env=GO_ENV,
                )
                return
            if recipe.method != "wrapper":
                raise GoBuildError(f"unknown go_build method {recipe.method!r} (module or wrapper)")
            pinned: dict[str, str] = {}
            if recipe.pin_local_replaces:
                go_mod = Path(info["GoMod"]).read_text(encoding="utf-8")
                pinned = pinned_local_replaces(go_mod, recipe.pin_local_replaces)
            self.scratch_root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix="gowrap-", dir=self.scratch_root) as scratch:
                root = Path(scratch)
                (root / "go.mod").write_text(wrapper_go_mod(recipe.module, recipe.revision, pinned))
                (root / "tools.go").write_text(wrapper_tools_go(recipe.package))
                self.runner.run(
                    [self.go, "mod", "tidy"],
                    cwd=root,
                    timeout_s=GO_BUILD.seconds(),
                    title=f"go mod tidy (wrapper of {recipe.module}@{recipe.revision})",
                    env=GO_ENV,
                )
                self.runner.run(
                    [*command, recipe.package],
                    cwd=root,
                    timeout_s=GO_BUILD.seconds(),
                    title=title,
                    env=GO_ENV,
                )
        except CommandError as error:
            raise GoBuildError(one_line(error.stderr_tail or str(error))) from None
        except OSError as error:
            raise GoBuildError(one_line(error)) from None


def module_time(info: Mapping[str, str]) -> str:
    """The module version's commit time from its ``.info`` file (``""`` if unknown)."""
    path = info.get("Info")
    if not path:
        return ""
    try:
        return str(json.loads(Path(path).read_text(encoding="utf-8")).get("Time", ""))
    except (OSError, json.JSONDecodeError):
        return ""


def one_line(error: object) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 300 else text[:297] + "..."
