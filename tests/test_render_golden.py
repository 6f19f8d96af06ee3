"""Golden tests: rendered manifests against the seeds, field by field.

Expected manifests are produced by running the seeds' own snippets (heredocs, and the sed
edits of the IP-address variant) in bash; see tests/seed_snippets.py. Every field where the
suite deliberately differs from a seed is listed here with its reason; any other difference
fails.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from programs.runner import CommandRunner
from scenarios import dns_tls, sail_manifests, sail_support
from scenarios.common import MOUNTED_MESH_ROOT, RenderedScenario
from scenarios.facts import Facts
from scenarios.registry import render
from scenarios.releases import IstioRelease, IstioVersion, load_pins
from scenarios.steps import Action, Step
from tests.seed_snippets import field_diff, produce, produce_inline, seed_text

IP = "172.18.255.200"
REMOTE, SECOND = "eicp-remote", "eicp-second"
BUNDLE = "Um9vdENBQnVuZGxl"
SECRET = "external-istiod-gw-cert"
# The releases of the table that offer seed 001's procedure (rendered with it below).
CURRENT = tuple(minor for minor, p in load_pins().profiles.items() if "001" in p.guides.names)


def release(minor: str, guide: str | None = None) -> IstioRelease:
    """The release's pinned patch, following ``guide`` (None: the release's default revision)."""
    pins = load_pins()
    profile = pins.profiles[minor]
    version = IstioVersion.parse(profile.latest_patch or f"{minor}.0")
    return IstioRelease(version=version, profile=profile, hub=profile.hub, tag=str(version), guide=guide)


def sail_release(minor: str) -> IstioRelease:
    """The newest release of ``minor`` the published Sail chart installs (the pinned patch may
    be newer, and then sail is not applicable to it)."""
    newest = sail_support.newest_installable(load_pins().profiles[minor])
    assert newest is not None, f"no Sail chart installs {minor}"
    return load_pins().resolve_release(newest)


def facts(**overrides: Any) -> Facts:
    base = Facts(
        cluster_names={"remote": REMOTE, "second": SECOND},
        external_istiod_addr=IP,
        mesh_root_ca_bundle=BUNDLE,
        external_tls_secret=SECRET,
    )
    return replace(base, **overrides)


def env(addr: str) -> dict[str, str]:
    return {
        "EXTERNAL_ISTIOD_ADDR": addr,
        "SSL_SECRET_NAME": SECRET,
        "REMOTE_CLUSTER_NAME": REMOTE,
        "SECOND_CLUSTER_NAME": SECOND,
    }


def step(rendered: RenderedScenario, name: str) -> Step:
    matches = [s for s in rendered.plan.steps if s.name == name]
    assert len(matches) == 1, f"no single step {name!r} in {[s.name for s in rendered.plan.steps]}"
    return matches[0]


def manifests(rendered: RenderedScenario, name: str) -> list[dict[str, Any]]:
    return list(step(rendered, name).manifests)


def normalise_iop_group(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # operator.istio.io/v1alpha1 (seeds 000/003) and install.istio.io/v1alpha1 name the same
    # IstioOperator kind for istioctl; the suite writes the current group.
    return [
        {**doc, "apiVersion": "install.istio.io/v1alpha1"}
        if doc.get("apiVersion") == "operator.istio.io/v1alpha1"
        else doc
        for doc in docs
    ]


# Suite additions for the private PKI of dns-tls (README.md, dns-tls in a test environment), by path.
CA_BUNDLE_EXTRAS = {
    "spec.values.istiodRemote.injectionCABundle": (BUNDLE, "<absent>"),
    "spec.values.base.validationCABundle": (BUNDLE, "<absent>"),
}
PROXY_ROOT_CHANGES = {
    "spec.meshConfig.defaultConfig.proxyMetadata.XDS_ROOT_CA": (
        MOUNTED_MESH_ROOT,
        "/etc/ssl/certs/ca-certificates.crt",
    ),
    "spec.meshConfig.defaultConfig.proxyMetadata.CA_ROOT_CA": (
        MOUNTED_MESH_ROOT,
        "/etc/ssl/certs/ca-certificates.crt",
    ),
}


def dr_extras(port_index: int) -> dict[str, tuple[Any, Any]]:
    prefix = f"spec.trafficPolicy.portLevelSettings[{port_index}].tls"
    return {
        f"{prefix}.credentialName": (dns_tls.UPSTREAM_CA_SECRET, "<absent>"),
        f"{prefix}.sni": ("istiod.external-istiod.svc", "<absent>"),
        f"{prefix}.subjectAltNames[0]": ("istiod.external-istiod.svc", "<absent>"),
    }


# Every IstioOperator pins the release's image hub (docker.io/istio): images come from a live
# registry, never from istioctl's built-in default (scenarios/common.py with_build).
HUB_PIN = {"spec.hub": ("docker.io/istio", "<absent>")}
SAIL_HUB_PIN = {"spec.values.global.hub": ("docker.io/istio", "<absent>")}


def assert_docs(
    rendered: list[dict[str, Any]],
    expected: list[dict[str, Any]],
    allowed: list[dict[str, tuple[Any, Any]]] | None = None,
) -> None:
    assert [d["kind"] for d in rendered] == [d["kind"] for d in expected]
    for index, (mine, theirs) in enumerate(zip(rendered, expected, strict=True)):
        wanted = dict((allowed or [{}] * len(rendered))[index])
        if mine["kind"] == "IstioOperator" and "hub" not in theirs.get("spec", {}):
            wanted.update(HUB_PIN)
        if mine["kind"] == "Istio" and "hub" not in theirs["spec"].get("values", {}).get("global", {}):
            wanted.update(SAIL_HUB_PIN)  # scenarios/sail_manifests.py: the operator's images are retired
        assert field_diff(mine, theirs) == wanted, f"document {index} ({mine['kind']})"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.mark.parametrize("minor", CURRENT)
def test_ip_passthrough_matches_seed_001_ip_variant(minor: str, runner: CommandRunner, workdir: Path) -> None:
    rendered = render("ip-passthrough", release(minor, "001"), facts())
    text, variables = seed_text("001"), env(IP)

    def seed(name: str, ip: bool = True) -> list[dict[str, Any]]:
        return produce(runner, workdir, text, name, variables, ip_variant=ip)

    assert_docs(manifests(rendered, "external-gateway"), seed("controlplane-gateway.yaml", ip=False))
    assert_docs(manifests(rendered, "remote-config-cluster"), seed("remote-config-cluster.yaml"))
    assert_docs(manifests(rendered, "external-istiod"), seed("external-istiod.yaml"))
    assert_docs(manifests(rendered, "external-istiod-routing"), seed("external-istiod-gw.yaml"))
    assert_docs(manifests(rendered, "remote-ingressgateway"), seed("istio-ingressgateway.yaml", ip=False))
    assert step(rendered, "remote-config-cluster").params["set"] == ["values.defaultRevision=default"]


@pytest.mark.parametrize("minor", CURRENT)
def test_dns_tls_matches_seed_001_main_path(minor: str, runner: CommandRunner, workdir: Path) -> None:
    rendered = render("dns-tls", release(minor, "001"), facts())
    host = dns_tls.TEST_HOSTNAME
    text, variables = seed_text("001"), env(host)

    def seed(name: str) -> list[dict[str, Any]]:
        return produce(runner, workdir, text, name, variables)

    assert_docs(
        manifests(rendered, "remote-config-cluster"), seed("remote-config-cluster.yaml"), [CA_BUNDLE_EXTRAS]
    )
    assert_docs(manifests(rendered, "external-istiod"), seed("external-istiod.yaml"), [PROXY_ROOT_CHANGES])
    assert_docs(
        manifests(rendered, "external-istiod-routing"),
        seed("external-istiod-gw.yaml"),
        [{}, {}, {**dr_extras(0), **dr_extras(1)}],
    )


def test_dns_tls_with_a_real_certificate_is_seed_001_verbatim(runner: CommandRunner, workdir: Path) -> None:
    """With a real hostname and a publicly trusted certificate nothing of the PKI remains."""
    host = "istiod.example.com"
    rendered = render("dns-tls", release("1.30", "001"), facts(external_hostname=host, suite_pki=False))
    text, variables = seed_text("001"), env(host)
    assert_docs(
        manifests(rendered, "remote-config-cluster"),
        produce(runner, workdir, text, "remote-config-cluster.yaml", variables),
    )
    assert_docs(
        manifests(rendered, "external-istiod"),
        produce(runner, workdir, text, "external-istiod.yaml", variables),
    )
    # The guide's Gateway, VirtualService and DestinationRule (plain SIMPLE to istiod).
    assert_docs(
        manifests(rendered, "external-istiod-routing"),
        produce(runner, workdir, text, "external-istiod-gw.yaml", variables),
    )
    names = [s.name for s in rendered.plan.steps]
    assert "publish-hostname-remote" not in names
    assert f"external-secret-{SECRET}" not in names  # the user's secret is used as it is


@pytest.mark.parametrize("scenario", ["dns-tls", "second-remote"])
def test_a_real_certificate_needs_nothing_of_the_suites_pki(scenario: str) -> None:
    """--external-tls-secret: no step creates PKI material or verifies with the PKI root."""
    real = facts(external_hostname="istiod.example.com", suite_pki=False, second_remote_base="dns-tls")
    plan = render(scenario, release("1.30"), real).plan
    for step in (*plan.steps, *plan.uninstall):
        assert step.action is not Action.CREATE_SECRET, step.name
        assert "data_from_pki" not in step.params and step.params.get("ca", "system") == "system", step.name
    text = plan.describe()
    assert "upstream-ca" not in text and "cacerts" not in text
    assert "injectionCABundle" not in text and "validationCABundle" not in text


@pytest.mark.parametrize("minor", CURRENT)
@pytest.mark.parametrize("base", ["ip-passthrough", "dns-tls"])
def test_second_remote_matches_seed_001_adding_clusters(
    minor: str, base: str, runner: CommandRunner, workdir: Path
) -> None:
    rendered = render("second-remote", release(minor, "001"), facts(second_remote_base=base))
    ip = base == "ip-passthrough"
    variables = env(IP if ip else dns_tls.TEST_HOSTNAME)
    expected = produce(
        runner, workdir, seed_text("001"), "second-remote-cluster.yaml", variables, ip_variant=ip
    )
    extras = {} if ip else {"spec.values.istiodRemote.injectionCABundle": (BUNDLE, "<absent>")}
    assert_docs(manifests(rendered, "second-remote-cluster"), expected, [extras])
    annotate = step(rendered, "second-annotate-external-istiod")
    assert annotate.params["annotations"] == {"topology.istio.io/controlPlaneClusters": REMOTE}
    secret = step(rendered, "remote-secret-second")
    assert (secret.role, secret.params["type"], secret.params["name"]) == ("external", "remote", SECOND)


def test_sail_matches_seed_004_external_control_plane(runner: CommandRunner) -> None:
    rel = sail_release("1.30")
    rendered = render("sail", rel, facts(cluster_names={"remote": "cluster2"}))
    text = seed_text("004", after="### External Control Plane")
    variables = {"ISTIO_VERSION": str(rel.version), "EXTERNAL_ISTIOD_ADDR": IP}
    assert_docs(
        manifests(rendered, "remote-istio"), produce_inline(runner, text, "profile: remote", variables)
    )
    assert_docs(
        manifests(rendered, "external-istio"),
        produce_inline(runner, text, "profile: empty", variables),
        [{"spec.version": (f"v{rel.version}", "<absent>")}],  # run the release under test
    )
    assert_docs(
        manifests(rendered, "external-istiod-routing"),
        produce_inline(runner, text, "kind: Gateway", variables),
    )
    assert_docs(
        manifests(rendered, "external-istio-default"),
        produce_inline(runner, text, "name: default", variables),
        # spec.global is no field of the Istio CRD; the value belongs under spec.values.global.
        [
            {
                "spec.values.global.network": ("network1", "<absent>"),
                "spec.global.network": ("<absent>", "network1"),
            }
        ],
    )
    assert step(rendered, "remote-wait-istio").params["deadline_s"] >= 600
    labels = step(rendered, "remote-label-sample").params["labels"]
    assert labels == {"istio.io/rev": sail_manifests.REVISION}


def test_sail_gateway_runs_the_release_proxy_not_a_pinned_image() -> None:
    rendered = render("sail", sail_release("1.30"), facts())
    deployment = next(m for m in manifests(rendered, "external-gateway") if m["kind"] == "Deployment")
    template = deployment["spec"]["template"]
    assert template["spec"]["containers"][0]["image"] == "auto"
    assert template["metadata"]["annotations"]["inject.istio.io/templates"] == "gateway"
    assert template["metadata"]["labels"]["sidecar.istio.io/inject"] == "true"


# --- older releases: seeds 000 (intermediate) and 003 (older) ------------------------------


def test_older_form_dns_tls_matches_seed_000(runner: CommandRunner, workdir: Path) -> None:
    rendered = render("dns-tls", release("1.21"), facts())
    text, variables = seed_text("000"), env(dns_tls.TEST_HOSTNAME)

    def seed(name: str) -> list[dict[str, Any]]:
        return normalise_iop_group(produce(runner, workdir, text, name, variables))

    assert_docs(
        manifests(rendered, "remote-config-cluster"), seed("remote-config-cluster.yaml"), [CA_BUNDLE_EXTRAS]
    )
    assert_docs(manifests(rendered, "external-istiod"), seed("external-istiod.yaml"), [PROXY_ROOT_CHANGES])
    assert_docs(
        manifests(rendered, "external-istiod-routing"),
        seed("external-istiod-gw.yaml"),
        [{}, {}, {**dr_extras(0), **dr_extras(1)}],
    )
    assert_docs(manifests(rendered, "remote-ingressgateway"), seed("istio-ingressgateway.yaml"))
    assert step(rendered, "remote-config-cluster").params["set"] == []
    assert step(rendered, "remote-secret-config").params["command"] == ["x", "create-remote-secret"]
    assert step(rendered, "remote-sleep").params["path"] == "samples/sleep/sleep.yaml"


def test_older_form_external_istiod_is_seed_003_plus_000s_shared_mesh_config(
    runner: CommandRunner, workdir: Path
) -> None:
    rendered = render(
        "dns-tls", release("1.21"), facts(suite_pki=False, external_hostname="istiod.example.com")
    )
    expected = normalise_iop_group(
        produce(runner, workdir, seed_text("003"), "external-istiod.yaml", env("istiod.example.com"))
    )
    # 003 predates SHARED_MESH_CONFIG, which 000 (and 001) add as the last env entry.
    assert_docs(
        manifests(rendered, "external-istiod"),
        expected,
        [
            {
                "spec.components.pilot.k8s.env[4].name": ("SHARED_MESH_CONFIG", "<absent>"),
                "spec.components.pilot.k8s.env[4].value": ("istio", "<absent>"),
            }
        ],
    )


def test_older_form_second_cluster_matches_seeds_000_and_003(runner: CommandRunner, workdir: Path) -> None:
    rendered = render(
        "second-remote",
        release("1.21"),
        facts(second_remote_base="dns-tls", suite_pki=False, external_hostname="istiod.example.com"),
    )
    variables = env("istiod.example.com")
    for seed in ("000", "003"):
        expected = normalise_iop_group(
            produce(runner, workdir, seed_text(seed), "second-config-cluster.yaml", variables)
        )
        assert_docs(manifests(rendered, "second-remote-cluster"), expected)
    secret = step(rendered, "remote-secret-second")
    # Seeds 000/003 apply the second cluster's secret to the config cluster (istio/istio#31946).
    assert (secret.role, secret.params["command"]) == ("remote", ["x", "create-remote-secret"])
    assert (
        "values.gateways.istio-ingressgateway.injectionTemplate=gateway"
        in step(rendered, "remote-eastwest-gateway").params["set"]
    )
    assert {s.role for s in rendered.plan.steps if s.name.endswith("expose-services")} == {"remote", "second"}
