"""Which tools a run may use, and the last resort when no pinned one can be had: the one on PATH.

``RunToolResolver`` is the ``ToolResolver`` of a run (programs/tools.py) with two rules around it:

- tools the run's topology mode does not use are refused without trying anything (no kind,
  and no Go build of it, in existing or kwok mode, diagnostics included): ``refused``, from the
  providers' declared tools (clusters/providers.py ``refused_tools``);
- when the pinned version cannot be had (cache, download, Go build all failed) and no explicit
  path was given, a binary of that name on ``PATH`` is used if the version it reports is within
  the tool's skew policy, with a warning naming that version; otherwise the error lists it
  among the ways tried.

``reported_version`` is what a binary itself said about its version: reports name that, not
the version the suite asked for.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from programs.runner import CommandError
from programs.tools import ResolvedTool, ToolResolver, ToolSpec, ToolUnavailable, env_var_for
from run.timeouts import TOOL_VERSION

log = logging.getLogger("eicp.tools")

# How far a PATH binary's (major, minor) may be from the pinned one: kubectl follows the
# Kubernetes skew policy (one minor either way); istioctl must be the release itself (it
# installs its own version); others must be the pinned minor.
MINOR_SKEW = {"kubectl": 1, "helm": 99, "istioctl": 0, "kind": 0}
EXACT_PATCH = ("istioctl",)
# The control plane of a kwok cluster (kwok mode only); pilot-discovery comes per Istio release.
KWOK_MODE_TOOLS = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kwok",
    "kwokctl",
)


def reported_version(spec: ToolSpec, version_output: str) -> str | None:
    """The version the binary printed (``None`` when it has no version command to ask)."""
    match = re.search(spec.version_pattern, version_output)
    if match is None or match.group(1).startswith("--"):
        return None
    return match.group(1)


def _numbers(version: str) -> tuple[int, ...]:
    match = re.match(r"v?([0-9]+)\.([0-9]+)(?:\.([0-9]+))?", version)
    if match is None:
        return ()
    return tuple(int(part) for part in match.groups() if part is not None)


def skew_problem(name: str, reported: str, wanted: str) -> str | None:
    """Why ``reported`` may not stand in for ``wanted`` (``None`` when it may)."""
    have, want = _numbers(reported), _numbers(wanted)
    if len(have) < 2 or len(want) < 2:
        return f"reports {reported!r}, which cannot be compared with {wanted!r}"
    if have[0] != want[0]:
        return f"reports {reported}, another major version than the pinned {wanted}"
    allowed = MINOR_SKEW.get(name, 0)
    if abs(have[1] - want[1]) > allowed:
        return f"reports {reported}, more than {allowed} minor version(s) from the pinned {wanted}"
    if name in EXACT_PATCH and have != want:
        return f"reports {reported}; {name} must be exactly {wanted}"
    return None


@dataclass
class RunToolResolver(ToolResolver):
    """A run's tools: refuse the ones its mode does not use; fall back to PATH (see module doc)."""

    refused: dict[str, str] = field(default_factory=dict)  # tool -> why this run never uses it
    search_path: str | None = None  # PATH to search (default: the process's)
    path_fallbacks: list[str] = field(default_factory=list)  # warnings, for the reports

    def resolve(
        self, name: str, version: str | None = None, *, go_revision: str | None = None
    ) -> ResolvedTool:
        if name in self.refused:
            raise ToolUnavailable(name, version or "?", [("topology mode", self.refused[name])])
        try:
            return super().resolve(name, version, go_revision=go_revision)
        except ToolUnavailable as error:
            unavailable = error
        if name in self.explicit or os.environ.get(env_var_for(name)):
            raise unavailable  # an explicit path is the user's decision: never fall back
        tool = self._from_path(name, unavailable.version, unavailable.attempts)
        if tool is None:
            raise ToolUnavailable(name, unavailable.version, unavailable.attempts)
        return tool

    def _from_path(self, name: str, wanted: str, attempts: list[tuple[str, str]]) -> ResolvedTool | None:
        spec = self.specs.get(name)
        found = shutil.which(name, path=self.search_path)
        if spec is None or found is None:
            attempts.append(("PATH", f"no {name!r} on PATH"))
            return None
        how = f"PATH {found}"
        try:
            result = self.runner.run(
                [found, *spec.version_args],
                timeout_s=TOOL_VERSION.seconds(),
                title=f"{name} version check (PATH)",
                check=False,
                attach=False,
            )
        except CommandError as error:
            attempts.append((how, " ".join(str(error).split())[:300]))
            return None
        output = (result.stdout + result.stderr).strip()
        reported = reported_version(spec, output) if result.returncode == 0 else None
        if reported is None:
            attempts.append((how, f"no version to check (exit {result.returncode}): {output[:200]}"))
            return None
        problem = skew_problem(name, reported, wanted)
        if problem is not None:
            attempts.append((how, problem))
            return None
        warning = f"{name} {wanted} could not be had; using {found}, which reports {reported}"
        log.warning("%s", warning)
        self.path_fallbacks.append(warning)
        tool = ResolvedTool(name, reported, Path(found), "PATH", output)
        self._resolved[(name, wanted)] = tool
        if self.on_resolved is not None:
            self.on_resolved(tool)
        return tool
