"""What a correctly installed scenario looks like: rendered with the steps, read by the checks.

The renderers (scenarios/<id>.py) fill these in from the same data they render manifests
from, so a check never re-derives a name or URL on its own and cannot drift from the install.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from scenarios.steps import Role

IngressKind = Literal["istio", "gateway-api"]


@dataclass(frozen=True)
class WebhookExpectation:
    """One webhook configuration expected on a remote cluster."""

    kind: Literal["mutating", "validating"]
    name: str
    webhook_count: int
    # Either a URL (DNS/TLS variant: injectionURL/validationURL) ...
    url: str | None = None
    # ... or the path on the external istiod reached through a service (IP variant).
    path: str | None = None
    # The scenario relies on a caBundle being set (patched by the external istiod or by the suite).
    ca_bundle_required: bool = True
    # Made by ``istioctl install`` itself, beside what ``istioctl manifest generate`` prints
    # (the default revision tag's webhooks): absent from the generated manifests.
    made_by_istioctl_install: bool = False


@dataclass(frozen=True)
class IngressExpectation:
    """Where the sample's ingress gateway lives and how to reach helloworld through it."""

    kind: IngressKind
    role: Role
    namespace: str
    service: str
    path: str = "/hello"
    # The Gateway API variant: the Gateway whose Deployment and Service (named ``service``)
    # the external istiod's gateway controller makes.
    gateway: str | None = None

    def workload(self) -> GatewayExpectation:
        """The gateway Deployment behind this ingress (named like its Service, in either variant)."""
        how = (
            f"made by the external istiod's gateway controller for Gateway {self.namespace}/{self.gateway}"
            if self.gateway
            else "installed with the gateway injection template"
        )
        return GatewayExpectation(self.role, self.namespace, self.service, self.service, "LoadBalancer", how)


@dataclass(frozen=True)
class GatewayExpectation:
    """A gateway Deployment on a remote cluster whose proxy the external istiod gives it: where
    it runs, the Service in front of it, and how it was installed (for messages)."""

    role: Role
    namespace: str
    deployment: str
    service: str
    service_type: Literal["LoadBalancer", "ClusterIP"]
    how: str


@dataclass(frozen=True)
class ScenarioExpectations:
    scenario: str
    istio_version: str
    proxy_image_tag: str
    external_namespace: str = "external-istiod"
    istiod_deployment: str = "istiod"
    # The external cluster's gateway that exposes istiod (15012/15017).
    gateway_namespace: str = "istio-system"
    gateway_service: str = "istio-ingressgateway"
    # Remote secrets on the external cluster: role -> (namespace, secret name).
    remote_secrets: dict[Role, tuple[str, str]] = field(default_factory=dict)
    webhooks: dict[Role, tuple[WebhookExpectation, ...]] = field(default_factory=dict)
    # Clusters whose API server holds the mesh config (validation webhook targets).
    config_clusters: tuple[Role, ...] = ("remote",)
    sample_namespace: str = "sample"
    client_app: str = "curl"
    # helloworld versions deployed per role (v1 in remote, v2 in second).
    workloads: dict[Role, tuple[str, ...]] = field(default_factory=dict)
    ingress: tuple[IngressExpectation, ...] = ()
    # The guide's optional egress gateway on the first remote (--egress-gateway), if installed.
    egress_gateway: GatewayExpectation | None = None
    # The address proxies must use for xDS: host:port of the external control plane.
    discovery_address: str = ""
    # The Istio "cluster" name each remote is known by (injection path, remote secret).
    cluster_names: dict[Role, str] = field(default_factory=dict)
    # The external istiod watches the labelled remote secrets of its own namespace on the external
    # cluster (LOCAL_CLUSTER_SECRET_WATCHER=true with EXTERNAL_ISTIOD=true).
    istiod_watches_own_namespace_secrets: bool = False
    # The config cluster's istio-kubeconfig Secret carries istio/multiCluster=true (as
    # create-remote-secret --type=config writes it; not with the unlabelled-config-secret workaround).
    config_secret_multicluster_label: bool = True
    # The external gateway re-originates TLS to istiod with the guide's DestinationRule (SIMPLE,
    # no CA): Istio has it verify istiod's certificate against the system roots.
    gateway_verifies_istiod_with_system_roots: bool = False
    # The plan runs on a remote an ``istioctl install`` that makes the default revision tag while
    # the guide's listing of that cluster's mutating webhooks names no tag (scenarios/default_tag.py).
    istioctl_install_adds_unlisted_revision_tag: bool = False

    @property
    def expected_versions(self) -> tuple[str, ...]:
        seen: list[str] = []
        for versions in self.workloads.values():
            seen.extend(version for version in versions if version not in seen)
        return tuple(sorted(seen))
