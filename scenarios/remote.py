"""The remote clusters' share of the seeds: the remote profile (IstioOperator), the webhook
configurations it installs, and the remote secrets that give the external istiod access."""

from __future__ import annotations

from typing import Any, Literal

from scenarios.common import (
    CONFIG_SECRET_NAME,
    DEFAULT_VALIDATOR_WEBHOOK,
    EXTERNAL_NS,
    INJECTOR_WEBHOOK,
    REVISION_TAG_WEBHOOK,
    VALIDATOR_WEBHOOK,
    Addressing,
    Manifest,
    RenderContext,
    iop,
)
from scenarios.expectations import GatewayExpectation, ScenarioExpectations, WebhookExpectation
from scenarios.samples import ingress_expectations
from scenarios.steps import Action, Role, Step
from scenarios.workarounds import MULTICLUSTER_LABEL, UNLABELLED_CONFIG_SECRET


def remote_cluster_iop(
    ctx: RenderContext,
    role: Role,
    addressing: Addressing,
    host: str,
    *,
    ca_bundle: str | None = None,
) -> Manifest:
    """remote-config-cluster.yaml (role remote) or second-remote-cluster.yaml (role second).

    DNS form: ``injectionURL`` (+ ``validationURL`` on the config cluster). IP form, as seed
    001's sed edits it: ``injectionPath`` and ``remotePilotAddress``, no ``base`` block.
    ``ca_bundle`` (base64 PEM) is the suite's addition for a private PKI (dns-tls).
    """
    config_cluster = role == "remote"
    profile = ctx.release.profile
    glob: dict[str, Any] = {"istioNamespace": EXTERNAL_NS}
    if addressing == "ip":
        glob["remotePilotAddress"] = host
    if config_cluster and profile.config_cluster_flag:
        glob["configCluster"] = True
    values: dict[str, Any] = {"global": glob}
    if config_cluster:
        values["pilot"] = {"configMap": True}
    remote: dict[str, Any] = {}
    if addressing == "ip":
        remote["injectionPath"] = ctx.injection_path(role)
    else:
        remote["injectionURL"] = f"https://{host}:15017{ctx.injection_path(role)}"
    if ca_bundle is not None:
        remote["injectionCABundle"] = ca_bundle
    values["istiodRemote"] = remote
    if config_cluster and addressing == "dns":
        base: dict[str, Any] = {"validationURL": f"https://{host}:15017/validate"}
        if ca_bundle is not None:
            base["validationCABundle"] = ca_bundle
        values["base"] = base
    spec: dict[str, Any] = {"profile": profile.remote_profile}
    if config_cluster and not profile.config_cluster_flag:
        spec["components"] = {"base": {"enabled": True}}  # seeds 000/003: CRDs via base
    spec["values"] = values
    return ctx.with_build(iop(spec, EXTERNAL_NS))


def remote_webhooks(
    ctx: RenderContext,
    role: Role,
    addressing: Addressing,
    url_host: str,
    *,
    ca_bundle_required: bool,
) -> tuple[WebhookExpectation, ...]:
    """The webhook configurations the guide's "Confirm ..." steps list: the injector everywhere;
    on the config cluster the default revision tag's injector where the guide lists it (today's
    guide: ``istioctl install`` creates it), the validator, and with
    ``values.defaultRevision=default`` also the default validator."""
    injection_path = ctx.injection_path(role)
    config_cluster = role == "remote"

    def hook(
        kind: Literal["mutating", "validating"], name: str, count: int, path: str, *, by_install: bool = False
    ) -> WebhookExpectation:
        url = None if addressing == "ip" else f"https://{url_host}:15017{path}"
        return WebhookExpectation(
            kind,
            name,
            count,
            url=url,
            path=path if url is None else None,
            ca_bundle_required=ca_bundle_required,
            made_by_istioctl_install=by_install,
        )

    hooks = [hook("mutating", INJECTOR_WEBHOOK, 4, injection_path)]
    if config_cluster and ctx.procedure.config_cluster_revision_tag_webhook:
        # A copy of the injector's webhooks (istioctl/pkg/tag generate.go takes the injection
        # URL or service path from it); the external istiod patches its caBundle too.
        hooks.append(hook("mutating", REVISION_TAG_WEBHOOK, 4, injection_path, by_install=True))
    if config_cluster:
        names: tuple[str, ...] = (VALIDATOR_WEBHOOK,)
        if ctx.procedure.remote_default_revision:
            names += (DEFAULT_VALIDATOR_WEBHOOK,)
        hooks += [hook("validating", name, 1, "/validate") for name in names]
    return tuple(hooks)


def remote_secret_step(
    ctx: RenderContext,
    name: str,
    source: Role,
    target: Role,
    seed: str,
    *,
    secret_type: Literal["config", "remote"],
    service_account: str | None,
    with_name: bool,
    create_service_account: bool | None = None,
) -> Step:
    """``create-remote-secret`` of ``source``'s credentials, applied on ``target``;
    ``create_service_account`` None: as the guide revision does."""
    if create_service_account is None:
        create_service_account = ctx.procedure.remote_secret_creates_service_account
    params: dict[str, Any] = {
        "source_role": source,
        "target_role": target,
        "command": list(ctx.release.profile.remote_secret_command),
        "type": secret_type,
        "namespace": EXTERNAL_NS,
        "secret_name": CONFIG_SECRET_NAME
        if secret_type == "config"
        else f"istio-remote-secret-{ctx.cluster(source)}",
        "create_service_account": create_service_account,
    }
    if with_name:
        params["name"] = ctx.cluster(source)
    if service_account is not None:
        params["service_account"] = service_account
    server = ctx.facts.api_servers.get(source)
    if server:
        params["server"] = server
    if secret_type == "config" and UNLABELLED_CONFIG_SECRET in ctx.facts.workarounds:
        params["without_labels"] = [MULTICLUSTER_LABEL]
        seed += f" (with the workaround {UNLABELLED_CONFIG_SECRET}: applied without {MULTICLUSTER_LABEL})"
    return Step(name, target, Action.REMOTE_SECRET, seed, params=params)


def config_secret_steps(
    ctx: RenderContext,
    seed: str,
    service_account: str | None,
    *,
    service_account_step: bool,
    create_service_account: bool | None = None,
) -> list[Step]:
    """The external istiod's service account (where the guide creates one), and the config
    cluster's remote secret for it."""
    steps = []
    if service_account_step:
        steps.append(
            Step(
                "external-istiod-service-account",
                "external",
                Action.CREATE_SERVICE_ACCOUNT,
                seed,
                params={"namespace": EXTERNAL_NS, "name": "istiod-service-account"},
            )
        )
    steps.append(
        remote_secret_step(
            ctx,
            "remote-secret-config",
            "remote",
            "external",
            seed,
            secret_type="config",
            service_account=service_account,
            with_name=False,
            create_service_account=create_service_account,
        )
    )
    return steps


def config_cluster_expectations(
    ctx: RenderContext,
    scenario: str,
    webhooks: tuple[WebhookExpectation, ...],
    discovery_host: str,
    istiod_deployment: str = "istiod",
    egress_gateway: GatewayExpectation | None = None,
    *,
    watches_own_namespace_secrets: bool,
) -> ScenarioExpectations:
    """What a scenario with one remote (the config cluster) looks like once installed.
    ``watches_own_namespace_secrets``: the external istiod runs with LOCAL_CLUSTER_SECRET_WATCHER."""
    return ScenarioExpectations(
        scenario=scenario,
        istio_version=ctx.release.reported_version,
        proxy_image_tag=ctx.release.tag,
        istiod_deployment=istiod_deployment,
        remote_secrets={"remote": (EXTERNAL_NS, CONFIG_SECRET_NAME)},
        webhooks={"remote": webhooks},
        config_clusters=("remote",),
        client_app=ctx.release.profile.sample_client,
        workloads={"remote": ("v1",)},
        ingress=ingress_expectations(ctx.facts),
        egress_gateway=egress_gateway,
        discovery_address=f"{discovery_host}:15012",
        cluster_names={"remote": ctx.cluster("remote")},
        istiod_watches_own_namespace_secrets=watches_own_namespace_secrets,
        config_secret_multicluster_label=UNLABELLED_CONFIG_SECRET not in ctx.facts.workarounds,
    )
