"""Istio release profiles: every difference between Istio releases, keyed by minor version.

The table itself is data in ``versions.yaml`` (the one file that pins every version); this
module turns it into typed, validated profiles. Code elsewhere asks a profile
("which sample client?", "what injection path?") and never compares version numbers itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

VERSIONS_FILE = Path(__file__).resolve().parent.parent / "versions.yaml"

_VERSION_RE = re.compile(
    r"^(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)"
    r"(?:\.(?P<patch>0|[1-9]\d*)(?:-(?P<pre>(?:alpha|beta|rc)\.(?:0|[1-9]\d*)))?)?$"
)

InjectionUrlForm = Literal["path", "env"]
SampleClient = Literal["curl", "sleep"]


class VersionError(ValueError):
    """A malformed or unsupported Istio version; the message names the value and what is accepted."""


@dataclass(frozen=True, order=True)
class IstioVersion:
    """A parsed Istio version: ``1.31``, ``1.31.2``, ``1.31.0-rc.0``."""

    major: int
    minor: int
    patch: int | None = None
    prerelease: str | None = None

    @classmethod
    def parse(cls, text: str) -> IstioVersion:
        match = _VERSION_RE.match(text.strip().removeprefix("v"))
        if not match:
            raise VersionError(
                f"malformed Istio version {text!r}: expected MAJOR.MINOR, MAJOR.MINOR.PATCH or "
                "MAJOR.MINOR.PATCH-{alpha,beta,rc}.N (for example 1.31, 1.31.2, 1.31.0-rc.0)"
            )
        patch = match.group("patch")
        return cls(
            major=int(match.group("major")),
            minor=int(match.group("minor")),
            patch=int(patch) if patch is not None else None,
            prerelease=match.group("pre"),
        )

    @property
    def minor_key(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def is_full(self) -> bool:
        return self.patch is not None

    def __str__(self) -> str:
        text = self.minor_key
        if self.patch is not None:
            text += f".{self.patch}"
        if self.prerelease:
            text += f"-{self.prerelease}"
        return text


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
    latest_patch: str | None
    kubernetes: KubernetesRange
    sample_client: SampleClient
    injection_url_form: InjectionUrlForm
    remote_secret_command: tuple[str, ...]
    remote_profile: Literal["remote", "external"]
    config_cluster_flag: bool
    sail_chart_version: str | None
    hub: str
    native_sidecars_default: bool
    # Gateway API CRDs the release was built against (its go.mod), for the Gateway API ingress.
    gateway_api_version: str
    supported: bool
    candidate: bool

    def injection_path(self, cluster: str, network: str) -> str:
        """The sidecar injector path that carries the cluster and network of a remote cluster.

        Seed 001 (current): ``/inject/cluster/<cluster>/net/<network>``, with ``/`` in a cluster
        name spelt ``--slash--``; seeds 003/000 (older): ``/inject/:ENV:cluster=<c>:ENV:net=<n>``.
        """
        if self.injection_url_form == "path":
            return f"/inject/cluster/{cluster.replace('/', '--slash--')}/net/{network}"
        return f"/inject/:ENV:cluster={cluster}:ENV:net={network}"

    def sample_client_container(self) -> str:
        return self.sample_client

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


@dataclass(frozen=True)
class IstioRelease:
    """The Istio build under test: a version, its profile and, for custom builds, hub/tag/istioctl."""

    version: IstioVersion
    profile: ReleaseProfile
    hub: str
    tag: str
    istioctl_path: Path | None = None
    custom: bool = False

    @property
    def label(self) -> str:
        return f"{self.version}" + (f" (custom {self.hub}:{self.tag})" if self.custom else "")


@dataclass(frozen=True)
class Pins:
    """Everything in versions.yaml, parsed."""

    tools: dict[str, dict[str, Any]]
    kind_node_images: dict[str, str]
    offline_istioctl: dict[str, str]
    profiles: dict[str, ReleaseProfile] = field(default_factory=dict)
    supported: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()

    def profile(self, version: IstioVersion) -> ReleaseProfile:
        profile = self.profiles.get(version.minor_key)
        if profile is None or not (profile.supported or profile.candidate):
            accepted = ", ".join(self.supported) + (
                f" (candidates: {', '.join(self.candidates)})" if self.candidates else ""
            )
            raise VersionError(f"unsupported Istio version {version}: supported releases are {accepted}")
        return profile

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
        if not version.is_full:
            if profile.latest_patch is None:
                raise VersionError(
                    f"Istio {version} has no released patch pinned yet: give a full version "
                    f"such as {version}.0-rc.0"
                )
            version = IstioVersion.parse(profile.latest_patch)
        custom = bool(hub or tag or istioctl_path)
        return IstioRelease(
            version=version,
            profile=profile,
            hub=hub or profile.hub,
            tag=tag or str(version),
            istioctl_path=istioctl_path,
            custom=custom,
        )


def _parse_profile(minor: str, raw: dict[str, Any], supported: bool, candidate: bool) -> ReleaseProfile:
    try:
        k8s = raw["kubernetes"]
        return ReleaseProfile(
            minor=minor,
            latest_patch=raw["latest_patch"],
            kubernetes=KubernetesRange(_minor_tuple(k8s["min"]), _minor_tuple(k8s["max"])),
            sample_client=raw["sample_client"],
            injection_url_form=raw["injection_url_form"],
            remote_secret_command=tuple(raw["remote_secret_command"]),
            remote_profile=raw["remote_profile"],
            config_cluster_flag=bool(raw["config_cluster_flag"]),
            sail_chart_version=raw["sail_chart_version"],
            hub=raw["hub"],
            native_sidecars_default=bool(raw["native_sidecars_default"]),
            gateway_api_version=raw["gateway_api_version"],
            supported=supported,
            candidate=candidate,
        )
    except KeyError as missing:
        raise ValueError(f"versions.yaml: Istio release {minor} lacks {missing}") from None


def parse_pins(data: dict[str, Any]) -> Pins:
    istio = data["istio"]
    supported = tuple(istio["supported"])
    candidates = tuple(istio.get("candidates", ()))
    profiles = {
        minor: _parse_profile(minor, raw, minor in supported, minor in candidates)
        for minor, raw in istio["releases"].items()
    }
    unknown = [m for m in (*supported, *candidates) if m not in profiles]
    if unknown:
        raise ValueError(f"versions.yaml: supported/candidate releases without a profile: {unknown}")
    return Pins(
        tools=data["tools"],
        kind_node_images=dict(data["kind_node_images"]),
        offline_istioctl=dict(data.get("offline_istioctl", {})),
        profiles=profiles,
        supported=supported,
        candidates=candidates,
    )


@cache
def load_pins(path: Path = VERSIONS_FILE) -> Pins:
    with path.open(encoding="utf-8") as handle:
        return parse_pins(yaml.safe_load(handle))
