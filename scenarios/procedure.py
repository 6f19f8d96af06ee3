"""The install procedure a guide revision documents, as named fields of the release table.

Istio's external control plane guide changed over time: seeds 000/003 document the older
procedure (up to 1.21), seed 001 the guide as the suite was seeded with it, and istio.io's page
as it stands today (revision ``istio.io-6129086``) changed seed 001 again. A release offers one
or more of these revisions (``procedure.revisions`` of its versions.yaml entry) and follows one
by default (``procedure.default``); ``--guide-revision`` selects another. Each difference the
renderers act on is one field here, so a renderer asks "does this guide install the remote
profile with istioctl install?" and never "is this the current or the older release?".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

from scenarios.steps import Role

RemoteInstall = Literal["manifest-generate", "istioctl-install"]
Cleanup = Literal["manifest-generate-delete", "uninstall-purge"]
REMOTE_INSTALLS: tuple[RemoteInstall, ...] = ("manifest-generate", "istioctl-install")
CLEANUPS: tuple[Cleanup, ...] = ("manifest-generate-delete", "uninstall-purge")


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
class RoutingApis:
    """The apiVersion of each object of external-istiod-gw.yaml."""

    gateway: str
    virtual_service: str
    destination_rule: str


@dataclass(frozen=True)
class Procedure:
    """The procedure one guide revision documents."""

    # The revision's name: what --guide-revision takes and every step's citation starts with.
    guide: str
    # How the remote config cluster and the second remote get the remote profile:
    # ``istioctl manifest generate ... | kubectl apply`` (seeds) or ``istioctl install`` (today).
    remote_install: RemoteInstall
    # The guide's listing of the config cluster's mutating webhooks adds the default revision
    # tag istioctl install creates (istio-revision-tag-default-external-istiod).
    config_cluster_revision_tag_webhook: bool
    # The config cluster is installed with --set values.defaultRevision=default, which also
    # installs the istiod-default-validator webhook configuration.
    remote_default_revision: bool
    # ``kubectl create sa istiod-service-account`` on the external cluster before the config
    # cluster's remote secret.
    external_istiod_service_account_step: bool
    # create-remote-secret --service-account for the config cluster's secret; None: the guide
    # passes none and istioctl creates its own service account on the config cluster.
    remote_secret_service_account: str | None
    # The external istiod runs with LOCAL_CLUSTER_SECRET_WATCHER=true.
    local_cluster_secret_watcher: bool
    # The external istiod's values set configValidation: false, multiCluster.clusterName and
    # network (the remote's cluster name and network).
    external_istiod_cluster_values: bool
    # The external istiod's values set global.externalIstiod: true.
    external_istiod_value: bool
    routing_api_versions: RoutingApis
    # istio-ingressgateway.yaml is installed with --set values.global.istioNamespace.
    ingress_gateway_istio_namespace_set: bool
    # metadata.name of istio-ingressgateway.yaml (None: unnamed).
    ingress_gateway_iop_name: str | None
    # The east-west gateways are generated with
    # --set values.gateways.istio-ingressgateway.injectionTemplate=gateway.
    eastwest_injection_template_set: bool
    # The arguments the guide passes samples/multicluster/gen-eastwest-gateway.sh, with
    # {mesh}, {cluster} and {network} for the values (the suite renders what the script prints).
    eastwest_generator_args: tuple[str, ...]
    # "Cleanup": ``manifest generate | kubectl delete`` of what was applied (seeds), or
    # ``istioctl uninstall -y --purge -f <file>`` per cluster (today).
    cleanup: Cleanup
    second_remote: SecondRemoteProcedure

    @property
    def remote_secret_creates_service_account(self) -> bool:
        return self.remote_secret_service_account is None

    @property
    def uninstall_purges(self) -> bool:
        return self.cleanup == "uninstall-purge"

    def eastwest_generator_argv(self, *, mesh: str, cluster: str, network: str) -> list[str]:
        """gen-eastwest-gateway.sh's arguments as the guide gives them for one cluster."""
        return [
            arg.format(mesh=mesh, cluster=cluster, network=network) for arg in self.eastwest_generator_args
        ]


def _choice(raw: dict[str, Any], key: str, accepted: tuple[str, ...]) -> str:
    value = str(raw[key])
    if value not in accepted:
        raise ValueError(f"{key} {value!r} is not one of {', '.join(accepted)}")
    return value


def parse_procedure(guide: str, raw: dict[str, Any]) -> Procedure:
    """One revision of a ``procedure.revisions`` block in versions.yaml (KeyError names a
    missing field, ValueError a bad value)."""
    second = raw["second_remote"]
    apis = raw["routing_api_versions"]
    return Procedure(
        guide=guide,
        remote_install=cast(RemoteInstall, _choice(raw, "remote_install", REMOTE_INSTALLS)),
        config_cluster_revision_tag_webhook=bool(raw["config_cluster_revision_tag_webhook"]),
        remote_default_revision=bool(raw["remote_default_revision"]),
        external_istiod_service_account_step=bool(raw["external_istiod_service_account_step"]),
        remote_secret_service_account=raw["remote_secret_service_account"],
        local_cluster_secret_watcher=bool(raw["local_cluster_secret_watcher"]),
        external_istiod_cluster_values=bool(raw["external_istiod_cluster_values"]),
        external_istiod_value=bool(raw["external_istiod_value"]),
        routing_api_versions=RoutingApis(
            gateway=str(apis["gateway"]),
            virtual_service=str(apis["virtual_service"]),
            destination_rule=str(apis["destination_rule"]),
        ),
        ingress_gateway_istio_namespace_set=bool(raw["ingress_gateway_istio_namespace_set"]),
        ingress_gateway_iop_name=raw["ingress_gateway_iop_name"],
        eastwest_injection_template_set=bool(raw["eastwest_injection_template_set"]),
        eastwest_generator_args=tuple(str(arg) for arg in raw["eastwest_generator_args"]),
        cleanup=cast(Cleanup, _choice(raw, "cleanup", CLEANUPS)),
        second_remote=SecondRemoteProcedure(
            secret_on=second["secret_on"],
            secret_step=int(second["secret_step"]),
            control_plane_annotation=bool(second["control_plane_annotation"]),
            file=second["file"],
            expose_services_on=tuple(second["expose_services_on"]),
        ),
    )


@dataclass(frozen=True)
class GuideRevisions:
    """The guide revisions a release offers, and the one it follows by default."""

    default: str
    revisions: dict[str, Procedure]

    def get(self, name: str | None) -> Procedure:
        """The revision ``name`` (None: the default); KeyError when the release lacks it."""
        return self.revisions[self.default if name is None else name]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.revisions)


def parse_guide_revisions(raw: dict[str, Any]) -> GuideRevisions:
    """A release's ``procedure:`` block: ``default`` and ``revisions``."""
    revisions = {str(name): parse_procedure(str(name), block) for name, block in raw["revisions"].items()}
    default = str(raw["default"])
    if default not in revisions:
        raise ValueError(f"procedure default {default!r} is not among its revisions ({', '.join(revisions)})")
    return GuideRevisions(default=default, revisions=revisions)
