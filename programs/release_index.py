"""The newest patch at run time: ``--istio-version 1.31`` certifies 1.31's newest GA patch.

Where the run may download (no ``--no-download``) and is not ``--plan``, every release given as
a minor only (``1.31``, or the default) moves to the newest GA (neither draft nor pre-release)
patch of that minor in the istio/istio release index (its GitHub releases), never below the
pinned patch: the pin is the floor and the offline fallback. A full version (``1.31.2``) and a
custom build (``--istio-hub``/``--istio-tag``/``--istioctl``: the pin only names the profile)
are kept as given. ``--plan`` always renders the pins, so it stays offline and deterministic.

Each release records how its patch was chosen (``IstioRelease.resolution``), which the
conformance report carries. ``EICP_ISTIO_RELEASE_INDEX`` points the lookup elsewhere: ``off``
(the pins only), an ``https://`` URL, or a file holding a recorded response of the index (the
self-tests use that; they contact no address on their own).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from programs.github_releases import GithubRelease, parse_releases, releases_url
from programs.https_fetch import FetchError, HttpsFetcher
from run.config import SuiteConfig
from run.timeouts import RELEASE_INDEX
from scenarios.releases import PINNED_PATCH, IstioRelease, IstioVersion
from scenarios.versions import newest_ga_patch

INDEX_ENV = "EICP_ISTIO_RELEASE_INDEX"
ISTIO_REPO = "istio/istio"

# One resolved release, as the controller hands it to xdist workers: requested text -> (version, how).
Resolved = dict[str, tuple[str, str]]


def index_source() -> str | None:
    """Where the index is read from (``None``: the lookup is off)."""
    value = os.environ.get(INDEX_ENV, "").strip()
    if value.lower() == "off":
        return None
    return value or releases_url(ISTIO_REPO)


def read_index(source: str) -> list[GithubRelease]:
    """The releases of the index at ``source`` (an https URL or a recorded response's file)."""
    body = (
        HttpsFetcher(deadline_s=RELEASE_INDEX.seconds()).get(source)
        if source.startswith("https://")
        else Path(source).read_bytes()
    )
    return parse_releases(body)


def _needs_choice(release: IstioRelease | None) -> bool:
    return release is not None and release.minor_only and not release.custom


def resolve_newest_patches(config: SuiteConfig, now: dt.datetime | None = None) -> SuiteConfig:
    """``config`` with its minor-only releases at their newest GA patch (see the module doc)."""
    config = _note_custom_builds(config)
    wanted = [r for r in (*config.releases, config.upgrade_to) if _needs_choice(r)]
    if not wanted:
        return config
    source = index_source()
    reason = None
    if config.plan:
        reason = "--plan renders the pins (offline and deterministic)"
    elif not config.allow_download:
        reason = "--no-download"
    elif source is None:
        reason = f"the release index lookup is off ({INDEX_ENV}=off)"
    if reason is not None:
        return _with(config, lambda r: replace(r, resolution=f"{PINNED_PATCH}: {reason}"))
    assert source is not None
    try:
        tags = [release.tag for release in read_index(source) if release.is_ga]
    except (FetchError, OSError, ValueError) as error:
        detail = " ".join(str(error).split())[:200]
        how = f"{PINNED_PATCH}: the istio/istio release index could not be read ({detail}); the pin is the offline fallback"
        return _with(config, lambda r: replace(r, resolution=how))
    stamp = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0).isoformat().replace("+00:00", "Z")

    def choose(release: IstioRelease) -> IstioRelease:
        newest = newest_ga_patch(release.profile.minor, tags, release.version)
        if newest > release.version:
            return release.at_patch(
                newest, f"the newest GA patch in the istio/istio release index ({source}, read {stamp})"
            )
        return replace(
            release,
            resolution=f"{PINNED_PATCH}: the istio/istio release index ({source}, read {stamp}) has no newer GA patch",
        )

    chosen = _with(config, choose)
    target, first = chosen.upgrade_to, chosen.releases[0]
    if target is not None and len(chosen.releases) == 1 and target.version <= first.version:
        # The release to upgrade from never moves past the upgrade's target.
        kept = replace(
            config.releases[0],
            resolution=f"{PINNED_PATCH}: the release index's newest patch would not be older than --upgrade-to {target.version}",
        )
        chosen = replace(chosen, releases=(kept,))
    return chosen


def _note_custom_builds(config: SuiteConfig) -> SuiteConfig:
    """A custom build given as a minor keeps the pinned patch, which only names its profile."""
    how = f"{PINNED_PATCH}: a custom build (--istio-hub/--istio-tag/--istioctl), whose profile the pin names"

    def note(release: IstioRelease) -> IstioRelease:
        return replace(release, resolution=how) if release.minor_only and release.custom else release

    upgrade_to = note(config.upgrade_to) if config.upgrade_to is not None else None
    return replace(config, releases=tuple(map(note, config.releases)), upgrade_to=upgrade_to)


def resolved(config: SuiteConfig) -> Resolved:
    """What the controller chose, for its xdist workers (so every worker runs the same patch)."""
    return {
        r.requested: (str(r.version), r.resolution)
        for r in (*config.releases, config.upgrade_to)
        if r is not None and r.minor_only
    }


def apply_resolved(config: SuiteConfig, choices: Resolved) -> SuiteConfig:
    """A worker's config at the patches its controller chose."""

    def apply(release: IstioRelease) -> IstioRelease:
        version, how = choices.get(release.requested, (str(release.version), release.resolution))
        chosen = IstioVersion.parse(version)
        if chosen == release.version:
            return replace(release, resolution=how)
        return release.at_patch(chosen, how)

    return _with(config, apply)


def _with(config: SuiteConfig, change: Callable[[IstioRelease], IstioRelease]) -> SuiteConfig:
    def each(release: IstioRelease) -> IstioRelease:
        return change(release) if _needs_choice(release) else release

    releases: list[IstioRelease] = []
    for release in map(each, config.releases):
        if release not in releases:  # `1.31` may now name the same patch as a full version given
            releases.append(release)
    upgrade_to = each(config.upgrade_to) if config.upgrade_to is not None else None
    return replace(config, releases=tuple(releases), upgrade_to=upgrade_to)
