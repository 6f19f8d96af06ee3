"""One decision says where a check runs (suites/applicability.py), at collection and when the upgrade
judges again. It covers what four mechanisms did before: a scenario its mode cannot run (sail,
dns-tls on kwok), real traffic where no Envoy runs, the xDS check where real traffic is measured,
and a scenario its release cannot install. Layer 1 (pure) and the real collection in a child
pytest (fake tools on PATH prove nothing runs)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from clusters.capabilities import Capability
from clusters.providers import provider_spec
from scenarios.facts import Facts
from scenarios.registry import SCENARIO_IDS
from scenarios.releases import load_pins
from suites import registry
from suites.applicability import CheckNeeds, decide
from suites.evaluation.evaluators.verdict import Verdict
from tests.fakeexec import FakeTools

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
KIND, EXISTING, KWOK = (provider_spec(mode).capabilities for mode in ("kind", "existing", "kwok"))
MESH = "traffic/test_mesh_traffic_from_each_client"
XDS = "traffic/test_client_sidecars_route_helloworld_evenly"
ISTIOD = "controlplane/test_external_istiod_available_with_release"


def check(check_id: str) -> CheckNeeds:
    return next(c.needs for c in registry.checks() if c.id == check_id)


def release(minor: str) -> Any:
    return load_pins().resolve_release(minor)


# -- the decision (layer 1) ---------------------------------------------------------------------


@pytest.mark.parametrize("capabilities", [KIND, EXISTING], ids=["kind", "existing"])
def test_where_pods_run_their_images_every_scenario_and_real_traffic_run(capabilities: Any) -> None:
    facts = Facts(external_hostname="istiod.example.com")  # existing clusters need a real name
    for scenario in SCENARIO_IDS:
        assert decide(check(MESH), scenario, facts, capabilities).runs, scenario
        assert decide(check(ISTIOD), scenario, facts, capabilities).runs


def test_kwok_runs_the_control_plane_scenarios_and_says_why_not_the_others() -> None:
    for scenario in ("ip-passthrough", "second-remote", "dns-tls"):  # dns-tls: hosts files, HAProxy
        assert decide(check(ISTIOD), scenario, Facts(), KWOK).runs, scenario
    sail = decide(check(ISTIOD), "sail", Facts(), KWOK)
    assert not sail.runs and sail.required
    assert sail.reason.startswith("not applicable in kwok mode: scenario sail needs real-data-plane")
    assert (
        "Sail operator" in sail.reason and "not served" in sail.reason and "no operator image" in sail.reason
    )
    assert decide(check(ISTIOD), "second-remote", Facts(second_remote_base="dns-tls"), KWOK).runs


def test_a_scenario_needs_what_it_builds_on_needs() -> None:
    # second-remote on dns-tls publishes the test hostname: clusters that cannot are refused it.
    on_dns = decide(check(ISTIOD), "second-remote", Facts(second_remote_base="dns-tls"), EXISTING)
    assert not on_dns.runs and on_dns.reason.startswith(
        "not applicable in existing mode: scenario second-remote needs publishes-hostnames"
    )
    real_name = Facts(second_remote_base="dns-tls", external_hostname="istiod.example.com")
    assert decide(check(ISTIOD), "second-remote", real_name, EXISTING).runs


def test_real_traffic_is_skipped_with_the_reason_where_no_envoy_runs() -> None:
    decision = decide(check(MESH), "ip-passthrough", Facts(), KWOK)
    assert not decision.runs and decision.required  # a run without it is partial, never success
    assert decision.reason == (
        f"not applicable in kwok mode: {MESH} needs real-data-plane (real requests through the sidecars "
        f"and gateways); {KWOK.why_not(Capability.REAL_DATA_PLANE)}"
    )


def test_the_xds_check_runs_in_every_mode() -> None:
    for capabilities in (KIND, EXISTING, KWOK):
        assert decide(check(XDS), "second-remote", Facts(), capabilities).runs


def test_a_check_only_with_a_capability_is_left_out_where_it_is_lacking() -> None:
    only = CheckNeeds("family/test_reads_node_files", only_with={Capability.NODE_CONTAINERS: "it reads them"})
    decision = decide(only, "ip-passthrough", Facts(), KWOK)
    assert not decision.runs and not decision.required  # no part of the conformance there
    assert "node-containers (it reads them), which kwok mode lacks" in decision.reason
    assert decide(only, "ip-passthrough", Facts(), KIND).runs


def test_a_scenario_its_release_cannot_install_is_skipped_with_the_reason() -> None:
    pins = load_pins()
    no_chart = next(m for m, profile in pins.profiles.items() if profile.sail_chart_version is None)
    candidate = pins.resolve_release(f"{no_chart}.0-alpha.1")  # no Sail chart installs it
    decision = decide(check(ISTIOD), "sail", Facts(), KIND, candidate)
    assert not decision.runs and decision.required
    assert decision.reason.startswith(f"scenario sail is not applicable to Istio {candidate.version}")
    assert decide(check(ISTIOD), "ip-passthrough", Facts(), KIND, candidate).runs


def test_required_checks_follow_the_same_decision() -> None:
    kind = registry.required_checks("ip-passthrough", False, KIND)
    kwok = registry.required_checks("ip-passthrough", True, KWOK)
    assert tuple(XDS.split("/")) in kind and tuple(MESH.split("/")) in kind
    assert tuple(XDS.split("/")) in kwok and tuple(MESH.split("/")) in kwok  # skipped there: partial
    assert kwok[-1] == registry.UPGRADE_CHECK


# -- the upgrade's judging again (layer 1: the registry's own checks, their functions recorded) --


@pytest.fixture
def called(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []

    def recorder(check_id: str) -> Any:
        def function(**_: object) -> None:
            seen.append(check_id)

        return function

    recorded = tuple(replace(c, function=recorder(c.id)) for c in registry.checks())
    monkeypatch.setattr(registry, "checks", lambda: recorded)
    return seen


def _view(capabilities: Any, scenario: str = "ip-passthrough", facts: Facts | None = None) -> Any:
    topology: Any = type("T", (), {"capabilities": capabilities})()
    return registry.ScenarioView(scenario, release("1.30"), topology, None, Path("."), facts or Facts())  # type: ignore[arg-type]


def test_judging_again_asks_the_same_decision(called: list[str]) -> None:
    assert registry.judge_again(_view(KWOK), None, "") == []  # type: ignore[arg-type]
    assert XDS in called and MESH not in called and ISTIOD in called
    called.clear()
    registry.judge_again(_view(KIND), None, "")  # type: ignore[arg-type]
    assert MESH in called and XDS in called
    called.clear()
    registry.judge_again(_view(KWOK, "sail"), None, "")  # type: ignore[arg-type]
    assert called == []  # the scenario itself cannot run on kwok


def test_a_check_that_skips_when_judged_again_gives_no_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    def skips(**_: object) -> None:
        pytest.skip("no ingress gateway")

    def fails(**_: object) -> None:
        pytest.fail("broken")

    first, second = registry.checks()[:2]
    monkeypatch.setattr(
        registry, "checks", lambda: (replace(first, function=skips), replace(second, function=fails))
    )
    verdicts: list[Verdict] = registry.judge_again(_view(KIND), None, "see diagnostics")  # type: ignore[arg-type]
    assert [v.check for v in verdicts] == [second.id] and verdicts[0].problems == ("broken",)


# -- the real collection (a child pytest, --collect-only) ---------------------------------------

PRINTER = """
def pytest_collection_finish(session):
    for item in session.items:
        skip = item.get_closest_marker("skip")
        print("EICP-ITEM", item.nodeid, "|", skip.kwargs["reason"] if skip else "runs")
"""


def _collect(pytester: pytest.Pytester, fake_tools: FakeTools, *args: str) -> tuple[dict[str, str], str]:
    for tool in ("kind", "kubectl", "istioctl", "helm", "docker", "cloud-provider-kind", "kwokctl"):
        fake_tools.install(tool).default(exit=97)
    pytester.makepyfile(eicp_item_printer=PRINTER)
    result = pytester.runpytest_subprocess(
        "-c", str(REPO / "pyproject.toml"), f"--rootdir={REPO}", "-p", "eicp_item_printer",
        "--collect-only", "-q", "--report-dir", str(pytester.path / "report"), *args, str(REPO / "suites"),
    )  # fmt: skip
    text = result.stdout.str()
    assert result.ret == 0, text + result.stderr.str()
    assert fake_tools.calls() == [], "collection must not run any tool"
    items = dict(re.findall(r"^EICP-ITEM \S+::(\S+) \| (.*)$", text, re.MULTILINE))
    return items, text


def test_collection_skips_and_leaves_out_through_the_one_decision(
    pytester: pytest.Pytester, fake_tools: FakeTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(pytester.path))
    label = f"{release('1.30').version}"
    kwok, text = _collect(
        pytester, fake_tools, "--topology-mode", "kwok", "--istio-version", "1.30",
        "--scenario", "ip-passthrough", "--scenario", "sail",
    )  # fmt: skip
    assert kwok[f"test_client_sidecars_route_helloworld_evenly[ip-passthrough-{label}]"] == "runs"
    assert kwok[f"test_mesh_traffic_from_each_client[ip-passthrough-{label}]"].startswith(
        "not applicable in kwok mode: traffic/test_mesh_traffic_from_each_client needs real-data-plane"
    )
    assert kwok[f"test_external_istiod_available_with_release[ip-passthrough-{label}]"] == "runs"
    sail = [reason for item, reason in kwok.items() if item.endswith(f"[sail-{label}]")]
    assert sail and all(r.startswith("not applicable in kwok mode: scenario sail needs") for r in sail)
    kind, text = _collect(pytester, fake_tools, "--istio-version", "1.30", "--scenario", "ip-passthrough")
    assert kind[f"test_client_sidecars_route_helloworld_evenly[ip-passthrough-{label}]"] == "runs"
    # The upgrade check (no --upgrade-to) and the egress gateway's (no --egress-gateway helm).
    assert "(2 deselected)" in text
    assert all(reason == "runs" for reason in kind.values())
