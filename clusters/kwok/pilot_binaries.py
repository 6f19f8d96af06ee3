"""Which pilot-discovery runs for an istiod image: the one built from the same Istio source as
the istioctl that installed it.

kwok runs no images, so the external istiod is the real ``pilot-discovery`` binary run as a
host process (clusters/kwok/istiod_host.py asks ``binary_for(image)``). The binary must be the
release's own: for a release the suite resolves istioctl for, ``pilot-discovery`` at that
release (a Go build of the same Istio revision, versions.yaml ``tools.pilot-discovery``); for an
Istio source (``--istio-source``), the one built from that source (programs/source_builds.py),
whose version stamp is the image tag the install pins; for a custom build (``--istioctl PATH``)
the version the custom istioctl reports (or ``--tool-path pilot-discovery=PATH`` for a build of
one's own). All are resolved before any cluster exists, so a missing one stops the session up
front. The same mapping, image tag -> binary, picks the synthetic proxy of a pod by the tag of
its injected proxy image (clusters/kwok/xds_proxies.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from programs.runner import CommandError, CommandRunner
from programs.tools import ToolResolver
from run.timeouts import KWOK_PILOT_VERSION
from scenarios.releases import IstioRelease

log = logging.getLogger("eicp.kwok")

TOOL = "pilot-discovery"


@dataclass(frozen=True)
class PilotSource:
    version: str  # what the binary reports (and its tools-cache key)
    go_revision: str | None = None  # the Go module revision, when not the version itself


def image_tag(image: str) -> str:
    """The tag of ``hub/pilot:TAG`` (a digest after ``@`` is ignored); ``""`` without one."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return name.rsplit(":", 1)[1] if ":" in name else ""


def custom_istioctl_version(runner: CommandRunner, istioctl: Path) -> str:
    result = runner.run(
        [str(istioctl), "version", "--remote=false", "--short"],
        timeout_s=KWOK_PILOT_VERSION.seconds(),
        title="which Istio source is the custom istioctl built from?",
        attach=False,
    )
    match = re.search(r"([0-9]+\.[0-9]+[^\s]*)", result.stdout)
    if match is None:
        raise ValueError(f"{istioctl} version --short printed no version: {result.stdout.strip()[:200]!r}")
    return match.group(1)


def pilot_source(release: IstioRelease, runner: CommandRunner) -> PilotSource:
    """The pilot-discovery version (and Go revision) of a release or custom build."""
    if release.istioctl_path is None:
        return PilotSource(str(release.version))
    return PilotSource(custom_istioctl_version(runner, release.istioctl_path))


def resolve_pilots(
    releases: Iterable[IstioRelease], tools: ToolResolver, runner: CommandRunner
) -> dict[str, Path]:
    """Image tag -> pilot-discovery binary, for every release the run installs."""
    found: dict[str, Path] = {}
    for release in releases:
        if release.source is not None:
            found[release.tag] = tools.resolve_source(TOOL, release.source).path
            log.info(
                "istiod image tag %s runs pilot-discovery built from Istio %s", release.tag, release.label
            )
            continue
        try:
            source = pilot_source(release, runner)
        except (CommandError, ValueError) as error:
            raise ValueError(
                f"Istio {release.label}: cannot tell which pilot-discovery goes with it: {error}"
            ) from None
        tool = tools.resolve(TOOL, source.version, go_revision=source.go_revision)
        log.info("istiod image tag %s runs pilot-discovery %s (%s)", release.tag, tool.version, tool.path)
        found[release.tag] = tool.path
    return found


def binary_for(pilots: Mapping[str, Path], what: str = TOOL) -> Callable[[str], Path]:
    """``image -> binary`` (pilot-discovery for clusters/kwok/istiod_host.py, the synthetic proxy
    for clusters/kwok/xds_proxies.py); an unknown tag is an error naming the tags the run knows."""

    def lookup(image: str) -> Path:
        tag = image_tag(image)
        if tag in pilots:
            return pilots[tag]
        raise ValueError(
            f"no {what} for image {image!r}: this run installs tag(s) {', '.join(sorted(pilots)) or 'none'}"
        )

    return lookup
