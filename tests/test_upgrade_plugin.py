"""fixtures/upgrade_plugin.py as a plugin: deselected without --upgrade-to, right after its scenario with it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fixtures.upgrade_plugin import istiod_rolled_out, order_upgrades_after_their_scenario
from scenarios.releases import load_pins
from tests.checks_fakes import istiod_deployment
from tests.fakeexec import FakeTools

V29 = str(load_pins().resolve_release("1.29").version)  # the release under test, from the table

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
_ITEM = re.compile(r"^(suites/\S+::\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class Item:
    name: str
    label: str
    upgrade: bool = False


def test_order_puts_each_upgrade_after_its_scenario_and_keeps_the_rest() -> None:
    items = [
        Item("cp", "a"),
        Item("up", "a", True),
        Item("inj", "a"),
        Item("up", "b", True),
        Item("cp", "b"),
        Item("traffic", "b"),
        Item("up", "c", True),
    ]
    ordered: Any = order_upgrades_after_their_scenario(
        items,  # type: ignore[arg-type]
        upgrade=lambda item: item.upgrade,  # type: ignore[attr-defined]
        label=lambda item: item.label,  # type: ignore[attr-defined]
    )
    assert [(i.name, i.label) for i in ordered] == [
        ("cp", "a"),
        ("inj", "a"),
        ("up", "a"),
        ("cp", "b"),
        ("traffic", "b"),
        ("up", "b"),
        ("up", "c"),  # nothing else of c was selected: it keeps its place at the end
    ]


@pytest.fixture
def collect(pytester: pytest.Pytester, fake_tools: FakeTools) -> Any:
    for tool in ("kind", "kubectl", "istioctl", "helm", "docker", "cloud-provider-kind"):
        fake_tools.install(tool).default(exit=97)

    def run(*args: str) -> tuple[list[str], str]:
        result = pytester.runpytest_subprocess(
            "-c",
            str(REPO / "pyproject.toml"),
            f"--rootdir={REPO}",
            "-p",
            "fixtures.upgrade_plugin",
            "--collect-only",
            "-q",
            "--report-dir",
            str(pytester.path / "report"),
            *args,
            str(REPO / "suites"),
        )
        text = result.stdout.str()
        assert result.ret == 0, text + result.stderr.str()
        assert fake_tools.calls() == [], "collection must not run any tool"
        return _ITEM.findall(text), text

    return run


def _deselected(text: str) -> int:
    found = re.search(r"(\d+) deselected", text)
    return int(found.group(1)) if found else 0


def test_without_upgrade_to_the_upgrade_tests_are_deselected(collect: Any) -> None:
    items, text = collect("--scenario", "ip-passthrough", "--istio-version", "1.29")
    assert items and not any("test_upgrade.py" in item for item in items)
    # Exactly the one upgrade test more than with --upgrade-to (other plugins may deselect too:
    # checks of another topology mode).
    _, with_upgrade = collect(
        "--scenario", "ip-passthrough", "--istio-version", "1.29", "--upgrade-to", "1.30"
    )
    assert _deselected(text) == _deselected(with_upgrade) + 1, text


def test_with_upgrade_to_each_scenario_upgrades_after_its_checks(collect: Any) -> None:
    items, _ = collect(
        "--scenario",
        "ip-passthrough",
        "--scenario",
        "second-remote",
        "--istio-version",
        "1.29",
        "--upgrade-to",
        "1.30",
    )
    labels = [re.sub(r".*\[(.*)\]$", r"\1", item) for item in items]
    assert set(labels) == {f"ip-passthrough-{V29}", f"second-remote-{V29}"}
    for label in set(labels):
        mine = [index for index, seen in enumerate(labels) if seen == label]
        assert mine == list(range(mine[0], mine[-1] + 1)), "a scenario's checks stay together"
        assert "suites/test_upgrade.py::" in items[mine[-1]], f"{label}: the upgrade is not its last check"
        assert sum("test_upgrade.py" in items[index] for index in mine) == 1


def test_istiod_rollout_predicate() -> None:
    done, state = istiod_rolled_out(istiod_deployment("1.30.3"), "1.30.3")
    assert done and "pilot:1.30.3" in state
    assert not istiod_rolled_out(istiod_deployment("1.29.6"), "1.30.3")[0]
    rolling = istiod_deployment("1.30.3", replicas=2)
    rolling["status"]["updatedReplicas"] = 1
    assert not istiod_rolled_out(rolling, "1.30.3")[0]
    unobserved = istiod_deployment("1.30.3")
    unobserved["metadata"]["generation"] = 3
    done, state = istiod_rolled_out(unobserved, "1.30.3")
    assert not done and "generation not yet observed" in state


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("ip-passthrough", {("remote", "external-istiod", "istio-ingressgateway")}),  # IstioOperator
        ("sail", {("remote", "external-istiod", "istio-ingressgateway")}),  # a Deployment, template gateway
        (
            "second-remote",
            {
                ("remote", "external-istiod", "istio-ingressgateway"),
                ("remote", "external-istiod", "istio-eastwestgateway"),
                ("second", "external-istiod", "istio-eastwestgateway"),
            },
        ),
    ],
)
def test_the_upgrade_restarts_every_gateway_injected_gateway_outside_the_external_cluster(
    scenario: str, expected: set[tuple[str, str, str]]
) -> None:
    """Issue 10 item 8: their pods keep release A's proxy until they are replaced."""
    from install.upgrade_gateways import gateway_restarts
    from scenarios.facts import Facts
    from scenarios.registry import render
    from scenarios.releases import load_pins

    # sail: a release its published chart installs (the newest 1.30 patch may be newer).
    plan = render(
        scenario, load_pins().resolve_release("1.30.3" if scenario == "sail" else "1.30"), Facts()
    ).plan
    restarts = gateway_restarts(plan)
    assert {(r.role, r.namespace, r.deployment) for r in restarts} == expected
    for restart in restarts:  # each waits for its rollout, B's own wait where B's plan has one
        assert restart.wait.params["resource"] == f"deployment/{restart.deployment}"
        assert restart.wait.params["for"] == "condition=Available"
