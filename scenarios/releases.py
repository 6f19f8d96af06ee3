"""Istio releases and the pins: every difference between Istio releases, keyed by minor version.

The table itself is data in ``versions.yaml`` (the one file that pins every version); this
module turns it into typed, validated pins: the release profiles (scenarios/profiles.py), the
Istio sources (scenarios/sources.py) and the releases under test. Code elsewhere asks a profile
("which sample client?", "what injection path?") and never compares version numbers itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from scenarios.procedure import GuideRevisions, Procedure, SecondRemoteProcedure
from scenarios.profiles import KubernetesRange, ReleaseProfile, minor_tuple, parse_profile
from scenarios.sources import IstioSource, SourcePin, parse_sources
from scenarios.versions import IstioVersion, VersionError

VERSIONS_FILE = Path(__file__).resolve().parent.parent / "versions.yaml"

__all__ = [
    "GIVEN_IN_FULL",
    "PINNED_PATCH",
    "GuideRevisions",
    "IstioRelease",
    "IstioSource",
    "IstioVersion",
    "KubernetesRange",
    "Pins",
    "Procedure",
    "ReleaseProfile",
    "SecondRemoteProcedure",
    "SourcePin",
    "VersionError",
    "load_pins",
    "parse_pins",
]

# How a release's patch was chosen (IstioRelease.resolution; the conformance report says it).
GIVEN_IN_FULL = "given in full"
PINNED_PATCH = "the pinned patch (versions.yaml latest_patch)"


@dataclass(frozen=True)
class IstioRelease:
    """The Istio build under test: a version, its profile and, for custom builds, hub/tag/istioctl;
    or an Istio source (``--istio-source``): its VERSION file's minor and profile, built from it.

    ``requested`` is the ``--istio-version`` text it came from (``1.31`` or ``1.31.3``) and
    ``resolution`` how its patch was chosen; neither takes part in equality, so ``1.31`` and
    the patch it resolves to name one release.
    """

    version: IstioVersion
    profile: ReleaseProfile
    hub: str
    tag: str
    istioctl_path: Path | None = None
    custom: bool = False
    source: IstioSource | None = None
    requested: str = field(default="", compare=False)
    resolution: str = field(default=GIVEN_IN_FULL, compare=False)
    # The guide revision chosen with --guide-revision; None: the release's default one.
    guide: str | None = None

    @property
    def procedure(self) -> Procedure:
        """The procedure of the guide revision this release is certified with."""
        return self.profile.guides.get(self.guide)

    @property
    def minor_only(self) -> bool:
        """Whether the user named only the minor, so the patch is the suite's choice."""
        if self.source is not None:
            return False  # an Istio source has no patch to choose
        return self.requested != "" and not IstioVersion.parse(self.requested).is_full

    def at_patch(self, version: IstioVersion, resolution: str) -> IstioRelease:
        """The same release request at another patch of its minor (a release's tag is its version)."""
        if version.minor_key != self.profile.minor:
            raise VersionError(f"Istio {version} is not a patch of {self.profile.minor}")
        return replace(
            self, version=version, tag=self.tag if self.custom else str(version), resolution=resolution
        )

    @property
    def is_prerelease(self) -> bool:
        return self.version.is_prerelease

    @property
    def label(self) -> str:
        """The version as plans, reports and the HTML name it; pre-releases, custom builds and
        sources say so (a source is never named as a release)."""
        if self.source is not None:
            return self.source.label
        text = str(self.version)
        if self.is_prerelease:
            text += " (pre-release)"
        if self.custom:
            text += f" (custom {self.hub}:{self.tag})"
        return text

    @property
    def version_text(self) -> str:
        """What plans and plan.yaml give as the version: ``1.30.5``, or a source's label."""
        return self.source.label if self.source is not None else str(self.version)

    @property
    def slug(self) -> str:
        """How run labels, diagnostics directories and test ids name it: ``1.30.5``,
        ``1.30.5-custom``, ``1.31-source-eed52ebb``."""
        if self.source is not None:
            return self.source.slug
        return str(self.version) + ("-custom" if self.custom else "")

    @property
    def reported_version(self) -> str:
        """What its istioctl, pilot-discovery and injected proxies report: the version, or a
        source's version stamp (``1.31-dev.eed52ebb66ad``)."""
        return self.source.stamp if self.source is not None else str(self.version)

    @property
    def pins_build(self) -> bool:
        """Whether the install pins hub and tag (custom builds and sources) instead of leaving
        them to istioctl's defaults."""
        return self.custom or self.source is not None

    def order_key(self) -> tuple[Any, ...]:
        """Releases order by version; a source sorts before every patch of its minor, and
        sources of one minor by commit date."""
        source = self.source.order_key() if self.source is not None else ("", "")
        return (self.version.sort_key(), source)

    def is_newer_than(self, other: IstioRelease) -> bool:
        return self.order_key() > other.order_key()


@dataclass(frozen=True)
class Pins:
    """Everything in versions.yaml, parsed."""

    tools: dict[str, dict[str, Any]]
    kind_node_images: dict[str, str]
    profiles: dict[str, ReleaseProfile] = field(default_factory=dict)
    supported: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()
    past_end_of_life: tuple[str, ...] = ()
    # Image registries Istio no longer serves (versions.yaml istio.retired_registries).
    retired_registries: tuple[str, ...] = ()

    def retired_registry_in(self, text: str) -> str | None:
        """The retired registry ``text`` (an image reference or hub) names, if any."""
        return next((r for r in self.retired_registries if text == r or text.startswith(r + "/")), None)

    # istio_sources: the Istio sources versions.yaml knows (by Go module version), the one the
    # offline and control-plane tiers certify per minor, and the older one their upgrade starts from.
    sources: dict[str, SourcePin] = field(default_factory=dict)
    tier_sources: dict[str, str] = field(default_factory=dict)
    upgrade_from_source: str | None = None

    def tier_source(self, minor: str | None = None) -> str:
        """The Go module version of the source the tiers certify for ``minor`` (default: the
        newest minor that has one)."""
        if not self.tier_sources:
            raise VersionError("versions.yaml pins no Istio source for the offline tier (istio_sources.tier)")
        key = minor or max(self.tier_sources, key=minor_tuple)
        if key not in self.tier_sources:
            raise VersionError(
                f"versions.yaml pins no Istio source for {key} (istio_sources.tier has "
                f"{', '.join(sorted(self.tier_sources, key=minor_tuple))})"
            )
        return self.tier_sources[key]

    def source_release(self, source: IstioSource, guide: str | None = None) -> IstioRelease:
        """The release a source is certified as: its VERSION file's profile (refused, naming the
        accepted minors, when there is none), the source's stamp as the image tag; ``guide``: the
        guide revision of ``--guide-revision`` (None: the profile's default one)."""
        try:
            version = IstioVersion.parse(source.version_file)
        except VersionError:
            raise VersionError(
                f"Istio source {source.spec}: its VERSION file holds {source.version_file!r}, not "
                "MAJOR.MINOR; no release profile can be chosen for it"
            ) from None
        try:
            profile = self.profile(IstioVersion(version.major, version.minor))
        except VersionError as error:
            raise VersionError(
                f"Istio source {source.spec}: its VERSION file says {source.version_file}, which has "
                f"no release profile ({error})"
            ) from None
        if guide is not None and (refusal := profile.guide_error(guide)):
            raise VersionError(f"Istio source {source.spec}: {refusal}")
        return IstioRelease(
            version=IstioVersion(version.major, version.minor),
            profile=profile,
            hub=profile.hub,
            tag=source.stamp,
            source=source,
            requested=source.spec,
            resolution=f"an Istio source: no patch; its VERSION file ({source.version_file}) names the profile",
            guide=guide,
        )

    def profile(self, version: IstioVersion) -> ReleaseProfile:
        profile = self.profiles.get(version.minor_key)
        if profile is None or not (profile.supported or profile.candidate or profile.past_end_of_life):
            accepted = ", ".join(self.supported)
            if self.candidates:
                accepted += f" (candidates: {', '.join(self.candidates)})"
            if self.past_end_of_life:
                accepted += f" (past their end of life, on request: {', '.join(self.past_end_of_life)})"
            raise VersionError(f"unsupported Istio version {version}: supported releases are {accepted}")
        return profile

    def default_version(self) -> str:
        """The default ``--istio-version``: the newest GA patch of a supported release, never a
        pre-release (a supported minor whose newest pinned patch is a pre-release is skipped)."""
        for minor in reversed(self.supported):
            patch = self.profiles[minor].latest_patch
            if patch is not None and not IstioVersion.parse(patch).is_prerelease:
                return patch
        raise VersionError("versions.yaml pins no GA patch of any supported Istio release")

    def nightly(self, today: date) -> tuple[str, ...]:
        """The supported minors the nightly matrix certifies: those not past their end of life
        (a minor is moved to ``past_end_of_life`` once its date passes; a self-test checks it)."""
        return tuple(m for m in self.supported if not self.profiles[m].is_end_of_life(today))

    def support_problems(self, today: date) -> list[str]:
        """What is out of date in the support lists on ``today``: a supported minor (the nightly
        matrix and the default) past its end of life, or a past-end-of-life one that is not yet."""
        problems = []
        for minor in self.supported:
            eol = self.profiles[minor].end_of_life
            if eol is not None and today >= eol:
                problems.append(
                    f"Istio {minor} reached its end of life on {eol.isoformat()} but is in istio.supported "
                    "(the nightly matrix and the default): move it to istio.past_end_of_life in "
                    "versions.yaml (python -m programs.pins update does)"
                )
        for minor in self.past_end_of_life:
            eol = self.profiles[minor].end_of_life
            if eol is not None and today < eol:
                problems.append(
                    f"Istio {minor} is listed past its end of life, which is {eol.isoformat()}: "
                    "keep it in istio.supported until then"
                )
        return problems

    def end_of_life_warning(self, release: IstioRelease, today: date) -> str | None:
        """A warning for a release whose minor is past its end of life (it stays selectable)."""
        profile = release.profile
        if profile.end_of_life is None or not profile.is_end_of_life(today):
            return None
        return (
            f"Istio {profile.minor} reached its end of life on {profile.end_of_life.isoformat()} "
            f"(istio.io support policy): {release.version} gets no more fixes, and the nightly matrix "
            "no longer certifies it"
        )

    def resolve_release(
        self,
        text: str,
        *,
        hub: str | None = None,
        tag: str | None = None,
        istioctl_path: Path | None = None,
        guide: str | None = None,
    ) -> IstioRelease:
        """Parse a user's ``--istio-version`` (plus custom-build overrides and the guide
        revision of ``--guide-revision``) into a release."""
        version = IstioVersion.parse(text)
        profile = self.profile(version)
        resolution = GIVEN_IN_FULL
        if guide is not None and (refusal := profile.guide_error(guide)):
            raise VersionError(refusal)
        if not version.is_full:
            if profile.latest_patch is None:
                raise VersionError(
                    f"Istio {version} has no released patch pinned yet: give a full version "
                    f"such as {version}.0-rc.0"
                )
            version = IstioVersion.parse(profile.latest_patch)
            resolution = PINNED_PATCH
        custom = bool(hub or tag or istioctl_path)
        return IstioRelease(
            version=version,
            profile=profile,
            hub=hub or profile.hub,
            tag=tag or str(version),
            istioctl_path=istioctl_path,
            custom=custom,
            requested=text.strip(),
            resolution=resolution,
            guide=guide,
        )

    def guide_revisions(self) -> tuple[str, ...]:
        """Every guide revision a release the options accept offers (supported, candidate, or
        past its end of life), in table order."""
        names: dict[str, None] = {}
        for profile in self.profiles.values():
            if profile.supported or profile.candidate or profile.past_end_of_life:
                names.update(dict.fromkeys(profile.guides.names))
        return tuple(names)

    def resolve_releases(
        self,
        texts: list[str] | tuple[str, ...],
        *,
        hub: str | None = None,
        tag: str | None = None,
        istioctl_path: Path | None = None,
        guide: str | None = None,
    ) -> tuple[IstioRelease, ...]:
        """Resolve repeated ``--istio-version`` values; values naming the same release (``1.30``
        and its newest patch, say) run once, in the order first given."""
        releases: list[IstioRelease] = []
        for text in texts:
            release = self.resolve_release(text, hub=hub, tag=tag, istioctl_path=istioctl_path, guide=guide)
            if release not in releases:
                releases.append(release)
        return tuple(releases)


def parse_pins(data: dict[str, Any]) -> Pins:
    istio = data["istio"]
    supported = tuple(istio["supported"])
    candidates = tuple(istio.get("candidates", ()))
    retired = tuple(istio.get("past_end_of_life", ()))
    profiles = {
        minor: parse_profile(minor, raw, minor in supported, minor in candidates, minor in retired)
        for minor, raw in istio["releases"].items()
    }
    listed = (*supported, *candidates, *retired)
    unknown = [m for m in listed if m not in profiles]
    if unknown:
        raise ValueError(
            f"versions.yaml: supported/candidate/past-end-of-life releases without a profile: {unknown}"
        )
    twice = sorted({m for m in listed if listed.count(m) > 1})
    if twice:
        raise ValueError(
            f"versions.yaml: releases in more than one of supported/candidates/past_end_of_life: {twice}"
        )
    registries = tuple(istio.get("retired_registries", ()))
    on_retired = [
        m for m, p in profiles.items() if any(p.hub == r or p.hub.startswith(r + "/") for r in registries)
    ]
    if on_retired:
        raise ValueError(f"versions.yaml: releases whose hub is a retired registry: {on_retired}")
    undated = [m for m in retired if profiles[m].end_of_life is None]
    if undated:
        raise ValueError(f"versions.yaml: past_end_of_life releases without an end_of_life date: {undated}")
    known, tier, upgrade_from = parse_sources(data.get("istio_sources") or {})
    return Pins(
        tools=data["tools"],
        kind_node_images=dict(data["kind_node_images"]),
        profiles=profiles,
        supported=supported,
        candidates=candidates,
        past_end_of_life=retired,
        retired_registries=registries,
        sources=known,
        tier_sources=tier,
        upgrade_from_source=upgrade_from,
    )


@cache
def load_pins(path: Path = VERSIONS_FILE) -> Pins:
    with path.open(encoding="utf-8") as handle:
        return parse_pins(yaml.safe_load(handle))
