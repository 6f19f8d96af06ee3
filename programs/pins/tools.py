"""The tools' pins: the newest release of each tool's line (GitHub releases), and the checksums
that make a version acceptable.

A version is accepted only with a checksum of what the suite will run: the SHA-256 of its
release artifacts from the published checksum file (linux amd64 and arm64; cross-checked with
the digest GitHub lists for the asset, when it lists one), and/or the hash of its Go module
source from the Go checksum database (read through the module proxy, as ``go`` reads it; its
signed tree is checked by ``go`` itself when it builds, not here). What it got is written
beside the version (``sha256``, ``go_sum``); the resolver and the Go build refuse a binary or a
module that does not match (programs/tools.py, programs/gobuild.py). Where the newest release
cannot be verified, the newest one that can is proposed, and the other is reported.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from programs.downloads import sha256_in_checksums
from programs.github_releases import GithubRelease, releases_url
from programs.https_fetch import FetchError
from programs.pins.model import Change, Finding, Status, Upstream, checked
from programs.tools import expand_template

ARCHES = ("amd64", "arm64")
KWOK_KUBE_VERSION = "sigs.k8s.io/kwok/pkg/consts.KubeVersion"
_SEMVER = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")


@dataclass(frozen=True)
class Unit:
    """Tools released together: one repository, one version line, one version for all."""

    repo: str
    track: str  # "latest", "major" (same major: helm v3) or "minor" (same minor: Kubernetes 1.35)
    tools: tuple[str, ...]  # the first owns the pinned version; the others follow it
    versioned: tuple[str, ...] = ()  # entries that merge the first one's version (YAML anchors)
    extra: tuple[tuple[tuple[str, ...], str], ...] = ()  # other places holding the version


UNITS: dict[str, Unit] = {
    "kind": Unit("kubernetes-sigs/kind", "latest", ("kind",)),
    "cloud-provider-kind": Unit("kubernetes-sigs/cloud-provider-kind", "latest", ("cloud-provider-kind",)),
    "helm": Unit("helm/helm", "major", ("helm",)),
    # One Kubernetes release for kubectl and the kwok tier's control planes (and kwok's
    # KubeVersion): kube-controller-manager and kube-scheduler merge kube-apiserver's entry.
    "kubernetes": Unit(
        "kubernetes/kubernetes",
        "minor",
        ("kube-apiserver", "kubectl"),
        versioned=("kube-controller-manager", "kube-scheduler"),
        extra=((("tools", "kwok", "go_version_ldflags"), KWOK_KUBE_VERSION),),
    ),
    "etcd": Unit("etcd-io/etcd", "minor", ("etcd",)),
    "kwok": Unit("kubernetes-sigs/kwok", "latest", ("kwok",), versioned=("kwokctl",)),
    "actionlint": Unit("rhysd/actionlint", "latest", ("actionlint",)),
}


def module_proxy() -> str:
    """The module proxy ``go`` uses (the first of GOPROXY), default proxy.golang.org."""
    for entry in re.split(r"[,|]", os.environ.get("GOPROXY", "")):
        if entry.startswith("https://"):
            return entry.rstrip("/")
    return "https://proxy.golang.org"


def sumdb_url(module: str, version: str) -> str:
    escaped = re.sub(r"[A-Z]", lambda m: "!" + m[0].lower(), module)
    return f"{module_proxy()}/sumdb/sum.golang.org/lookup/{escaped}@{version}"


def _semver(tag: str) -> tuple[int, int, int] | None:
    match = _SEMVER.match(tag)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def candidates(releases: list[GithubRelease], pinned: str, track: str) -> list[str]:
    """GA versions of the tracked line newer than or equal to ``pinned``, newest first."""
    base = _semver(pinned)
    found = []
    for release in releases:
        version = _semver(release.tag)
        if not release.is_ga or version is None or base is None or version < base:
            continue
        if (track == "major" and version[0] != base[0]) or (track == "minor" and version[:2] != base[:2]):
            continue
        found.append(release.tag)
    return sorted(set(found), key=lambda tag: _semver(tag) or (0, 0, 0), reverse=True)


@dataclass
class Verified:
    version: str
    sha256: dict[str, dict[str, str]] = field(default_factory=dict)  # tool -> {linux-amd64: hex}
    go_sum: str | None = None
    sources: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def verify(
    unit: Unit,
    tools: dict[str, dict[str, Any]],
    version: str,
    release: GithubRelease | None,
    upstream: Upstream,
) -> Verified:
    found = Verified(version)
    for name in (*unit.tools, *unit.versioned):
        spec = tools[name]
        if not (spec.get("download_url") and spec.get("checksum_url")):
            continue
        for arch in ARCHES:
            artifact = expand_template(spec["download_url"], version, arch).rsplit("/", 1)[-1]
            url = expand_template(spec["checksum_url"], version, arch)
            try:
                sha = sha256_in_checksums(upstream.get(url).decode("utf-8", "replace"), artifact, url)
            except (FetchError, ValueError) as error:
                found.problems.append(f"{name} linux-{arch} checksum: {error}")
                continue
            listed = release.assets.get(artifact) if release else None
            if listed and listed != sha:
                found.problems.append(f"{artifact}: {url} says {sha}, GitHub's asset digest {listed}")
                continue
            found.sha256.setdefault(name, {})[f"linux-{arch}"] = sha
            found.sources.append(url)
    module = tools[unit.tools[0]].get("go_module")
    if module:
        url = sumdb_url(module, version)
        try:
            lines = upstream.get(url).decode("utf-8", "replace").splitlines()
            prefix = f"{module} {version} h1:"
            found.go_sum = next(line.split()[2] for line in lines if line.startswith(prefix))
            found.sources.append(url)
        except (FetchError, StopIteration) as error:
            found.problems.append(
                f"Go checksum database: {error if isinstance(error, FetchError) else 'no h1: line'}"
            )
    return found


def _changes(
    unit: Unit, tools: dict[str, dict[str, Any]], got: Verified, upstream: Upstream, moved: bool
) -> list[Change]:
    source = checked(upstream.today, releases_url(unit.repo))
    changes: list[Change] = []
    for name in unit.tools:
        if moved:
            changes.append(Change(("tools", name), "version", got.version, source))
        if got.go_sum and tools[name].get("go_sum") != got.go_sum:
            changes.append(Change(("tools", name), "go_sum", got.go_sum))
    for name in (*unit.tools, *unit.versioned):
        if got.sha256.get(name) and tools[name].get("sha256") != got.sha256[name]:
            changes.append(Change(("tools", name), "sha256", got.sha256[name]))
    if moved:
        changes += [Change(path, key, got.version) for path, key in unit.extra]
    return changes


def _summary(problems: list[str]) -> str:
    """The problems of one version in short: the network-level reasons, each once."""
    reasons = []
    for problem in problems:
        reason = problem.rsplit(": ", 1)[-1]
        if reason not in reasons:
            reasons.append(reason)
    return "; ".join(reasons) or "no release artifact is pinned (built from source)"


def tool_findings(tools: dict[str, dict[str, Any]], upstream: Upstream) -> list[Finding]:
    findings = []
    for label, unit in UNITS.items():
        if unit.tools[0] not in tools:
            continue
        pinned = str(tools[unit.tools[0]]["version"])
        source = releases_url(unit.repo)
        try:
            releases = upstream.releases(unit.repo)
        except (FetchError, ValueError) as error:
            findings.append(
                Finding(f"tool {label}", Status.UNVERIFIABLE, pinned, "unreadable", source, str(error))
            )
            continue
        by_tag = {release.tag: release for release in releases}
        skipped: list[str] = []
        for version in candidates(releases, pinned, unit.track) or [pinned]:
            got = verify(unit, tools, version, by_tag.get(version), upstream)
            if not got.sha256 and not got.go_sum:
                skipped.append(f"{version} ({_summary(got.problems)})")
                continue
            changes = _changes(unit, tools, got, upstream, moved=version != pinned)
            status = Status.STALE if version != pinned else Status.CURRENT
            if skipped:
                status = Status.UNVERIFIABLE if version == pinned else status
            detail = f"checksums from {', '.join(got.sources)}"
            if not got.sha256:
                detail += f"; no release artifact checksum ({_summary(got.problems)})"
            if changes and version == pinned:
                detail += "; checksums to pin: " + ", ".join(sorted({c.key for c in changes}))
            if skipped:
                detail = f"newer but unverifiable: {'; '.join(skipped)}; " + detail
            findings.append(Finding(f"tool {label}", status, pinned, version, source, detail, tuple(changes)))
            break
        else:
            newest = skipped[0].split(" ", 1)[0] if skipped else pinned
            findings.append(
                Finding(
                    f"tool {label}",
                    Status.UNVERIFIABLE,
                    pinned,
                    newest,
                    source,
                    "no checksum could be read: " + "; ".join(skipped),
                )
            )
    return findings
