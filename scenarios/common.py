"""Pieces every scenario renders from: names, the render context, and the manifests and steps
the seeds share (external gateway, remote profile, external istiod, samples, ingress, cleanup).

Everything here is pure: (release profile, facts) in, dicts and ``Step``s out. Differences
between Istio releases come from the release profile only (DESIGN §4 "Istio release
profiles"): the *current* procedure is seed 001; releases whose profile has no
``config_cluster_flag`` follow the *older* procedure of seeds 000/003.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from scenarios.expectations import IngressExpectation, ScenarioExpectations, WebhookExpectation
from scenarios.facts import Facts, placeholder
from scenarios.releases import IstioRelease
from scenarios.steps import Action, Role, ScenarioPlan, Step

Manifest = dict[str, Any]
Addressing = Literal["ip", "dns"]

EXTERNAL_NS = "external-istiod"
ISTIO_SYSTEM = "istio-system"
SAMPLE_NS = "sample"
MESH_ID = "mesh1"
NETWORKS: dict[Role, str] = {"remote": "network1", "second": "network2"}
IOP_API = "install.istio.io/v1alpha1"

GATEWAY_SERVICE = "istio-ingressgateway"
INJECTOR_WEBHOOK = f"istio-sidecar-injector-{EXTERNAL_NS}"
VALIDATOR_WEBHOOK = f"istio-validator-{EXTERNAL_NS}"
DEFAULT_VALIDATOR_WEBHOOK = "istiod-default-validator"
CONFIG_SECRET_NAME = "istio-kubeconfig"  # what create-remote-secret --type=config names its Secret

# Where proxies find the mesh root: the istio-ca-root-cert ConfigMap mounted by the injection
# template (volume istiod-ca-cert at /var/run/secrets/istio), the default of the agent's
# FindRootCAForXDS/FindRootCAForCA (pkg/istio-agent/agent.go, CitadelCACertPath).
MOUNTED_MESH_ROOT = "/var/run/secrets/istio/root-cert.pem"
SYSTEM_ROOTS = "/etc/ssl/certs/ca-certificates.crt"  # seed 001: a publicly trusted certificate

GATEWAY_API_CRDS_SOURCE = "github.com/kubernetes-sigs/gateway-api/config/crd?ref={version}"

# Deadlines of the installer's waits, in seconds.
DEADLINE_LB_S = 300
DEADLINE_ROLLOUT_S = 300
DEADLINE_GATEWAY_S = 300


class ScenarioUnavailable(ValueError):
    """A scenario cannot be rendered for this release or these facts; the message says why."""


@dataclass(frozen=True)
class RenderContext:
    """The release and facts a scenario renders from, and the names derived from them."""

    release: IstioRelease
    facts: Facts

    @property
    def profile_form(self) -> Literal["001", "000"]:
        """Which seed's procedure this release follows: 001 (current) or 000/003 (older)."""
        return "001" if self.release.profile.config_cluster_flag else "000"

    @property
    def current(self) -> bool:
        return self.profile_form == "001"

    def cluster(self, role: Role) -> str:
        return self.facts.cluster_names.get(role) or placeholder(f"{role}_cluster_name")

    @staticmethod
    def network(role: Role) -> str:
        return NETWORKS[role]

    def injection_path(self, role: Role) -> str:
        return self.release.profile.injection_path(self.cluster(role), self.network(role))

    @property
    def addr(self) -> str:
        """The external gateway's LoadBalancer address (placeholder until learnt)."""
        return self.facts.addr

    def with_build(self, iop: Manifest) -> Manifest:
        """Pin a custom build's hub/tag in an IstioOperator; releases use istioctl's defaults."""
        if self.release.custom:
            iop["spec"]["hub"] = self.release.hub
            iop["spec"]["tag"] = self.release.tag
        return iop


def gateway_api_version(ctx: RenderContext) -> str:
    """The Gateway API release the Istio release was built against (its go.mod), per profile."""
    return ctx.release.profile.gateway_api_version


def iop(spec: dict[str, Any], namespace: str | None = None) -> Manifest:
    manifest: Manifest = {"apiVersion": IOP_API, "kind": "IstioOperator"}
    if namespace is not None:
        manifest["metadata"] = {"namespace": namespace}
    manifest["spec"] = spec
    return manifest


def namespace_steps(
    role: Role,
    namespace: str,
    seed: str,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    name_prefix: str = "",
) -> list[Step]:
    prefix = name_prefix or role
    steps = [
        Step(
            f"{prefix}-namespace-{namespace}",
            role,
            Action.CREATE_NAMESPACE,
            seed,
            params={"namespace": namespace},
        )
    ]
    if annotations:
        steps.append(
            Step(
                f"{prefix}-annotate-{namespace}",
                role,
                Action.ANNOTATE_NAMESPACE,
                seed,
                params={"namespace": namespace, "annotations": annotations},
            )
        )
    if labels:
        steps.append(
            Step(
                f"{prefix}-label-{namespace}",
                role,
                Action.LABEL_NAMESPACE,
                seed,
                params={"namespace": namespace, "labels": labels},
            )
        )
    return steps


# --- external cluster: the gateway that exposes istiod ------------------------------------


def controlplane_gateway_iop(ctx: RenderContext) -> Manifest:
    """Seed 001/000/003 "Set up a gateway in the external cluster", step 1 (controlplane-gateway.yaml)."""
    ports = [
        {"port": 15021, "targetPort": 15021, "name": "status-port"},
        {"port": 15012, "targetPort": 15012, "name": "tls-xds"},
        {"port": 15017, "targetPort": 15017, "name": "tls-webhook"},
    ]
    spec = {
        "components": {
            "ingressGateways": [
                {"name": GATEWAY_SERVICE, "enabled": True, "k8s": {"service": {"ports": ports}}}
            ]
        }
    }
    return ctx.with_build(iop(spec, ISTIO_SYSTEM))


def external_gateway_steps(ctx: RenderContext, seed: str) -> list[Step]:
    section = f"{seed} §Set up a gateway in the external cluster"
    return [
        Step(
            "external-gateway",
            "external",
            Action.ISTIOCTL_INSTALL,
            f"{section}, step 1",
            (controlplane_gateway_iop(ctx),),
            {"file": "controlplane-gateway.yaml"},
        ),
        Step(
            "external-gateway-address",
            "external",
            Action.WAIT,
            f"{section}, step 3 (the gateway's load balancer address)",
            params={
                "resource": f"service/{GATEWAY_SERVICE}",
                "namespace": ISTIO_SYSTEM,
                "for": "load-balancer-address",
                "deadline_s": DEADLINE_LB_S,
                "provides": "external_istiod_addr",
            },
        ),
    ]


# --- remote clusters: the remote profile -----------------------------------------------------


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
    """The webhook configurations the remote profile installs (seed 001, "Confirm ..." steps):
    the injector everywhere; on the config cluster the validator, and with seed 001's
    ``values.defaultRevision=default`` also the default validator."""
    injection_path = ctx.injection_path(role)
    config_cluster = role == "remote"

    def where(path: str) -> dict[str, str | None]:
        if addressing == "ip":
            return {"path": path, "url": None}
        return {"url": f"https://{url_host}:15017{path}", "path": None}

    hooks = [
        WebhookExpectation(
            "mutating", INJECTOR_WEBHOOK, 4, ca_bundle_required=ca_bundle_required, **where(injection_path)
        ),
    ]
    if config_cluster:
        names = (VALIDATOR_WEBHOOK, DEFAULT_VALIDATOR_WEBHOOK) if ctx.current else (VALIDATOR_WEBHOOK,)
        for name in names:
            hooks.append(
                WebhookExpectation(
                    "validating", name, 1, ca_bundle_required=ca_bundle_required, **where("/validate")
                )
            )
    return tuple(hooks)


# --- external cluster: the external istiod ---------------------------------------------------


def external_istiod_iop(
    ctx: RenderContext,
    addressing: Addressing,
    host: str,
    *,
    root_ca_path: str = SYSTEM_ROOTS,
) -> Manifest:
    """external-istiod.yaml: seed 001 (current) or 000 (older); IP form as 001's sed edits it."""
    default_config: dict[str, Any] = {"discoveryAddress": f"{host}:15012"}
    if addressing == "dns":
        default_config["proxyMetadata"] = {"XDS_ROOT_CA": root_ca_path, "CA_ROOT_CA": root_ca_path}
    patches = [
        {
            "path": "spec.template.spec.volumes[100]",
            "value": "name: config-volume\nconfigMap:\n  name: istio",
        },
        {
            "path": "spec.template.spec.volumes[100]",
            "value": "name: inject-volume\nconfigMap:\n  name: istio-sidecar-injector",
        },
        {
            "path": "spec.template.spec.containers[0].volumeMounts[100]",
            "value": "name: config-volume\nmountPath: /etc/istio/config",
        },
        {
            "path": "spec.template.spec.containers[0].volumeMounts[100]",
            "value": "name: inject-volume\nmountPath: /var/lib/istio/inject",
        },
    ]
    # IP form: the external istiod patches the remote webhooks' caBundle, so it must know their names.
    patch_webhooks = addressing == "ip"
    env = [
        {"name": "INJECTION_WEBHOOK_CONFIG_NAME", "value": INJECTOR_WEBHOOK if patch_webhooks else ""},
        {"name": "VALIDATION_WEBHOOK_CONFIG_NAME", "value": VALIDATOR_WEBHOOK if patch_webhooks else ""},
        {"name": "EXTERNAL_ISTIOD", "value": "true"},
    ]
    if ctx.current:
        env.append({"name": "LOCAL_CLUSTER_SECRET_WATCHER", "value": "true"})
    env.append({"name": "CLUSTER_ID", "value": ctx.cluster("remote")})
    env.append({"name": "SHARED_MESH_CONFIG", "value": "istio"})
    glob: dict[str, Any] = {
        "caAddress": f"{host}:15012",
        "istioNamespace": EXTERNAL_NS,
        "operatorManageWebhooks": True,
    }
    if ctx.current:
        glob["configValidation"] = False
    glob["meshID"] = MESH_ID
    if ctx.current:
        glob["multiCluster"] = {"clusterName": ctx.cluster("remote")}
        glob["network"] = ctx.network("remote")
    spec = {
        "profile": "empty",
        "meshConfig": {"rootNamespace": EXTERNAL_NS, "defaultConfig": default_config},
        "components": {
            "pilot": {
                "enabled": True,
                "k8s": {
                    "overlays": [{"kind": "Deployment", "name": "istiod", "patches": patches}],
                    "env": env,
                },
            }
        },
        "values": {"global": glob},
    }
    return ctx.with_build(iop(spec, EXTERNAL_NS))


def istiod_routing(
    host: str,
    addressing: Addressing,
    *,
    credential_name: str = "",
    istiod_service: str = "istiod",
    api_version: str = "networking.istio.io/v1beta1",
    upstream_ca_credential: str | None = None,
) -> tuple[Manifest, ...]:
    """external-istiod-gw.yaml: Gateway, VirtualService (and, DNS form, DestinationRule).

    IP form (seed 001's sed / seed 004 step 8): TLS PASSTHROUGH on ``"*"`` with TLS routes
    matched by port and SNI, no DestinationRule. DNS form: TLS terminated at the gateway with
    ``credentialName``, HTTP routes, and a DestinationRule re-originating TLS to istiod.
    """
    istiod_host = f"{istiod_service}.{EXTERNAL_NS}.svc.cluster.local"
    passthrough = addressing == "ip"
    hosts = ["*"] if passthrough else [host]
    proto = "tls" if passthrough else "https"

    def server(number: int, suffix: str) -> dict[str, Any]:
        tls: dict[str, Any] = (
            {"mode": "PASSTHROUGH"} if passthrough else {"mode": "SIMPLE", "credentialName": credential_name}
        )
        return {
            "port": {"number": number, "protocol": proto, "name": f"{proto}-{suffix}"},
            "tls": tls,
            "hosts": list(hosts),
        }

    gateway = {
        "apiVersion": api_version,
        "kind": "Gateway",
        "metadata": {"name": "external-istiod-gw", "namespace": EXTERNAL_NS},
        "spec": {
            "selector": {"istio": "ingressgateway"},
            "servers": [server(15012, "XDS"), server(15017, "WEBHOOK")],
        },
    }

    def route(port: int, target: int) -> dict[str, Any]:
        match: dict[str, Any] = {"port": port}
        if passthrough:
            match["sniHosts"] = ["*"]
        return {
            "match": [match],
            "route": [{"destination": {"host": istiod_host, "port": {"number": target}}}],
        }

    virtual_service = {
        "apiVersion": api_version,
        "kind": "VirtualService",
        "metadata": {"name": "external-istiod-vs", "namespace": EXTERNAL_NS},
        "spec": {
            "hosts": list(hosts),
            "gateways": ["external-istiod-gw"],
            ("tls" if passthrough else "http"): [route(15012, 15012), route(15017, 443)],
        },
    }
    if passthrough:
        return gateway, virtual_service

    def upstream_tls() -> dict[str, Any]:
        tls: dict[str, Any] = {"mode": "SIMPLE"}
        if upstream_ca_credential is not None:
            # Suite addition: verify istiod's serving certificate (issued by its plugin CA) with
            # the PKI root; without a CA Istio verifies upstreams against the system roots, which
            # istiod's certificate is not signed by. SNI/SAN name istiod's own service name,
            # which is in its certificate (pilot/pkg/bootstrap/server.go getDNSNames).
            tls["credentialName"] = upstream_ca_credential
            tls["sni"] = f"{istiod_service}.{EXTERNAL_NS}.svc"
            tls["subjectAltNames"] = [f"{istiod_service}.{EXTERNAL_NS}.svc"]
        return tls

    xds_tls = upstream_tls()
    destination_rule = {
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "DestinationRule",
        "metadata": {"name": "external-istiod-dr", "namespace": EXTERNAL_NS},
        "spec": {
            "host": istiod_host,
            "trafficPolicy": {
                "portLevelSettings": [
                    {
                        "port": {"number": 15012},
                        "tls": xds_tls,
                        "connectionPool": {"http": {"h2UpgradePolicy": "UPGRADE"}},
                    },
                    {"port": {"number": 443}, "tls": upstream_tls()},
                ]
            },
        },
    }
    return gateway, virtual_service, destination_rule


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
) -> Step:
    params: dict[str, Any] = {
        "source_role": source,
        "target_role": target,
        "command": list(ctx.release.profile.remote_secret_command),
        "type": secret_type,
        "namespace": EXTERNAL_NS,
        "secret_name": CONFIG_SECRET_NAME
        if secret_type == "config"
        else f"istio-remote-secret-{ctx.cluster(source)}",
        "create_service_account": not ctx.current,
    }
    if with_name:
        params["name"] = ctx.cluster(source)
    if service_account is not None:
        params["service_account"] = service_account
    server = ctx.facts.api_servers.get(source)
    if server:
        params["server"] = server
    return Step(name, target, Action.REMOTE_SECRET, seed, params=params)


# --- mesh admin: samples and ingress ---------------------------------------------------------


def client_sample_path(ctx: RenderContext) -> str:
    client = ctx.release.profile.sample_client
    return f"samples/{client}/{client}.yaml"


def sample_steps(
    ctx: RenderContext,
    role: Role,
    version: str,
    seed: str,
    *,
    injection_label: dict[str, str] | None = None,
) -> list[Step]:
    """Create and label ``sample``, deploy helloworld ``version`` and the client, wait for them."""
    steps = namespace_steps(
        role,
        SAMPLE_NS,
        f"{seed}, step 1",
        labels=injection_label or {"istio-injection": "enabled"},
    )
    hello = "samples/helloworld/helloworld.yaml"
    for suffix, selector in (("service", "service=helloworld"), (version, f"version={version}")):
        steps.append(
            Step(
                f"{role}-helloworld-{suffix}",
                role,
                Action.APPLY_SAMPLE,
                f"{seed}, step 2",
                params={"path": hello, "selector": selector, "namespace": SAMPLE_NS},
            )
        )
    client = ctx.release.profile.sample_client
    steps.append(
        Step(
            f"{role}-{client}",
            role,
            Action.APPLY_SAMPLE,
            f"{seed}, step 2",
            params={"path": client_sample_path(ctx), "namespace": SAMPLE_NS},
        )
    )
    for deployment in (f"helloworld-{version}", client):
        steps.append(
            Step(
                f"{role}-wait-{deployment}",
                role,
                Action.WAIT,
                f"{seed}, step 3",
                params={
                    "resource": f"deployment/{deployment}",
                    "namespace": SAMPLE_NS,
                    "for": "condition=Available",
                    "deadline_s": DEADLINE_ROLLOUT_S,
                },
            )
        )
    return steps


def remote_ingress_gateway_iop(ctx: RenderContext) -> Manifest:
    """Seed 001 "Enable gateways": istio-ingressgateway.yaml (gateway injection template)."""
    spec = {
        "profile": "empty",
        "components": {
            "ingressGateways": [{"namespace": EXTERNAL_NS, "name": GATEWAY_SERVICE, "enabled": True}]
        },
        "values": {"gateways": {GATEWAY_SERVICE: {"injectionTemplate": "gateway"}}},
    }
    return ctx.with_build(iop(spec))


def ingress_kinds(facts: Facts) -> tuple[Literal["istio", "gateway-api"], ...]:
    if facts.ingress == "both":
        return ("istio", "gateway-api")
    return (facts.ingress,)


def gateway_api_crd_step(ctx: RenderContext, role: Role, seed: str) -> Step:
    version = gateway_api_version(ctx)
    return Step(
        f"{role}-gateway-api-crds",
        role,
        Action.INSTALL_GATEWAY_API_CRDS,
        seed,
        params={
            "version": version,
            "source": GATEWAY_API_CRDS_SOURCE.format(version=version),
            "skip_if_present": "crd/gateways.gateway.networking.k8s.io",
        },
    )


def expose_helloworld_steps(
    ctx: RenderContext, kind: Literal["istio", "gateway-api"], seed: str
) -> list[Step]:
    """Seed 001 "Configure and test an ingress gateway", steps 1-2, for one config API."""
    section = f"{seed} §Configure and test an ingress gateway"
    if kind == "istio":
        return [
            Step(
                "remote-wait-ingressgateway",
                "remote",
                Action.WAIT,
                f"{section}, step 1 (Istio APIs)",
                params={
                    "resource": f"deployment/{GATEWAY_SERVICE}",
                    "namespace": EXTERNAL_NS,
                    "for": "condition=Available",
                    "deadline_s": DEADLINE_ROLLOUT_S,
                },
            ),
            Step(
                "remote-helloworld-gateway",
                "remote",
                Action.APPLY_SAMPLE,
                f"{section}, step 2 (Istio APIs)",
                params={"path": "samples/helloworld/helloworld-gateway.yaml", "namespace": SAMPLE_NS},
            ),
        ]
    return [
        gateway_api_crd_step(ctx, "remote", f"{section}, step 1 (Gateway API)"),
        Step(
            "remote-helloworld-gateway-api",
            "remote",
            Action.APPLY_SAMPLE,
            f"{section}, step 2 (Gateway API)",
            params={"path": "samples/helloworld/gateway-api/helloworld-gateway.yaml", "namespace": SAMPLE_NS},
        ),
        Step(
            "remote-wait-helloworld-gateway-api",
            "remote",
            Action.WAIT,
            f"{section}, step 3 (Gateway API)",
            params={
                "resource": "gateway.gateway.networking.k8s.io/helloworld-gateway",
                "namespace": SAMPLE_NS,
                "for": "condition=Programmed",
                "deadline_s": DEADLINE_GATEWAY_S,
            },
        ),
    ]


def ingress_expectations(facts: Facts, istio_namespace: str = EXTERNAL_NS) -> tuple[IngressExpectation, ...]:
    out = []
    for kind in ingress_kinds(facts):
        if kind == "istio":
            out.append(IngressExpectation("istio", "remote", istio_namespace, GATEWAY_SERVICE))
        else:
            # Istio's Gateway API deployment controller names the Service <gateway>-<class>.
            out.append(IngressExpectation("gateway-api", "remote", SAMPLE_NS, "helloworld-gateway-istio"))
    return tuple(out)


# --- cleanup --------------------------------------------------------------------------------


def delete_namespaces(role: Role, namespaces: Iterable[str], seed: str) -> list[Step]:
    return [
        Step(
            f"delete-{role}-namespace-{ns}", role, Action.DELETE, seed, params={"resource": f"namespace/{ns}"}
        )
        for ns in namespaces
    ]


def unique_names(steps: Iterable[Step]) -> None:
    """Step names identify steps in reports and in the installer's progress: they must be unique."""
    seen: set[str] = set()
    for step in steps:
        if step.name in seen:
            raise ValueError(f"duplicate step name {step.name!r}")
        seen.add(step.name)


@dataclass(frozen=True)
class RenderedScenario:
    """A scenario rendered for one release and set of facts: what to do and what to expect."""

    plan: ScenarioPlan
    expectations: ScenarioExpectations
