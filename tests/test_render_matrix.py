"""Every scenario renders for every supported and candidate release, and keeps the step contract."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace

import pytest

from scenarios import common, dns_tls, sail_support
from scenarios.expectations import ScenarioExpectations
from scenarios.facts import Facts
from scenarios.registry import SCENARIO_IDS, ScenarioUnavailable, render, roles_for
from scenarios.releases import IstioRelease, IstioVersion, load_pins
from scenarios.steps import PARAMS, Action, Step, param_keys
from tests.test_render_golden import facts, release

PINS = load_pins()
RELEASES = (*PINS.supported, *PINS.candidates)
VARIANTS = [
    Facts(),  # nothing known yet: what --plan prints
    facts(),
    facts(ingress="gateway-api"),
    facts(ingress="both", second_remote_base="dns-tls"),
    facts(ingress="gateway-api", egress_gateway="helm"),  # istio.io's doc test, Gateway API variant
    facts(external_hostname="istiod.example.com", suite_pki=False, external_tls_secret="mine"),
]
SEED_REF = re.compile(r"^(00[0-4] §|istio\.io-[0-9a-f]{7} §|README §)")


def release_for(scenario: str, minor: str, guide: str | None = None) -> IstioRelease:
    """The minor's pinned patch; for sail the newest one its published chart installs, if any."""
    if scenario == "sail" and (newest := sail_support.newest_installable(PINS.profiles[minor])):
        return PINS.resolve_release(newest, guide=guide)
    return release(minor, guide)


def rendered_or_unavailable(
    scenario: str, minor: str, variant: Facts, guide: str | None = None
) -> common.RenderedScenario | None:
    rel = release_for(scenario, minor, guide)
    try:
        return render(scenario, rel, variant)
    except ScenarioUnavailable as error:
        reason = str(error)
    # The only combination allowed to be unavailable: Sail where no published chart installs it.
    assert scenario == "sail" and sail_support.unavailable_reason(rel) == reason, reason
    assert "not applicable" in reason and minor in reason
    return None


def check_step(step: Step, roles: tuple[str, ...]) -> None:
    assert step.role in roles, f"{step.name}: role {step.role} not among {roles}"
    assert SEED_REF.match(step.seed), f"{step.name}: seed reference {step.seed!r}"
    required, optional = param_keys(step.action)
    keys = set(step.params)
    assert required <= keys, f"{step.name} ({step.action}): missing params {sorted(required - keys)}"
    assert keys <= required | optional, (
        f"{step.name} ({step.action}): unknown params {sorted(keys - required - optional)}"
    )
    for manifest in step.manifests:
        assert {"apiVersion", "kind"} <= set(manifest), f"{step.name}: manifest without apiVersion/kind"
    if step.action in (
        Action.APPLY,
        Action.ISTIOCTL_INSTALL,
        Action.MANIFEST_GENERATE_APPLY,
        Action.MANIFEST_GENERATE_DELETE,
    ):
        assert step.manifests, f"{step.name}: {step.action} without manifests"


@pytest.mark.parametrize(("scenario", "minor"), list(itertools.product(SCENARIO_IDS, RELEASES)))
def test_every_scenario_renders_for_every_release(scenario: str, minor: str) -> None:
    for guide, variant in itertools.product(PINS.profiles[minor].guides.names, VARIANTS):
        rendered = rendered_or_unavailable(scenario, minor, variant, guide)
        if rendered is None:
            continue
        plan = rendered.plan
        assert plan.roles == roles_for(scenario)
        assert plan.steps and plan.uninstall
        for step in (*plan.steps, *plan.uninstall):
            check_step(step, plan.roles)
            if scenario != "sail":  # seed 004, whatever the istio.io guide revision
                assert step.seed.startswith((f"{guide} §", "README §", "004 §", "001 §")), step.seed
        text = plan.describe()
        assert "PRIVATE KEY" not in text  # PKI material is referenced by name, never embedded
        assert isinstance(rendered.expectations, ScenarioExpectations)
        assert rendered.expectations.istio_version == str(release_for(scenario, minor).version)


def test_params_table_covers_every_action() -> None:
    assert set(PARAMS) == set(Action)


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_learning_a_fact_changes_no_step_before_it(scenario: str) -> None:
    """The facts protocol: steps before a ``provides`` step render the same once the fact arrives."""
    before = render(scenario, release_for(scenario, "1.30"), Facts())
    providers = [i for i, s in enumerate(before.plan.steps) if "provides" in s.params]
    assert providers, "every scenario learns the external gateway's address"
    index = providers[0]
    fact = before.plan.steps[index].params["provides"]
    after = render(scenario, release_for(scenario, "1.30"), Facts().with_fact(fact, "172.18.255.7"))
    assert after.plan.steps[: index + 1] == before.plan.steps[: index + 1]
    assert "<EXTERNAL_ISTIOD_ADDR>" in before.plan.describe()
    assert "<EXTERNAL_ISTIOD_ADDR>" not in "".join(s.describe() for s in after.plan.steps)


def test_unknown_scenario_names_the_accepted_ones() -> None:
    with pytest.raises(ScenarioUnavailable, match=r"'nope'.*ip-passthrough, dns-tls, sail, second-remote"):
        render("nope", release("1.30"), Facts())
    with pytest.raises(ScenarioUnavailable, match="second-remote base 'sail'"):
        render("second-remote", release("1.30"), Facts(second_remote_base="sail"))


def test_injection_path_and_client_follow_the_release_profile() -> None:
    current = render("ip-passthrough", release("1.30"), facts())
    older = render("ip-passthrough", release("1.21"), facts())
    path = current.plan.steps[3].manifests[0]["spec"]["values"]["istiodRemote"]["injectionPath"]
    assert path == "/inject/cluster/eicp-remote/net/network1"
    assert (
        next(s for s in older.plan.steps if s.name == "remote-config-cluster").manifests[0]["spec"]["values"][
            "istiodRemote"
        ]["injectionPath"]
        == "/inject/:ENV:cluster=eicp-remote:ENV:net=network1"
    )
    assert current.expectations.client_app == "curl" and older.expectations.client_app == "sleep"


def test_expectations_agree_with_the_rendered_manifests() -> None:
    rendered = render("second-remote", release("1.30"), facts())
    expected = rendered.expectations
    remote_iop = next(s for s in rendered.plan.steps if s.name == "remote-config-cluster").manifests[0]
    second_iop = next(s for s in rendered.plan.steps if s.name == "second-remote-cluster").manifests[0]
    assert (
        expected.webhooks["remote"][0].path == remote_iop["spec"]["values"]["istiodRemote"]["injectionPath"]
    )
    assert (
        expected.webhooks["second"][0].path == second_iop["spec"]["values"]["istiodRemote"]["injectionPath"]
    )
    assert [h.name for h in expected.webhooks["second"]] == ["istio-sidecar-injector-external-istiod"]
    assert expected.remote_secrets["second"] == ("external-istiod", "istio-remote-secret-eicp-second")
    assert expected.workloads == {"remote": ("v1",), "second": ("v2",)}
    assert expected.expected_versions == ("v1", "v2")
    assert expected.discovery_address == "172.18.255.200:15012"

    dns = render("dns-tls", release("1.30"), facts()).expectations
    assert dns.webhooks["remote"][0].url == (
        f"https://{dns_tls.TEST_HOSTNAME}:15017/inject/cluster/eicp-remote/net/network1"
    )
    assert dns.discovery_address == f"{dns_tls.TEST_HOSTNAME}:15012"


def test_custom_build_pins_hub_and_tag_everywhere() -> None:
    custom = replace(release("1.31"), hub="example.com/istio", tag="1.31-dev", custom=True)
    for scenario in ("ip-passthrough", "second-remote"):
        plan = render(scenario, custom, facts()).plan
        iops = [m for s in plan.steps for m in s.manifests if m["kind"] == "IstioOperator"]
        assert iops and all(
            (m["spec"]["hub"], m["spec"]["tag"]) == ("example.com/istio", "1.31-dev") for m in iops
        )
    sail_custom = replace(release_for("sail", "1.30"), hub="example.com/istio", tag="1.31-dev", custom=True)
    istios = [
        m
        for s in render("sail", sail_custom, facts()).plan.steps
        for m in s.manifests
        if m["kind"] == "Istio"
    ]
    assert all(m["spec"]["values"]["global"]["tag"] == "1.31-dev" for m in istios)


def test_sail_uses_the_pinned_chart_and_the_release_version() -> None:
    rel: IstioRelease = release_for("sail", "1.29")
    plan = render("sail", rel, facts()).plan
    helm = [s for s in plan.steps if s.action is Action.HELM_INSTALL]
    assert {s.role for s in helm} == {"external", "remote"}
    assert {s.params["version"] for s in helm} == {rel.profile.sail_chart_version}
    assert {s.params["repo"] for s in helm} == {"https://istio-ecosystem.github.io/sail-operator"}
    istios = [m for s in plan.steps for m in s.manifests if m["kind"] == "Istio"]
    assert {m["spec"]["version"] for m in istios} == {f"v{rel.version}"}


def test_candidate_without_patch_renders_from_a_full_version() -> None:
    profile = PINS.profiles["1.32"]
    rel = IstioRelease(IstioVersion.parse("1.32.0-alpha.1"), profile, profile.hub, "1.32.0-alpha.1")
    assert render("ip-passthrough", rel, Facts()).plan.release == "1.32.0-alpha.1"


@pytest.mark.parametrize("minor", RELEASES)
def test_sail_is_not_applicable_where_no_published_chart_installs_the_release(minor: str) -> None:
    rel = release(minor)
    reason = sail_support.unavailable_reason(rel)
    profile = PINS.profiles[minor]
    newest = profile.sail_istio_up_to
    expected = (
        profile.sail_chart_version is None or newest is None or rel.version > IstioVersion.parse(newest)
    )
    assert (reason is not None) == expected
    if reason is not None:
        with pytest.raises(ScenarioUnavailable, match="not applicable") as raised:
            render("sail", rel, Facts())
        assert str(raised.value) == reason
