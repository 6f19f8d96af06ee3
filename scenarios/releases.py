"""Istio release profiles: every difference between Istio releases, keyed by minor version.

The table itself is data in ``versions.yaml`` (the one file that pins every version); this
module turns it into typed, validated profiles. Code elsewhere asks a profile
("which sample client?", "what injection path?") and never compares version numbers itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from scenarios.procedure import Procedure, SecondRemoteProcedure, parse_procedure
from scenarios.versions import IstioVersion, VersionError

VERSIONS_FILE = Path(__file__).resolve().parent.parent / "versions.yaml"

__all__ = [
    "GIVEN_IN_FULL",
    "PINNED_PATCH",
    "IstioRelease",
    "IstioVersion",
    "KubernetesRange",
    "Pins",
    "Procedure",
    "ReleaseProfile",
    "SecondRemoteProcedure",
    "VersionError",
    "load_pins",
    "parse_pins",
]

InjectionUrlForm = Literal["path", "env"]
SampleClient = Literal["curl", "sleep"]


@dataclass(frozen=True)
class KubernetesRange:
    minimum: tuple[int, int]
    maximum: tuple[int, int]

    def allows(self, minor: tuple[int, int]) -> bool:
        return self.minimum <= minor <= self.maximum

    def __str__(self) -> str:
        return f"{self.minimum[0]}.{self.minimum[1]}-{self.maximum[0]}.{self.maximum[1]}"


def _minor_tuple(text: str) -> tuple[int, int]:
    major, minor = text.split(".", 1)
    return int(major), int(minor)


@dataclass(frozen=True)
class ReleaseProfile:
    """What differs between Istio minor releases, as the seeds and upstream practice show it."""

    minor: str
    # The newest patch the release notes show (istio.io content/en/news/releases); None: none yet.
    latest_patch: str | None
    # The day upstream support ends (istio.io news/support); None: not announced yet.
    end_of_life: date | None
    kubernetes: KubernetesRange
    sample_client: SampleClient
    injection_url_form: InjectionUrlForm
    remote_secret_command: tuple[str, ...]
    remote_profile: Literal["remote", "external"]
    config_cluster_flag: bool
    # The published Sail Operator chart that installs this minor (None: none published), and the
    # newest patch of this minor its Istio CRD's spec.version accepts.
    sail_chart_version: str | None
    sail_istio_up_to: str | None
    # The default image hub (istioctl's and the charts' own default for the release).
    hub: str
    # Native sidecars (istio-proxy as a restartable init container) are on by default for
    # pods on kubelets of this Kubernetes minor or newer; None: off by default.
    native_sidecars_since_kubernetes: tuple[int, int] | None
    # Gateway API CRDs the release was built against (its go.mod), for the Gateway API ingress.
    gateway_api_version: str
    procedure: Procedure
    supported: bool
    candidate: bool
    # Past its end of life (versions.yaml istio.past_end_of_life): certifiable on request only.
    past_end_of_life: bool = False

    def injection_path(self, cluster: str, network: str) -> str:
        """The sidecar injector path that carries the cluster and network of a remote cluster.

        Seed 001 (current): ``/inject/cluster/<cluster>/net/<network>``, with ``/`` in a cluster
        name spelt ``--slash--``; seeds 003/000 (older): ``/inject/:ENV:cluster=<c>:ENV:net=<n>``.
        """
        if self.injection_url_form == "path":
            return f"/inject/cluster/{cluster.replace('/', '--slash--')}/net/{network}"
        return f"/inject/:ENV:cluster={cluster}:ENV:net={network}"

    def native_sidecars(self, kubelet_minor: tuple[int, int]) -> bool:
        """Whether injected pods on a kubelet of this Kubernetes minor get ``istio-proxy`` as a
        restartable init container (``initContainers`` with ``restartPolicy: Always``) rather than
        as a container: Istio turns native sidecars on by default since 1.28 where the kubelet
        is 1.33 or newer, which every pinned kind node image is. ``kubectl exec -c istio-proxy``
        reaches it either way; readers look for it in both lists."""
        since = self.native_sidecars_since_kubernetes
        return since is not None and kubelet_minor >= since

    def is_end_of_life(self, today: date) -> bool:
        return self.end_of_life is not None and today >= self.end_of_life

    def kind_node_image(self, images: dict[str, str]) -> str:
        """The newest pinned kind node image whose Kubernetes minor this release supports."""
        allowed = sorted(
            (minor for minor in images if self.kubernetes.allows(_minor_tuple(minor))),
            key=_minor_tuple,
        )
        if not allowed:
            raise VersionError(
                f"no pinned kind node image for Istio {self.minor}: it supports Kubernetes "
                f"{self.kubernetes}, pinned images are for {', '.join(sorted(images, key=_minor_tuple))}; "
                "pass --kind-node-image kindest/node:vX.Y.Z@sha256:... or pin one in versions.yaml"
            )
        return images[allowed[-1]]


# How a release's patch was chosen (IstioRelease.resolution; the conformance report says it).
GIVEN_IN_FULL = "given in full"
PINNED_PATCH = "the pinned patch (versions.yaml latest_patch)"


@dataclass(frozen=True)
class IstioRelease:
    """The Istio build under test: a version, its profile and, for custom builds, hub/tag/istioctl.

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
    requested: str = field(default="", compare=False)
    resolution: str = field(default=GIVEN_IN_FULL, compare=False)

    @property
    def minor_only(self) -> bool:
        """Whether the user named only the minor, so the patch is the suite's choice."""
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
        """The version as plans, reports and the HTML name it; pre-releases and custom builds say so."""
        text = str(self.version)
        if self.is_prerelease:
            text += " (pre-release)"
        if self.custom:
            text += f" (custom {self.hub}:{self.tag})"
        return text


@dataclass(frozen=True)
class Pins:
    """Everything in versions.yaml, parsed."""

    tools: dict[str, dict[str, Any]]
    kind_node_images: dict[str, str]
    offline_istioctl: dict[str, str]
    profiles: dict[str, ReleaseProfile] = field(default_factory=dict)
    supported: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()
    past_end_of_life: tuple[str, ...] = ()
    # Image registries Istio no longer serves (versions.yaml istio.retired_registries).
    retired_registries: tuple[str, ...] = ()

    def retired_registry_in(self, text: str) -> str | None:
        """The retired registry ``text`` (an image reference or hub) names, if any."""
        return next((r for r in self.retired_registries if text == r or text.startswith(r + "/")), None)

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
    ) -> IstioRelease:
        """Parse a user's ``--istio-version`` (plus custom-build overrides) into a release."""
        version = IstioVersion.parse(text)
        profile = self.profile(version)
        resolution = GIVEN_IN_FULL
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
        )

    def resolve_releases(
        self,
        texts: list[str] | tuple[str, ...],
        *,
        hub: str | None = None,
        tag: str | None = None,
        istioctl_path: Path | None = None,
    ) -> tuple[IstioRelease, ...]:
        """Resolve repeated ``--istio-version`` values; values naming the same release (``1.30``
        and its newest patch, say) run once, in the order first given."""
        releases: list[IstioRelease] = []
        for text in texts:
            release = self.resolve_release(text, hub=hub, tag=tag, istioctl_path=istioctl_path)
            if release not in releases:
                releases.append(release)
        return tuple(releases)


def _parse_profile(
    minor: str, raw: dict[str, Any], supported: bool, candidate: bool, retired: bool
) -> ReleaseProfile:
    try:
        k8s = raw["kubernetes"]
        native = raw["native_sidecars_since_kubernetes"]
        eol = raw["end_of_life"]
        return ReleaseProfile(
            minor=minor,
            latest_patch=raw["latest_patch"],
            end_of_life=date.fromisoformat(str(eol)) if eol is not None else None,
            kubernetes=KubernetesRange(_minor_tuple(k8s["min"]), _minor_tuple(k8s["max"])),
            sample_client=raw["sample_client"],
            injection_url_form=raw["injection_url_form"],
            remote_secret_command=tuple(raw["remote_secret_command"]),
            remote_profile=raw["remote_profile"],
            config_cluster_flag=bool(raw["config_cluster_flag"]),
            sail_chart_version=raw["sail_chart_version"],
            sail_istio_up_to=raw["sail_istio_up_to"],
            hub=raw["hub"],
            native_sidecars_since_kubernetes=_minor_tuple(native) if native is not None else None,
            gateway_api_version=raw["gateway_api_version"],
            procedure=parse_procedure(raw["procedure"]),
            supported=supported,
            candidate=candidate,
            past_end_of_life=retired,
        )
    except KeyError as missing:
        raise ValueError(f"versions.yaml: Istio release {minor} lacks {missing}") from None


def parse_pins(data: dict[str, Any]) -> Pins:
    istio = data["istio"]
    supported = tuple(istio["supported"])
    candidates = tuple(istio.get("candidates", ()))
    retired = tuple(istio.get("past_end_of_life", ()))
    profiles = {
        minor: _parse_profile(minor, raw, minor in supported, minor in candidates, minor in retired)
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
    return Pins(
        tools=data["tools"],
        kind_node_images=dict(data["kind_node_images"]),
        offline_istioctl=dict(data.get("offline_istioctl", {})),
        profiles=profiles,
        supported=supported,
        candidates=candidates,
        past_end_of_life=retired,
        retired_registries=registries,
    )


@cache
def load_pins(path: Path = VERSIONS_FILE) -> Pins:
    with path.open(encoding="utf-8") as handle:
        return parse_pins(yaml.safe_load(handle))
