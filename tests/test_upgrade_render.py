"""The upgrade plan (scenarios/upgrade.py): B's own steps, nothing that recreates state, restarts last."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from typing import Any

import pytest

from scenarios import sail_support
from scenarios.common import ScenarioUnavailable
from scenarios.facts import Facts
from scenarios.registry import SCENARIO_IDS, render
from scenarios.releases import IstioRelease, load_pins
from scenarios.steps import Action, ScenarioPlan
from scenarios.upgrade import plan_upgrade, render_upgrade

PINS = load_pins()
PAIRS = [(a, b) for a, b in zip(PINS.supported, PINS.supported[1:], strict=False)]
FACTS = Facts(
    cluster_names={"external": "eicp-external", "remote": "eicp-remote", "second": "eicp-second"},
    api_servers={"remote": "https://172.18.0.3:6443", "second": "https://172.18.0.4:6443"},
    external_istiod_addr="172.18.0.200",
    mesh_root_ca_bundle="TUVTSC1ST09U",
)
# Actions that create or replace state the upgrade must leave alone.
STATEFUL = {
    Action.CREATE_NAMESPACE,
    Action.LABEL_NAMESPACE,
    Action.ANNOTATE_NAMESPACE,
    Action.CREATE_SERVICE_ACCOUNT,
    Action.REMOTE_SECRET,
    Action.CREATE_SECRET,
    Action.PUBLISH_HOSTNAME,
    Action.APPLY_SAMPLE,
    Action.INSTALL_GATEWAY_API_CRDS,
    Action.DELETE,
    Action.MANIFEST_GENERATE_DELETE,
    Action.HELM_UNINSTALL,
}


def release(minor: str, **custom: Any) -> IstioRelease:
    return PINS.resolve_release(minor, **custom)


def release_for(scenario: str, minor: str, **custom: Any) -> IstioRelease:
    """The minor's pinned patch; for sail the newest patch its published chart installs."""
    if scenario == "sail":
        minor = sail_support.newest_installable(PINS.profiles[minor]) or minor
    return release(minor, **custom)


def sail_refused(a: str, b: str) -> bool:
    return sail_support.upgrade_refusal(release_for("sail", a), release_for("sail", b)) is not None


def cases(*, upgradable_only: bool = False) -> list[Any]:
    return [
        pytest.param(s, a, b, id=f"{s}-{a}-to-{b}")
        for a, b in PAIRS
        for s in SCENARIO_IDS
        if not (upgradable_only and s == "sail" and sail_refused(a, b))
    ]


def iops(steps: Any) -> list[dict[str, Any]]:
    return [m for step in steps for m in step.manifests if m.get("kind") == "IstioOperator"]


def test_consecutive_supported_pairs_exist() -> None:
    assert PAIRS and list(pairwise(PINS.supported)) == PAIRS


@pytest.mark.parametrize(("scenario", "a", "b"), cases())
def test_upgrade_takes_release_b_steps_and_recreates_nothing(scenario: str, a: str, b: str) -> None:
    old, new = release_for(scenario, a), release_for(scenario, b)
    if scenario == "sail" and sail_refused(a, b):
        with pytest.raises(
            ScenarioUnavailable, match=r"cannot upgrade sail .*(not applicable|chart changes)"
        ):
            plan_upgrade(scenario, old, new, FACTS)
        return
    plan = plan_upgrade(scenario, old, new, FACTS)
    target = {step.name: step for step in render(scenario, new, FACTS).plan.steps}
    source = {step.name: step for step in render(scenario, old, FACTS).plan.steps}
    assert plan.control_plane, "an upgrade that changes nothing"
    for step in plan.steps:
        assert step.action not in STATEFUL, f"{step.name} ({step.action.value}) recreates state"
        twin = target.get(step.name)
        if twin is None:
            # The one step B's install lacks: the rollout of Sail's restarted external gateway.
            assert (scenario, step.name) == ("sail", "external-wait-gateway-rollout")
        else:
            # Exactly B's step (its seed also names the upgrade practice it now serves).
            assert (step.role, step.action, step.manifests, step.params) == (
                twin.role,
                twin.action,
                twin.manifests,
                twin.params,
            )
            assert step.seed.endswith(twin.seed)
    assert [s.name for s in plan.steps] == render_upgrade_names(scenario, old, new)
    # Control plane steps keep B's install order (remote config cluster before the external istiod).
    order = [name for name in target if name in {s.name for s in plan.control_plane}]
    assert [s.name for s in plan.control_plane] == order
    # The control plane steps are ones the install ran too: the upgrade re-runs, it adds nothing.
    assert {s.name for s in plan.control_plane} <= set(source)


def render_upgrade_names(scenario: str, old: IstioRelease, new: IstioRelease) -> list[str]:
    return [step.name for step in render_upgrade(scenario, old, new, FACTS)]


@pytest.mark.parametrize(("scenario", "a", "b"), cases(upgradable_only=True))
def test_upgrade_uses_release_b_profile_values(scenario: str, a: str, b: str) -> None:
    hub, tag = "registry.example/istio-ci", f"{PINS.profiles[b].latest_patch}-build.7"
    old, new = release_for(scenario, a), release_for(scenario, b, hub=hub, tag=tag)
    plan = plan_upgrade(scenario, old, new, FACTS)
    profile = new.profile
    if scenario == "sail":
        crs = [m for step in plan.control_plane for m in step.manifests if m["kind"] == "Istio"]
        assert {cr["metadata"]["name"] for cr in crs} == {"default", "external-istiod"}
        assert len(crs) == 3
        for cr in crs:
            assert cr["spec"]["version"] == f"v{new.version}"
            assert cr["spec"]["values"]["global"]["hub"] == hub
            assert cr["spec"]["values"]["global"]["tag"] == tag
        remote = next(cr for cr in crs if cr["spec"].get("profile") == "remote")
        assert remote["spec"]["values"]["istiodRemote"]["injectionPath"] == profile.injection_path(
            "eicp-remote", "network1"
        )
        return
    manifests = iops(plan.control_plane)
    assert manifests and all((m["spec"]["hub"], m["spec"]["tag"]) == (hub, tag) for m in manifests)
    remote = next(m for m in manifests if m["spec"].get("profile") == profile.remote_profile)
    paths = remote["spec"]["values"]["istiodRemote"]
    path = profile.injection_path("eicp-remote", "network1")
    assert paths.get("injectionPath") == path or paths.get("injectionURL", "").endswith(path)
    assert remote["spec"]["values"]["global"].get("configCluster") is (
        True if profile.config_cluster_flag else None
    )


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_release_upgrades_leave_hub_and_tag_to_release_b_istioctl(a: str, b: str) -> None:
    """A released B pins its own hub (a live registry) and no tag: B's istioctl (which the
    driver runs) brings B's tag."""
    plan = plan_upgrade("ip-passthrough", release(a), release(b), FACTS)
    hub = release(b).profile.hub
    assert all(m["spec"]["hub"] == hub and "tag" not in m["spec"] for m in iops(plan.control_plane))


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_workloads_restart_after_the_control_plane_and_clients_last(scenario: str) -> None:
    old, new = release_for(scenario, "1.29"), release_for(scenario, "1.30")
    plan = plan_upgrade(scenario, old, new, FACTS)
    exp = render(scenario, new, FACTS).expectations
    helloworld = {(r.role, r.deployment) for r in plan.workloads if r.namespace == "sample"}
    assert helloworld == {(role, f"helloworld-{v}") for role, vs in exp.workloads.items() for v in vs}
    assert [(r.role, r.deployment) for r in plan.clients] == [
        (role, exp.client_app) for role in exp.workloads
    ]
    target = {step.name: step for step in render(scenario, new, FACTS).plan.steps}
    for restart in (*plan.workloads, *plan.clients):
        assert restart.wait.action == Action.WAIT
        assert restart.wait.params["resource"] == f"deployment/{restart.deployment}"
        assert restart.wait.params["for"] == "condition=Available"
        if restart.namespace == "sample":
            assert restart.wait == target[restart.wait.name], "the wait is B's own rollout wait"
    if scenario == "sail":
        # The gateway-injected external gateway only gets B's proxy by a restart.
        assert (plan.workloads[0].role, plan.workloads[0].namespace) == ("external", "istio-system")
    text = plan.describe()
    assert text.index("external-wait-") < text.index("restart deployment/helloworld")
    assert text.rindex("restart deployment/helloworld") < text.index(f"restart deployment/{exp.client_app}")


def test_istioctl_scenarios_reread_the_gateway_address() -> None:
    plan = plan_upgrade("ip-passthrough", release("1.29"), release("1.30"), FACTS)
    wait = next(step for step in plan.control_plane if step.name == "external-gateway-address")
    assert wait.params["provides"] == "external_istiod_addr"


def test_not_newer_target_is_refused() -> None:
    with pytest.raises(ScenarioUnavailable, match="the target must be newer"):
        plan_upgrade("ip-passthrough", release("1.30"), release("1.30"), FACTS)


def test_changed_sample_client_is_refused() -> None:
    old = release("1.29")
    old = replace(old, profile=replace(old.profile, sample_client="sleep"))
    with pytest.raises(ScenarioUnavailable, match="sample client changes from sleep to curl"):
        plan_upgrade("ip-passthrough", old, release("1.30"), FACTS)


def test_a_renderer_that_lost_a_control_plane_step_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    real = render

    def without_istiod(scenario: str, rel: IstioRelease, facts: Facts) -> Any:
        rendered = real(scenario, rel, facts)
        steps = tuple(step for step in rendered.plan.steps if step.name != "external-istiod")
        plan = ScenarioPlan(rendered.plan.scenario, rendered.plan.release, rendered.plan.roles, steps)
        return replace(rendered, plan=plan)

    monkeypatch.setattr("scenarios.upgrade.render", without_istiod)
    with pytest.raises(
        ScenarioUnavailable, match=r"no step 'external-istiod' \[external\] \(istioctl-install\)"
    ):
        plan_upgrade("dns-tls", release("1.29"), release("1.30"), FACTS)


def test_sail_upgrade_support_follows_the_published_charts() -> None:
    """1.30.7 -> 1.31.3 share Sail chart 1.31.2; past what a chart installs, or to a minor
    without a chart, the upgrade is refused with the reason (fixtures refuse it at option time)."""
    assert sail_support.upgrade_refusal(release("1.30.7"), release("1.31.3")) is None
    refusal = sail_support.upgrade_refusal(release("1.30.7"), release("1.30.8"))
    assert refusal is not None and "installs Istio up to 1.30.7" in refusal
    refusal = sail_support.upgrade_refusal(release("1.31.3"), release("1.32.0"))
    assert refusal is not None and "no Sail Operator chart for 1.32 is published" in refusal
    profile = PINS.profiles["1.31"]
    other_chart = replace(release("1.31.3"), profile=replace(profile, sail_chart_version="1.32.0"))
    refusal = sail_support.upgrade_refusal(release("1.30.7"), other_chart)
    assert refusal is not None and "chart changes from 1.31.2 to 1.32.0" in refusal


def test_an_unsupported_sail_upgrade_is_refused_when_the_options_are_read() -> None:
    """--upgrade-to refuses at option time what would install sail on A and then fail to upgrade."""
    a = release("1.30.7")
    refusal = sail_support.refuse_upgrade_option(("sail",), (a,), release("1.30.8"))
    assert refusal is not None and refusal.startswith("--upgrade-to 1.30.8:")
    assert "installs Istio up to 1.30.7" in refusal
    assert sail_support.refuse_upgrade_option(("sail",), (a,), release("1.31")) is None
    assert sail_support.refuse_upgrade_option(("ip-passthrough",), (a,), release("1.30.8")) is None
    # Sail not applicable to A at all: reported as not applicable, not refused.
    assert sail_support.refuse_upgrade_option(("sail",), (release("1.30.8"),), release("1.31")) is None
