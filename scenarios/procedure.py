"""The install procedure a release's guide documents, as named fields of its release profile.

Istio's external control plane guide changed between releases: seed 001 documents the current
procedure, seeds 000/003 the older one (up to 1.21). Each difference the renderers act on is
one field here, read from the ``procedure:`` block of a release in versions.yaml, so a
renderer asks "does this release's guide set LOCAL_CLUSTER_SECRET_WATCHER?" and never "is this
the current or the older release?".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from scenarios.steps import Role

GuideSeed = Literal["001", "000"]


@dataclass(frozen=True)
class SecondRemoteProcedure:
    """How the guide adds a second remote cluster ("Adding clusters to the mesh")."""

    # The cluster the second cluster's remote secret is applied to, and the step of "Register
    # the new cluster" that does it: 001 applies it to the external cluster after the cluster
    # is set up (step 6); 000/003 to the config cluster first (step 1, istio/istio#31946).
    secret_on: Role
    secret_step: int
    # 001 annotates the second cluster's external-istiod namespace with
    # topology.istio.io/controlPlaneClusters naming the config cluster.
    control_plane_annotation: bool
    # The file the guide writes the second cluster's IstioOperator to.
    file: str
    # The clusters the guide applies samples/multicluster/expose-services.yaml to.
    expose_services_on: tuple[Role, ...]

    @property
    def secret_first(self) -> bool:
        """The guide registers the secret before it sets the cluster up (its step 1)."""
        return self.secret_step == 1


@dataclass(frozen=True)
class Procedure:
    """The guide's procedure for one release."""

    # The seed whose text the steps cite.
    guide: GuideSeed
    # The config cluster is installed with --set values.defaultRevision=default, which also
    # installs the istiod-default-validator webhook configuration.
    remote_default_revision: bool
    # create-remote-secret --service-account for the config cluster's secret; None: the guide
    # passes none and istioctl creates its own service account on the config cluster.
    remote_secret_service_account: str | None
    # The external istiod runs with LOCAL_CLUSTER_SECRET_WATCHER=true.
    local_cluster_secret_watcher: bool
    # The external istiod's values set configValidation: false, multiCluster.clusterName and
    # network (the remote's cluster name and network).
    external_istiod_cluster_values: bool
    # istio-ingressgateway.yaml is installed with --set values.global.istioNamespace.
    ingress_gateway_istio_namespace_set: bool
    # The east-west gateways are generated with
    # --set values.gateways.istio-ingressgateway.injectionTemplate=gateway.
    eastwest_injection_template_set: bool
    second_remote: SecondRemoteProcedure

    @property
    def remote_secret_creates_service_account(self) -> bool:
        return self.remote_secret_service_account is None


def parse_procedure(raw: dict[str, Any]) -> Procedure:
    """The ``procedure:`` block of a release in versions.yaml (KeyError names a missing field)."""
    second = raw["second_remote"]
    return Procedure(
        guide=raw["guide"],
        remote_default_revision=bool(raw["remote_default_revision"]),
        remote_secret_service_account=raw["remote_secret_service_account"],
        local_cluster_secret_watcher=bool(raw["local_cluster_secret_watcher"]),
        external_istiod_cluster_values=bool(raw["external_istiod_cluster_values"]),
        ingress_gateway_istio_namespace_set=bool(raw["ingress_gateway_istio_namespace_set"]),
        eastwest_injection_template_set=bool(raw["eastwest_injection_template_set"]),
        second_remote=SecondRemoteProcedure(
            secret_on=second["secret_on"],
            secret_step=int(second["secret_step"]),
            control_plane_annotation=bool(second["control_plane_annotation"]),
            file=second["file"],
            expose_services_on=tuple(second["expose_services_on"]),
        ),
    )
