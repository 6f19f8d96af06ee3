"""sail: the external control plane driven by the Sail Operator (seed 004 "External Control Plane").

The operator comes from its Helm chart at the release the profile pins; ``Istio`` resources do
the rest: ``default`` on the external cluster (the istiod that configures the gateway),
``external-istiod`` with ``profile: remote`` on the remote and ``profile: empty`` on the
external cluster. The gateway exposing istiod is a gateway-injected Deployment, so it runs
the proxy of the release under test (the upstream example manifest pins an old proxy image).

Deviations from seed 004, each for a stated reason:
- the external cluster's ``default`` Istio sets ``values.global.network``: the seed writes
  ``spec.global``, which is not a field of the ``Istio`` CRD and is rejected by strict
  validation;
- the external ``external-istiod`` Istio sets ``spec.version``: without it the operator picks
  its own default version, not the release under test.
"""

from __future__ import annotations

from typing import Any

from scenarios.common import (
    DEADLINE_ROLLOUT_S,
    EXTERNAL_NS,
    GATEWAY_SERVICE,
    ISTIO_SYSTEM,
    MESH_ID,
    SAMPLE_NS,
    Manifest,
    RenderContext,
    RenderedScenario,
    ScenarioUnavailable,
    delete_namespaces,
    expose_helloworld_steps,
    ingress_expectations,
    ingress_kinds,
    istiod_routing,
    namespace_steps,
    remote_secret_step,
    sample_steps,
    unique_names,
)
from scenarios.expectations import ScenarioExpectations, WebhookExpectation
from scenarios.facts import Facts
from scenarios.releases import IstioRelease
from scenarios.steps import Action, Role, ScenarioPlan, Step

SCENARIO = "sail"
ROLES: tuple[Role, ...] = ("external", "remote")
SAIL_API = "sailoperator.io/v1"
SAIL_REPO = "https://istio-ecosystem.github.io/sail-operator"
SAIL_CHART = "sail-operator"
SAIL_NS = "sail-operator"
REVISION = "external-istiod"  # the Istio resource's name is its revision
ISTIOD = f"istiod-{REVISION}"
DEADLINE_ISTIO_READY_S = 180  # seed 004: --timeout=3m
# The remote Istio is Ready only once its webhooks answer, i.e. after the external istiod and
# the gateway routes exist (Sail's e2e test waits 10 minutes here).
DEADLINE_REMOTE_READY_S = 900

SECTION = "004 §External Control Plane"


def sail_version(ctx: RenderContext) -> str:
    return f"v{ctx.release.version}"


def chart_version(ctx: RenderContext) -> str:
    version = ctx.release.profile.sail_chart_version
    if version is None:
        raise ScenarioUnavailable(
            f"scenario sail is not available for Istio {ctx.release.version}: versions.yaml pins no "
            f"Sail Operator chart for {ctx.release.profile.minor} (sail_chart_version)"
        )
    return version


def _with_build(ctx: RenderContext, values: dict[str, Any]) -> dict[str, Any]:
    if ctx.release.custom:
        values.setdefault("global", {}).update({"hub": ctx.release.hub, "tag": ctx.release.tag})
    return values


def istio_cr(name: str, spec: dict[str, Any]) -> Manifest:
    return {"apiVersion": SAIL_API, "kind": "Istio", "metadata": {"name": name}, "spec": spec}


def gateway_istio(ctx: RenderContext) -> Manifest:
    """Step 1: the ``default`` Istio that configures the external gateway."""
    return istio_cr(
        "default",
        {
            "version": sail_version(ctx),
            "namespace": ISTIO_SYSTEM,
            "values": _with_build(ctx, {"global": {"network": ctx.network("remote")}}),
        },
    )


def remote_istio(ctx: RenderContext) -> Manifest:
    """Step 4: ``profile: remote`` on the remote (config) cluster."""
    return istio_cr(
        REVISION,
        {
            "version": sail_version(ctx),
            "namespace": EXTERNAL_NS,
            "profile": "remote",
            "values": _with_build(
                ctx,
                {
                    "defaultRevision": REVISION,
                    "global": {
                        "istioNamespace": EXTERNAL_NS,
                        "remotePilotAddress": ctx.addr,
                        "configCluster": True,
                    },
                    "pilot": {"configMap": True},
                    "istiodRemote": {"injectionPath": ctx.injection_path("remote")},
                },
            ),
        },
    )


def external_istio(ctx: RenderContext) -> Manifest:
    """Step 7: ``profile: empty`` on the external cluster; it serves the remote's proxies."""
    addr = ctx.addr
    cluster = ctx.cluster("remote")
    values = {
        "meshConfig": {"rootNamespace": EXTERNAL_NS, "defaultConfig": {"discoveryAddress": f"{addr}:15012"}},
        "pilot": {
            "enabled": True,
            "volumes": [
                {"name": "config-volume", "configMap": {"name": f"istio-{REVISION}"}},
                {"name": "inject-volume", "configMap": {"name": f"istio-sidecar-injector-{REVISION}"}},
            ],
            "volumeMounts": [
                {"name": "config-volume", "mountPath": "/etc/istio/config"},
                {"name": "inject-volume", "mountPath": "/var/lib/istio/inject"},
            ],
            "env": {
                "INJECTION_WEBHOOK_CONFIG_NAME": injector_webhook(),
                "VALIDATION_WEBHOOK_CONFIG_NAME": validator_webhook(),
                "EXTERNAL_ISTIOD": "true",
                "LOCAL_CLUSTER_SECRET_WATCHER": "true",
                "CLUSTER_ID": cluster,
                "SHARED_MESH_CONFIG": "istio",
            },
        },
        "global": {
            "caAddress": f"{addr}:15012",
            "istioNamespace": EXTERNAL_NS,
            "operatorManageWebhooks": True,
            "configValidation": False,
            "meshID": MESH_ID,
            "multiCluster": {"clusterName": cluster},
            "network": ctx.network("remote"),
        },
    }
    return istio_cr(
        REVISION,
        {
            "version": sail_version(ctx),
            "namespace": EXTERNAL_NS,
            "profile": "empty",
            "values": _with_build(ctx, values),
        },
    )


def injector_webhook() -> str:
    return f"istio-sidecar-injector-{REVISION}-{EXTERNAL_NS}"


def validator_webhook() -> str:
    return f"istio-validator-{REVISION}-{EXTERNAL_NS}"


def injected_gateway(
    name: str,
    namespace: str,
    labels: dict[str, str],
    ports: list[tuple[str, int, int]],
    *,
    pod_labels: dict[str, str] | None = None,
) -> tuple[Manifest, ...]:
    """A gateway Deployment whose proxy the injector supplies (``image: auto``, gateway
    template), so it runs the proxy of the installed release, plus its Service (LoadBalancer)."""
    service_account = f"{name}-service-account"
    template_labels = {**labels, "sidecar.istio.io/inject": "true", **(pod_labels or {})}
    return (
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": service_account, "namespace": namespace},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "spec": {
                "selector": {"matchLabels": dict(labels)},
                "template": {
                    "metadata": {
                        "annotations": {"inject.istio.io/templates": "gateway"},
                        "labels": template_labels,
                    },
                    "spec": {
                        "serviceAccountName": service_account,
                        "containers": [{"name": "istio-proxy", "image": "auto"}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "spec": {
                "type": "LoadBalancer",
                "selector": dict(labels),
                "ports": [
                    {"name": port_name, "port": port, "targetPort": target, "protocol": "TCP"}
                    for port_name, port, target in ports
                ],
            },
        },
    )


def controlplane_gateway() -> tuple[Manifest, ...]:
    """Step 2: the gateway exposing 15021/15012/15017, as the seed's controlplane-gateway.yaml."""
    return injected_gateway(
        GATEWAY_SERVICE,
        ISTIO_SYSTEM,
        {"app": GATEWAY_SERVICE, "istio": "ingressgateway"},
        [("status-port", 15021, 15021), ("tls-xds", 15012, 15012), ("tls-webhook", 15017, 15017)],
    )


def remote_ingress_gateway() -> tuple[Manifest, ...]:
    """The Istio-API ingress variant on the remote: seed 001's istio-ingressgateway, injected
    by the external istiod's revision (the seed itself uses the Gateway API here)."""
    return injected_gateway(
        GATEWAY_SERVICE,
        EXTERNAL_NS,
        {"app": GATEWAY_SERVICE, "istio": "ingressgateway"},
        # as the istio-ingressgateway component maps them: unprivileged target ports
        [("status-port", 15021, 15021), ("http2", 80, 8080), ("https", 443, 8443)],
        pod_labels={"istio.io/rev": REVISION},
    )


def _wait(
    name: str,
    role: Role,
    resource: str,
    condition: str,
    deadline: int,
    seed: str,
    namespace: str | None = None,
    provides: str | None = None,
) -> Step:
    params: dict[str, Any] = {"resource": resource, "for": condition, "deadline_s": deadline}
    if namespace is not None:
        params["namespace"] = namespace
    if provides is not None:
        params["provides"] = provides
    return Step(name, role, Action.WAIT, seed, params=params)


def operator_steps(ctx: RenderContext) -> list[Step]:
    seed = "004 §Prerequisites (install the Sail Operator and CRDs to every cluster)"
    steps: list[Step] = []
    for role in ROLES:
        steps.append(
            Step(
                f"{role}-sail-operator",
                role,
                Action.HELM_INSTALL,
                seed,
                params={
                    "release": SAIL_CHART,
                    "repo": SAIL_REPO,
                    "chart": SAIL_CHART,
                    "version": chart_version(ctx),
                    "namespace": SAIL_NS,
                    "create_namespace": True,
                },
            )
        )
        steps.append(
            _wait(
                f"{role}-wait-sail-operator",
                role,
                "deployment/sail-operator",
                "condition=Available",
                DEADLINE_ROLLOUT_S,
                seed,
                SAIL_NS,
            )
        )
    return steps


def install_steps(ctx: RenderContext) -> list[Step]:
    steps = operator_steps(ctx)
    steps += namespace_steps("external", ISTIO_SYSTEM, f"{SECTION}, step 1")
    steps.append(
        Step("external-istio-default", "external", Action.APPLY, f"{SECTION}, step 1", (gateway_istio(ctx),))
    )
    steps.append(
        _wait(
            "external-wait-istio-default",
            "external",
            "istios/default",
            "condition=Ready",
            DEADLINE_ISTIO_READY_S,
            f"{SECTION}, step 1",
        )
    )
    steps.append(
        Step(
            "external-gateway",
            "external",
            Action.APPLY,
            f"{SECTION}, step 2 (gateway-injected)",
            controlplane_gateway(),
        )
    )
    steps.append(
        _wait(
            "external-gateway-address",
            "external",
            f"service/{GATEWAY_SERVICE}",
            "load-balancer-address",
            DEADLINE_ROLLOUT_S,
            f"{SECTION}, steps 2-3",
            ISTIO_SYSTEM,
            "external_istiod_addr",
        )
    )
    steps += namespace_steps("remote", EXTERNAL_NS, f"{SECTION}, step 4")
    steps.append(Step("remote-istio", "remote", Action.APPLY, f"{SECTION}, step 4", (remote_istio(ctx),)))
    steps += namespace_steps("external", EXTERNAL_NS, f"{SECTION}, step 5")
    steps.append(
        Step(
            "external-istiod-service-account",
            "external",
            Action.CREATE_SERVICE_ACCOUNT,
            f"{SECTION}, step 6",
            params={"namespace": EXTERNAL_NS, "name": "istiod-service-account"},
        )
    )
    steps.append(
        remote_secret_step(
            ctx,
            "remote-secret-config",
            "remote",
            "external",
            f"{SECTION}, step 6",
            secret_type="config",
            service_account=ISTIOD,
            with_name=False,
        )
    )
    steps.append(
        Step("external-istio", "external", Action.APPLY, f"{SECTION}, step 7", (external_istio(ctx),))
    )
    steps.append(
        _wait(
            "external-wait-istio",
            "external",
            f"istios/{REVISION}",
            "condition=Ready",
            DEADLINE_ISTIO_READY_S,
            f"{SECTION}, step 7",
        )
    )
    routing = istiod_routing(ctx.addr, "ip", istiod_service=ISTIOD, api_version="networking.istio.io/v1")
    steps.append(Step("external-istiod-routing", "external", Action.APPLY, f"{SECTION}, step 8", routing))
    steps.append(
        _wait(
            "remote-wait-istio",
            "remote",
            f"istios/{REVISION}",
            "condition=Ready",
            DEADLINE_REMOTE_READY_S,
            f"{SECTION}, step 9",
        )
    )
    steps += sample_steps(
        ctx, "remote", "v1", f"{SECTION}, steps 10-12", injection_label={"istio.io/rev": REVISION}
    )
    kinds = ingress_kinds(ctx.facts)
    if "istio" in kinds:
        steps.append(
            Step(
                "remote-ingressgateway",
                "remote",
                Action.APPLY,
                "001 §Enable gateways (gateway-injected, Istio APIs variant)",
                remote_ingress_gateway(),
            )
        )
    for kind in kinds:
        steps += expose_helloworld_steps(ctx, kind, "001" if kind == "istio" else "004")
    return steps


def uninstall_steps() -> list[Step]:
    seed = f"{SECTION}, step 15"
    steps = [
        Step(
            "delete-external-istio-default",
            "external",
            Action.DELETE,
            seed,
            params={"resource": "istios/default"},
        ),
        *delete_namespaces("external", (ISTIO_SYSTEM,), seed),
        Step(
            "delete-external-istio",
            "external",
            Action.DELETE,
            seed,
            params={"resource": f"istios/{REVISION}"},
        ),
        *delete_namespaces("external", (EXTERNAL_NS,), seed),
        Step("delete-remote-istio", "remote", Action.DELETE, seed, params={"resource": f"istios/{REVISION}"}),
        *delete_namespaces("remote", (EXTERNAL_NS, SAMPLE_NS), seed),
    ]
    # The suite installed the operator, so it removes it too (the seed's prerequisites).
    for role in ROLES:
        steps.append(
            Step(
                f"delete-{role}-sail-operator",
                role,
                Action.HELM_UNINSTALL,
                seed,
                params={"release": SAIL_CHART, "namespace": SAIL_NS},
            )
        )
        steps += delete_namespaces(role, (SAIL_NS,), seed)
    return steps


def expectations(ctx: RenderContext) -> ScenarioExpectations:
    path = ctx.injection_path("remote")
    return ScenarioExpectations(
        scenario=SCENARIO,
        istio_version=str(ctx.release.version),
        proxy_image_tag=ctx.release.tag,
        istiod_deployment=ISTIOD,
        remote_secrets={"remote": (EXTERNAL_NS, "istio-kubeconfig")},
        webhooks={
            # A revisioned remote profile: the revision's two injector webhooks (rev.namespace,
            # rev.object), its validator, and the default revision's validator.
            "remote": (
                WebhookExpectation("mutating", injector_webhook(), 2, path=path),
                WebhookExpectation("validating", validator_webhook(), 1, path="/validate"),
                WebhookExpectation("validating", "istiod-default-validator", 1, path="/validate"),
            )
        },
        config_clusters=("remote",),
        client_app=ctx.release.profile.sample_client,
        workloads={"remote": ("v1",)},
        ingress=ingress_expectations(ctx.facts),
        discovery_address=f"{ctx.addr}:15012",
        cluster_names={"remote": ctx.cluster("remote")},
    )


def render(release: IstioRelease, facts: Facts) -> RenderedScenario:
    ctx = RenderContext(release, facts)
    steps = install_steps(ctx)
    uninstall = uninstall_steps()
    unique_names([*steps, *uninstall])
    plan = ScenarioPlan(SCENARIO, str(release.version), ROLES, tuple(steps), tuple(uninstall))
    return RenderedScenario(plan, expectations(ctx))
