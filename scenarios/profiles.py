"""Istio release profiles: what differs between Istio minor releases (versions.yaml's
``istio.releases`` table, typed and validated; scenarios/releases.py builds the pins from them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from scenarios.procedure import GuideRevisions, Procedure, parse_guide_revisions
from scenarios.versions import VersionError

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


def minor_tuple(text: str) -> tuple[int, int]:
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
    # The guide revisions the release can be certified with, and its default one.
    guides: GuideRevisions
    supported: bool
    candidate: bool
    # Past its end of life (versions.yaml istio.past_end_of_life): certifiable on request only.
    past_end_of_life: bool = False

    @property
    def procedure(self) -> Procedure:
        """The procedure of the release's default guide revision."""
        return self.guides.get(None)

    def guide_error(self, name: str) -> str | None:
        """Why this release cannot follow guide revision ``name``; None when it can."""
        if name in self.guides.revisions:
            return None
        return (
            f"Istio {self.minor} cannot follow guide revision {name!r} (--guide-revision): its guide revisions are "
            f"{', '.join(self.guides.names)} (default {self.guides.default})"
        )

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
            (minor for minor in images if self.kubernetes.allows(minor_tuple(minor))),
            key=minor_tuple,
        )
        if not allowed:
            raise VersionError(
                f"no pinned kind node image for Istio {self.minor}: it supports Kubernetes "
                f"{self.kubernetes}, pinned images are for {', '.join(sorted(images, key=minor_tuple))}; "
                "pass --kind-node-image kindest/node:vX.Y.Z@sha256:... or pin one in versions.yaml"
            )
        return images[allowed[-1]]


def parse_profile(
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
            kubernetes=KubernetesRange(minor_tuple(k8s["min"]), minor_tuple(k8s["max"])),
            sample_client=raw["sample_client"],
            injection_url_form=raw["injection_url_form"],
            remote_secret_command=tuple(raw["remote_secret_command"]),
            remote_profile=raw["remote_profile"],
            config_cluster_flag=bool(raw["config_cluster_flag"]),
            sail_chart_version=raw["sail_chart_version"],
            sail_istio_up_to=raw["sail_istio_up_to"],
            hub=raw["hub"],
            native_sidecars_since_kubernetes=minor_tuple(native) if native is not None else None,
            gateway_api_version=raw["gateway_api_version"],
            guides=parse_guide_revisions(raw["procedure"]),
            supported=supported,
            candidate=candidate,
            past_end_of_life=retired,
        )
    except KeyError as missing:
        raise ValueError(f"versions.yaml: Istio release {minor} lacks {missing}") from None
    except ValueError as error:
        raise ValueError(f"versions.yaml: Istio release {minor}: {error}") from None
