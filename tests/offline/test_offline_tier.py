"""Offline tier (README.md, "Quick start"): every scenario x supported release x guide revision
the release offers (``--guide-revision``: istio.io's page today and seed 001), rendered, then
checked by real tools.

- ``istioctl manifest generate -f`` for every IstioOperator (with the step's ``--set`` flags),
  asserting on what it generates: webhook configurations (names, counts, URLs or service
  paths, cluster and network in the injection path, caBundle), istiod's settings, gateways;
- ``istioctl validate -f`` on every Istio config object;
- Istio config objects against the CRD schemas of the offline istioctl's Istio module, and
  Sail ``Istio`` resources against the CRD of the Sail chart each release pins, both strict
  about unknown fields as ``kubectl apply`` is.

The istioctl is the one built from the Istio source the tiers pin (versions.yaml
``istio_sources``, the release-1.31 branch): it renders the charts of that source for every release, so these
tests check the rendered inputs, not the charts of each release. Core Kubernetes objects
(ServiceAccount, Deployment, Service of the Sail gateways) are not schema-checked here: no
Kubernetes OpenAPI document is available offline.
"""

from __future__ import annotations

import copy
import itertools
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from programs.runner import CommandRunner
from scenarios import dns_tls, sail_support
from scenarios.common import RenderedScenario
from scenarios.expectations import WebhookExpectation
from scenarios.facts import Facts
from scenarios.registry import render
from scenarios.releases import load_pins
from scenarios.steps import Action, Step
from tests.test_render_golden import BUNDLE, IP, REMOTE, SECOND, facts, release, sail_release
from tests.upstream import sail_chart_dir

pytestmark = pytest.mark.offline

PINS = load_pins()
RELEASES = (*PINS.supported, *PINS.candidates)
VARIANTS: dict[str, tuple[str, Facts]] = {
    "ip-passthrough": ("ip-passthrough", facts()),
    "dns-tls": ("dns-tls", facts()),
    "dns-tls-real-cert": ("dns-tls", facts(external_hostname="istiod.example.com", suite_pki=False)),
    "second-remote-ip": ("second-remote", facts()),
    "second-remote-dns": ("second-remote", facts(second_remote_base="dns-tls")),
    "sail": ("sail", facts(ingress="both")),
}
# (variant, minor, guide revision); sail follows its own guide (seed 004): once per minor.
TRIPLES = [
    (variant, minor, guide)
    for variant, minor in itertools.product(VARIANTS, RELEASES)
    for guide in (
        (PINS.profiles[minor].guides.default,)
        if VARIANTS[variant][0] == "sail"
        else PINS.profiles[minor].guides.names
    )
    if not (VARIANTS[variant][0] == "sail" and sail_support.newest_installable(PINS.profiles[minor]) is None)
]
CASES = [pytest.param(v, m, g, id=f"{v}-{m}-{g}") for v, m, g in TRIPLES]
ISTIOCTL_CASES = [pytest.param(v, m, g, id=f"{v}-{m}-{g}") for v, m, g in TRIPLES if VARIANTS[v][0] != "sail"]


def parse_all(text: str) -> list[dict[str, Any]]:
    """YAML documents, parsed by libyaml: the generated manifests carry every Istio CRD."""
    return [doc for doc in yaml.load_all(text, Loader=yaml.CSafeLoader) if doc]


def rendered(variant: str, minor: str, guide: str | None = None) -> RenderedScenario:
    scenario, variant_facts = VARIANTS[variant]
    # sail: the newest release of the minor its published chart installs.
    return render(
        scenario, sail_release(minor) if scenario == "sail" else release(minor, guide), variant_facts
    )


def iop_steps(plan: RenderedScenario) -> list[Step]:
    return [
        s for s in plan.plan.steps if s.action in (Action.ISTIOCTL_INSTALL, Action.MANIFEST_GENERATE_APPLY)
    ]


def istio_objects(plan: RenderedScenario) -> list[dict[str, Any]]:
    objects = [m for s in (*plan.plan.steps, *plan.plan.uninstall) for m in s.manifests]
    unique = {
        json.dumps(m, sort_keys=True): m
        for m in objects
        if m["apiVersion"].startswith("networking.istio.io/")
    }
    return list(unique.values())


_GENERATED: dict[tuple[str, str, tuple[str, ...]], list[dict[str, Any]]] = {}


def generate(runner: CommandRunner, istioctl: Path, tmp: Path, step: Step) -> list[dict[str, Any]]:
    """``istioctl manifest generate`` for a step's IstioOperator (cached: many plans share one)."""
    manifest = step.manifests[0]
    key = (str(istioctl), json.dumps(manifest, sort_keys=True), tuple(step.params.get("set", [])))
    if key not in _GENERATED:
        path = tmp / f"{step.name}.yaml"
        path.write_text(yaml.safe_dump(manifest, sort_keys=False))
        argv = [str(istioctl), "manifest", "generate", "-f", str(path)]
        for value in step.params.get("set", []):
            argv += ["--set", value]
        out = runner.run(
            argv, env={"KUBECONFIG": str(tmp / "no-cluster")}, title=f"manifest generate {step.name}"
        )
        _GENERATED[key] = parse_all(out.stdout)
    return _GENERATED[key]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def assert_webhooks(
    docs: list[dict[str, Any]],
    expected: tuple[WebhookExpectation, ...],
    cluster: str,
    network: str,
    ca_bundle: str | None,
) -> None:
    """What ``manifest generate`` prints is every expected webhook configuration except those
    ``istioctl install`` makes beside it (the default revision tag's), which it must not print."""
    generated = {
        **{("mutating", n): d for n, d in by_kind(docs, "MutatingWebhookConfiguration").items()},
        **{("validating", n): d for n, d in by_kind(docs, "ValidatingWebhookConfiguration").items()},
    }
    printed = tuple(hook for hook in expected if not hook.made_by_istioctl_install)
    assert set(generated) == {(hook.kind, hook.name) for hook in printed}
    for hook in printed:
        webhooks = generated[(hook.kind, hook.name)]["webhooks"]
        assert len(webhooks) == hook.webhook_count, hook.name
        for webhook in webhooks:
            client = webhook["clientConfig"]
            if hook.url is not None:
                assert client == {"url": hook.url, **({"caBundle": ca_bundle} if ca_bundle else {})}, (
                    hook.name
                )
            else:
                assert client["service"]["path"] == hook.path, hook.name
                assert client["service"]["namespace"] == "external-istiod"
            if hook.kind == "mutating":
                where = client.get("url") or client["service"]["path"]
                assert f"/cluster/{cluster}/net/{network}" in where


@pytest.mark.realtools
@pytest.mark.parametrize(("variant", "minor", "guide"), ISTIOCTL_CASES)
def test_istioctl_manifest_generate(
    variant: str, minor: str, guide: str, runner: CommandRunner, istioctl: Path, tmp_path: Path
) -> None:
    plan = rendered(variant, minor, guide)
    procedure = release(minor, guide).procedure
    expected = plan.expectations
    variant_facts = VARIANTS[variant][1]
    uses_url = expected.webhooks["remote"][0].url is not None  # dns-tls addressing
    bundle = BUNDLE if uses_url and variant_facts.suite_pki else None
    steps = {s.name: s for s in iop_steps(plan)}
    assert steps, "every istioctl scenario installs IstioOperators"
    for name, step in steps.items():
        docs = generate(runner, istioctl, tmp_path, step)
        if name == "remote-config-cluster":
            assert_webhooks(docs, expected.webhooks["remote"], REMOTE, "network1", bundle)
            if not uses_url:  # IP addressing: a selector-less istiod Service pointing at the gateway
                slices = by_kind(docs, "EndpointSlice")
                assert slices["istiod"]["endpoints"][0]["addresses"] == [IP]
        elif name == "second-remote-cluster":
            assert_webhooks(docs, expected.webhooks["second"], SECOND, "network2", bundle)
        elif name == "external-istiod":
            deployment = by_kind(docs, "Deployment")["istiod"]
            assert deployment["metadata"]["namespace"] == "external-istiod"
            env_list = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
            env = {e["name"]: e.get("value") for e in env_list}
            # Today's page adds values.global.externalIstiod: true, from which the chart sets
            # EXTERNAL_ISTIOD itself: still one entry, as k8s.env already sets it.
            assert len(env) == len(env_list), [e["name"] for e in env_list]
            injector_values = json.loads(
                by_kind(docs, "ConfigMap")["istio-sidecar-injector"]["data"]["values"]
            )
            assert injector_values["global"]["externalIstiod"] is procedure.external_istiod_value
            assert env["INJECTION_WEBHOOK_CONFIG_NAME"] == (
                "" if uses_url else "istio-sidecar-injector-external-istiod"
            )
            assert env["CLUSTER_ID"] == REMOTE and env["EXTERNAL_ISTIOD"] == "true"
            mesh = yaml.safe_load(by_kind(docs, "ConfigMap")["istio"]["data"]["mesh"])
            assert mesh["defaultConfig"]["discoveryAddress"] == expected.discovery_address
            roots = mesh["defaultConfig"].get("proxyMetadata", {})
            if uses_url:
                want = (
                    "/var/run/secrets/istio/root-cert.pem"
                    if variant_facts.suite_pki
                    else "/etc/ssl/certs/ca-certificates.crt"
                )
                assert roots == {"XDS_ROOT_CA": want, "CA_ROOT_CA": want}
            # operatorManageWebhooks: the external cluster gets no webhook configurations.
            assert not by_kind(docs, "MutatingWebhookConfiguration")
        elif name == "external-gateway":
            service = by_kind(docs, "Service")["istio-ingressgateway"]
            assert {p["port"] for p in service["spec"]["ports"]} >= {15012, 15017}
            assert service["metadata"]["namespace"] == "istio-system"
        elif name == "remote-ingressgateway":
            assert step.manifests[0].get("metadata", {}).get("name") == procedure.ingress_gateway_iop_name
            deployment = by_kind(docs, "Deployment")["istio-ingressgateway"]
            assert deployment["metadata"]["namespace"] == "external-istiod"
            annotations = deployment["spec"]["template"]["metadata"]["annotations"]
            assert annotations["inject.istio.io/templates"] == "gateway"
        elif name.endswith("-eastwest-gateway"):
            network = "network1" if name.startswith("remote") else "network2"
            service = by_kind(docs, "Service")["istio-eastwestgateway"]
            assert service["metadata"]["namespace"] == "external-istiod"
            assert service["metadata"]["labels"]["topology.istio.io/network"] == network
            assert 15443 in {p["port"] for p in service["spec"]["ports"]}
        else:
            pytest.fail(f"no offline assertions for IstioOperator step {name}")


@pytest.mark.realtools
@pytest.mark.parametrize(("variant", "minor", "guide"), CASES)
def test_istioctl_validate_every_istio_config_object(
    variant: str, minor: str, guide: str, runner: CommandRunner, istioctl: Path, tmp_path: Path
) -> None:
    objects = istio_objects(rendered(variant, minor, guide))
    assert objects
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    result = runner.run(
        [str(istioctl), "validate", "-f", str(path)],
        env={"KUBECONFIG": str(tmp_path / "none")},
        check=False,
        title="istioctl validate",
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.realtools
def test_istioctl_validate_rejects_what_it_should(
    runner: CommandRunner, istioctl: Path, tmp_path: Path
) -> None:
    """The validate step can fail: an unknown field in a DestinationRule is refused."""
    objects = istio_objects(rendered("dns-tls", "1.30"))
    broken = copy.deepcopy(next(o for o in objects if o["kind"] == "DestinationRule"))
    broken["spec"]["trafficPolicy"]["portLevelSettings"][0]["tls"]["bogus"] = True
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    result = runner.run(
        [str(istioctl), "validate", "-f", str(path)], env={"KUBECONFIG": str(tmp_path / "none")}, check=False
    )
    assert result.returncode != 0 and "bogus" in result.stdout + result.stderr


# --- schema validation -----------------------------------------------------------------------


def strict(schema: Any) -> Any:
    """A CRD schema that, like ``kubectl apply --validate=strict``, refuses unknown fields."""
    if isinstance(schema, dict):
        out = {key: strict(value) for key, value in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


def object_schema(crd: dict[str, Any], version: str) -> dict[str, Any]:
    for served in crd["spec"]["versions"]:
        if served["name"] == version:
            schema = copy.deepcopy(served["schema"]["openAPIV3Schema"])
            # The API server owns these top-level fields; the CRD schema leaves them out.
            schema.setdefault("properties", {}).update(
                {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}}
            )
            strict_schema: dict[str, Any] = strict(schema)
            return strict_schema
    raise LookupError(f"{crd['metadata']['name']} serves no version {version}")


@cache
def istio_crds(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    crds = parse_all(path.read_text())
    return {(crd["spec"]["group"], crd["spec"]["names"]["kind"]): crd for crd in crds}


def validate(obj: dict[str, Any], crd: dict[str, Any]) -> list[str]:
    version = obj["apiVersion"].split("/")[1]
    validator = jsonschema.Draft7Validator(object_schema(crd, version))
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]


@pytest.mark.parametrize(("variant", "minor", "guide"), CASES)
def test_istio_config_objects_match_the_istio_crd_schemas(
    variant: str, minor: str, guide: str, istio_crds_file: Path
) -> None:
    crds = istio_crds(istio_crds_file)
    for obj in istio_objects(rendered(variant, minor, guide)):
        crd = crds[(obj["apiVersion"].split("/")[0], obj["kind"])]
        assert validate(obj, crd) == [], f"{obj['kind']}/{obj['metadata']['name']}"


def test_strict_schema_catches_an_unknown_field(istio_crds_file: Path) -> None:
    objects = istio_objects(rendered("ip-passthrough", "1.30"))
    gateway = copy.deepcopy(next(o for o in objects if o["kind"] == "Gateway"))
    gateway["spec"]["servers"][0]["tls"]["credentialNames_typo"] = "x"
    crd = istio_crds(istio_crds_file)[("networking.istio.io", "Gateway")]
    assert any("credentialNames_typo" in error for error in validate(gateway, crd))


_SAIL_CRDS: dict[str, dict[str, Any]] = {}


def sail_crd(chart_version: str) -> dict[str, Any]:
    """The Istio CRD of the Sail chart at ``chart_version`` (its Go module or Helm repository,
    tests/upstream.py; skipped with the reason when neither can be had)."""
    if chart_version not in _SAIL_CRDS:
        crd_file = sail_chart_dir(chart_version) / "crds" / "sailoperator.io_istios.yaml"
        _SAIL_CRDS[chart_version] = parse_all(crd_file.read_text(encoding="utf-8"))[0]
    return _SAIL_CRDS[chart_version]


SAIL_CASES = [minor for minor in RELEASES if sail_support.newest_installable(PINS.profiles[minor])]


@pytest.mark.parametrize("minor", SAIL_CASES)
def test_sail_istio_resources_match_the_pinned_charts_crd(minor: str) -> None:
    crd = sail_crd(PINS.profiles[minor].sail_chart_version or "")
    plan = rendered("sail", minor)
    istios = [m for s in plan.plan.steps for m in s.manifests if m["kind"] == "Istio"]
    assert len(istios) == 3
    for obj in istios:
        assert validate(obj, crd) == [], f"Istio/{obj['metadata']['name']}"


def test_sail_schema_rejects_the_seeds_spec_global() -> None:
    """Why the suite moves seed 004's ``spec.global`` under ``spec.values``."""
    crd = sail_crd(PINS.profiles["1.30"].sail_chart_version or "")
    seed_form = {
        "apiVersion": "sailoperator.io/v1",
        "kind": "Istio",
        "metadata": {"name": "default"},
        "spec": {"version": "v1.30.3", "namespace": "istio-system", "global": {"network": "network1"}},
    }
    assert any("global" in error for error in validate(seed_form, crd))


def test_dns_tls_names_are_concrete_in_offline_renders() -> None:
    text = rendered("dns-tls", "1.30").plan.describe()
    assert dns_tls.TEST_HOSTNAME in text and "<MESH_ROOT_CA_BUNDLE>" not in text
