"""dns-tls: seed 001's main path. The remotes reach the external istiod by a DNS hostname.

TLS is terminated at the external gateway (``SIMPLE`` with ``credentialName``) and a
DestinationRule re-originates it to istiod; the remote profile uses ``injectionURL`` and
``validationURL``. In a test environment (README.md) the suite brings what a production
setup has: a per-run PKI (scenarios/pki.py) whose intermediate is istiod's plugin CA
(``cacerts``) and whose root signs the gateway's certificate, so proxies verify the gateway
with the mesh root they mount (``XDS_ROOT_CA``/``CA_ROOT_CA``) and the remote API server with
the webhooks' ``caBundle``; and a test hostname made resolvable in the remote cluster. With a
real hostname and certificate (``Facts.external_hostname``, ``suite_pki=False``) the same
steps run without the name publishing and with the system roots, as seed 001 writes them;
its DestinationRule (``SIMPLE`` without a CA) then has the gateway verify istiod's own
certificate against the system roots, known issue ``gateway-verifies-istiod-with-system-roots``
(suites/known_issues.yaml), unless the run applies ``--workaround gateway-trusts-istiod-ca``.
"""

from __future__ import annotations

from dataclasses import replace

from scenarios import common, pki
from scenarios.common import EXTERNAL_NS, ISTIO_SYSTEM, RenderContext, RenderedScenario
from scenarios.egress import egress_gateway_expectation
from scenarios.expectations import ScenarioExpectations
from scenarios.external import external_istiod_iop, istiod_routing
from scenarios.facts import Facts, placeholder
from scenarios.istioctl_flow import Flow, Hook, render_flow
from scenarios.releases import IstioRelease
from scenarios.remote import config_cluster_expectations, remote_cluster_iop, remote_webhooks
from scenarios.steps import Action, Role, Step
from scenarios.workarounds import GATEWAY_TRUSTS_ISTIOD_CA

SCENARIO = "dns-tls"
ROLES: tuple[Role, ...] = ("external", "remote")

# The suite's test name when no real one is given; .test is reserved for testing (RFC 2606).
TEST_HOSTNAME = "istiod.external-istiod.eicp.test"
# The CA-only secret the gateway verifies istiod with (DestinationRule credentialName).
UPSTREAM_CA_SECRET = "external-istiod-upstream-ca"
SUITE_PKI_SOURCE = "README §dns-tls in a test environment"
WORKAROUND_NOTE = f" (with the workaround {GATEWAY_TRUSTS_ISTIOD_CA})"


def gateway_hostname(facts: Facts) -> str:
    """The name the remotes use for the external gateway (also the gateway certificate's SAN)."""
    return facts.external_hostname or TEST_HOSTNAME


def publishes_hostname(facts: Facts) -> bool:
    """The suite makes its test name resolvable; a real name is resolved by real DNS, except in
    clusters that have none (kwok), where the suite publishes it as well."""
    return facts.external_hostname is None or not facts.clusters_have_dns


def gateway_verifies_istiod_ca(facts: Facts) -> bool:
    """The gateway -> istiod DestinationRule names the CA that issued istiod's certificate: the
    suite's per-run PKI (its intermediate is istiod's plug-in CA), by default or as a workaround."""
    return facts.suite_pki or GATEWAY_TRUSTS_ISTIOD_CA in facts.workarounds


def uses_suite_pki(facts: Facts) -> bool:
    """Whether the run needs its per-run PKI (the gateway's certificate, istiod's CA, or both)."""
    return gateway_verifies_istiod_ca(facts)


def ca_bundle(facts: Facts) -> str | None:
    if not facts.suite_pki:
        # The CA of the user's secret file (clusters the run creates trust no CA of the
        # user's), else a real CA: the API server's system roots verify the gateway.
        return facts.external_tls_ca_bundle
    return facts.mesh_root_ca_bundle or placeholder("mesh_root_ca_bundle")


def user_secret_steps(ctx: RenderContext) -> list[Step]:
    """The user's gateway secret, created from its manifest where the guide expects it to exist
    (``--external-tls-secret-file``: clusters the run creates)."""
    facts = ctx.facts
    if facts.suite_pki or facts.external_tls_secret_file is None:
        return []
    step = Step(
        f"external-secret-{facts.external_tls_secret}",
        "external",
        Action.CREATE_SECRET,
        f"{ctx.seed} §Set up a gateway in the external cluster, step 3 (SSL_SECRET_NAME, from your file)",
        params={
            "namespace": ISTIO_SYSTEM,
            "name": facts.external_tls_secret,
            "type": "kubernetes.io/tls",
            "data_from_file": facts.external_tls_secret_file,
        },
    )
    return [step]


def publish_step(ctx: RenderContext, role: Role, seed: str, *, remove: bool = False) -> Step:
    params: dict[str, object] = {
        "hostname": gateway_hostname(ctx.facts),
        "address": ctx.addr,
        # pods resolve through the cluster DNS, the API server (webhook calls) through the node.
        "scopes": ["pods", "node"],
    }
    if remove:
        params["remove"] = True
    return Step(
        f"{'unpublish' if remove else 'publish'}-hostname-{role}",
        role,
        Action.PUBLISH_HOSTNAME,
        seed,
        params=params,
    )


def precondition_step(ctx: RenderContext, role: Role) -> Step:
    return Step(
        f"{role}-precondition-gateway-name-and-tls",
        role,
        Action.PRECONDITION,
        f"{SUITE_PKI_SOURCE} (verify resolution and the certificate chain as a precondition)",
        params={
            "check": "hostname-resolves-and-tls-verifies",
            "hostname": gateway_hostname(ctx.facts),
            "ports": [15012, 15017],
            # From a pod in this namespace of the remote: resolve, connect, verify the chain.
            "namespace": EXTERNAL_NS,
            "ca": _precondition_ca(ctx.facts),
            "deadline_s": ctx.deadline("hostname-precondition"),
        },
    )


def _precondition_ca(facts: Facts) -> str:
    if facts.suite_pki:
        return f"pki:{pki.ROOT_CERT}"
    bundle = ca_bundle(facts)
    return f"base64:{bundle}" if bundle else "system"


def secret_step(name: str, namespace: str, secret_type: str, layout: dict[str, str], seed: str) -> Step:
    return Step(
        f"external-secret-{name}",
        "external",
        Action.CREATE_SECRET,
        seed,
        params={"namespace": namespace, "name": name, "type": secret_type, "data_from_pki": dict(layout)},
    )


def pki_steps(ctx: RenderContext) -> dict[Hook, list[Step]]:
    """What the suite's per-run PKI adds: the gateway certificate, istiod's plug-in CA
    (``cacerts``) and the CA the gateway verifies istiod with. With a real certificate
    (``--external-tls-secret``) there is none of it: the user's secret already exists, istiod
    keeps its own CA, and the DestinationRule is the guide's plain ``SIMPLE``, unless the run
    works around the known issue that makes (``gateway-trusts-istiod-ca``): then istiod's CA and
    the CA the gateway verifies it with still come from the PKI."""
    facts = ctx.facts
    if not gateway_verifies_istiod_ca(facts):
        return {}
    gateway_tls = secret_step(
        facts.external_tls_secret,
        ISTIO_SYSTEM,
        "kubernetes.io/tls",
        pki.GATEWAY_TLS_LAYOUT,
        f"{ctx.seed} §Set up a gateway in the external cluster, step 3 (SSL_SECRET_NAME); {SUITE_PKI_SOURCE}",
    )
    upstream_ca = secret_step(
        UPSTREAM_CA_SECRET,
        ISTIO_SYSTEM,
        "Opaque",
        pki.ROOT_CA_LAYOUT,
        f"{SUITE_PKI_SOURCE} (gateway -> istiod)",
    )
    cacerts = secret_step(
        "cacerts",
        EXTERNAL_NS,
        "Opaque",
        pki.CACERTS_LAYOUT,
        f"004 §Common Setup, steps 4-6 (plug-in CA as cacerts); {SUITE_PKI_SOURCE}",
    )
    if not facts.suite_pki:
        noted = [replace(step, seed=step.seed + WORKAROUND_NOTE) for step in (cacerts, upstream_ca)]
        return {"before_istiod": noted[:1], "before_routing": noted[1:]}
    return {"before_istiod": [cacerts], "before_routing": [gateway_tls, upstream_ca]}


def flow(ctx: RenderContext) -> Flow:
    facts = ctx.facts
    host = gateway_hostname(facts)
    root_path = common.MOUNTED_MESH_ROOT if facts.suite_pki else common.SYSTEM_ROOTS
    extra = pki_steps(ctx)
    if user_secret_steps(ctx):
        extra["before_routing"] = user_secret_steps(ctx) + extra.get("before_routing", [])
    if publishes_hostname(facts):
        extra["after_address"] = [publish_step(ctx, "remote", SUITE_PKI_SOURCE)]
    extra["after_routing"] = [precondition_step(ctx, "remote")]
    return Flow(
        addressing="dns",
        host=host,
        remote_iop=remote_cluster_iop(ctx, "remote", "dns", host, ca_bundle=ca_bundle(facts)),
        external_iop=external_istiod_iop(ctx, "dns", host, root_ca_path=root_path),
        routing=istiod_routing(
            host,
            "dns",
            ctx.procedure.routing_api_versions,
            credential_name=facts.external_tls_secret,
            upstream_ca_credential=UPSTREAM_CA_SECRET if gateway_verifies_istiod_ca(facts) else None,
        ),
        extra=extra,
        extra_uninstall=[publish_step(ctx, "remote", SUITE_PKI_SOURCE, remove=True)]
        if publishes_hostname(facts)
        else [],
        routing_note="" if facts.suite_pki or not gateway_verifies_istiod_ca(facts) else WORKAROUND_NOTE,
    )


def expectations(ctx: RenderContext, scenario: str = SCENARIO) -> ScenarioExpectations:
    host = gateway_hostname(ctx.facts)
    hooks = remote_webhooks(ctx, "remote", "dns", host, ca_bundle_required=ca_bundle(ctx.facts) is not None)
    expected = config_cluster_expectations(
        ctx,
        scenario,
        hooks,
        host,
        watches_own_namespace_secrets=ctx.procedure.local_cluster_secret_watcher,
        egress_gateway=egress_gateway_expectation(ctx),
    )
    return replace(
        expected, gateway_verifies_istiod_with_system_roots=not gateway_verifies_istiod_ca(ctx.facts)
    )


def render(release: IstioRelease, facts: Facts) -> RenderedScenario:
    ctx = RenderContext(release, facts)
    return render_flow(ctx, SCENARIO, ROLES, flow(ctx), expectations(ctx))
