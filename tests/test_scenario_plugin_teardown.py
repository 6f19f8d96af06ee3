"""The scenario plugin's install and teardown: one install per scenario, a verified uninstall
before the next (a leftover fails the run loudly), a replacement installation (the upgrade's
release B) uninstalled first, and diagnostics collected once, at the first failure or at teardown."""

from __future__ import annotations

import textwrap

import pytest

from install.installer import Installer
from scenarios.releases import load_pins
from scenarios.steps import ScenarioPlan
from tests.fakeexec import FakeTools
from tests.scenario_plugin_support import CHECKS, FAKE_WORLD, fake_cluster
from tests.test_upgrade_check import World, run, script_cluster
from tests.test_upgrade_check import world as upgrade_world  # noqa: F401 -- the fixture, as `upgrade_world`

V30 = str(load_pins().resolve_release("1.30").version)  # the releases under test, from the table
V29 = str(load_pins().resolve_release("1.29").version)

pytest_plugins = ["pytester"]


def test_each_scenario_is_installed_once_and_uninstalled_before_the_next(
    pytester: pytest.Pytester, fake_tools: FakeTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_cluster(fake_tools)
    events = pytester.path / "events.txt"
    monkeypatch.setenv("EVENTS", str(events))
    pytester.makeconftest(FAKE_WORLD)
    pytester.makepyfile(test_checks=CHECKS)
    result = pytester.runpytest(
        "--scenario",
        "ip-passthrough",
        "--scenario",
        "second-remote",
        "--istio-version",
        "1.30",
        "--tools-dir",
        str(pytester.path / "cache/tools"),
    )
    result.assert_outcomes(passed=4)
    creates = [line for line in fake_tools.lines("kubectl") if " create namespace " in line]
    deletes = [line for line in fake_tools.lines("kubectl") if " delete " in line]
    assert len(creates) == 2 and len(deletes) == 2  # once per scenario, not per check
    order = [
        line.split(" create namespace ")[1].split()[0] if " create " in line else line.split()[-1]
        for line in fake_tools.lines("kubectl")
        if " create " in line or " delete " in line
    ]
    assert order == [
        "ns-ip-passthrough",
        "namespace/ns-ip-passthrough",
        "ns-second-remote",
        "namespace/ns-second-remote",
    ]
    assert (
        events.read_text().splitlines()
        == [f"check ip-passthrough-{V30}"] * 2 + [f"check second-remote-{V30}"] * 2
    )
    steps = (
        (pytester.path / f"eicp-report/diagnostics/second-remote-{V30}/steps.jsonl").read_text().splitlines()
    )
    # the install's step, its undo (the namespace deleted without waiting), the chain's wait for it gone
    assert [line.count('"outcome": "passed"') for line in steps] == [1, 1, 1]
    assert "-deletions-gone" in steps[-1]
    assert (pytester.path / "cache/locks").is_dir()  # the cluster-set lock lives next to the tools cache


def test_a_leftover_after_uninstall_fails_the_run_loudly(
    pytester: pytest.Pytester, fake_tools: FakeTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_cluster(fake_tools, leave=True)  # the namespace outlives its delete
    monkeypatch.setenv("EVENTS", str(pytester.path / "events.txt"))
    monkeypatch.setenv("LEAVE", "1")
    pytester.makeconftest(FAKE_WORLD)
    pytester.makepyfile(test_checks=CHECKS)
    result = pytester.runpytest(
        "--scenario",
        "second-remote",
        "--istio-version",
        "1.30",
        "--tools-dir",
        str(pytester.path / "cache/tools"),
        "--timeout",
        "install.restore=0.5",
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*UninstallFailed*", "*left behind: namespace/ns-second-remote*"])


REPLACING_CHECK = textwrap.dedent(
    """
    import os
    from pathlib import Path

    from install.installer import Installer
    from fixtures.scenario_plugin import replace_installation
    from scenarios.steps import Action, ScenarioPlan, Step

    def test_upgrade_like_replacement(installed_scenario, request):
        # What fixtures/upgrade_plugin.py does: release B's installer changes the clusters (here: one
        # more namespace only B has) and hands teardown B's installer and plan.
        b_only = Step("ns-b", "remote", Action.CREATE_NAMESPACE, "t", params={"namespace": "ns-b"})
        undo = Step("del-b", "remote", Action.DELETE, "t", params={"resource": "namespace/ns-b"})
        plan = ScenarioPlan("second-remote", "1.31.0", ("remote",), (b_only,), (undo,))
        installer = Installer("sail-b", installed_scenario.topology, installed_scenario.release, Path("b"), Path("istioctl"))
        replace_installation(request.config, installed_scenario.label, installer, plan)
        installer.run_step(b_only)
    """
)


def test_teardown_uninstalls_with_the_replacement_first_then_the_original(
    pytester: pytest.Pytester, fake_tools: FakeTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_cluster(fake_tools)
    monkeypatch.setenv("EVENTS", str(pytester.path / "events.txt"))
    pytester.makeconftest(FAKE_WORLD)
    pytester.makepyfile(test_checks=REPLACING_CHECK)
    result = pytester.runpytest(
        "--scenario",
        "second-remote",
        "--istio-version",
        "1.30",
        "--tools-dir",
        str(pytester.path / "cache/tools"),
    )
    result.assert_outcomes(passed=1)  # no leftover: ns-b (B only) and ns-second-remote are both gone
    deletes = [line.split()[-1] for line in fake_tools.lines("kubectl") if " delete " in line]
    assert deletes == ["namespace/ns-b", "namespace/ns-second-remote"]
    steps = (pytester.path / f"eicp-report/diagnostics/second-remote-{V30}/steps.jsonl").read_text()
    assert '"step": "undo-ns-b"' in steps  # B's uninstall steps (from its ledger) are reported like A's


FAILING_CHECK = textwrap.dedent(
    """
    import os

    def test_fails(installed_scenario, request):
        if os.environ.get("SUMMARY_FIRST"):  # what fixtures/reports_plugin.py asks at the first failure
            note = request.config.hook.pytest_eicp_scenario_failed(
                config=request.config, label=installed_scenario.label, nodeid=request.node.nodeid, when="call"
            )
            assert note.collected_now and note.text == "recorded"
        assert False, "broken"
    """
)


@pytest.mark.parametrize("collected_at_failure", [True, False])
def test_teardown_collects_diagnostics_only_when_the_first_failure_did_not(
    pytester: pytest.Pytester,
    fake_tools: FakeTools,
    monkeypatch: pytest.MonkeyPatch,
    collected_at_failure: bool,
) -> None:
    fake_cluster(fake_tools)
    events = pytester.path / "events.txt"
    monkeypatch.setenv("EVENTS", str(events))
    monkeypatch.setenv("KIND_BIN", "/opt/kind/bin/kind")
    if collected_at_failure:
        monkeypatch.setenv("SUMMARY_FIRST", "1")
    # A summary from an earlier run must not count as collected for this one.
    stale = pytester.path / f"eicp-report/diagnostics/second-remote-{V30}/SUMMARY.txt"
    stale.parent.mkdir(parents=True)
    stale.write_text("earlier run\n")
    pytester.makeconftest(FAKE_WORLD)
    pytester.makepyfile(test_checks=FAILING_CHECK)
    result = pytester.runpytest(
        "--scenario", "second-remote", "--istio-version", "1.30", "--tools-dir", str(pytester.path / "cache/tools"),
        "--diagnostics-timeout", "42",
    )  # fmt: skip
    result.assert_outcomes(failed=1)
    lines = events.read_text().splitlines() if events.exists() else []
    collected = [line for line in lines if line.startswith("diagnostics")]
    # Once: at the first failure when it was asked for then (teardown does not again), else at teardown.
    assert collected == [f"diagnostics second-remote-{V30} deadline=42 kind=/opt/kind/bin/kind"]


def test_an_install_failure_is_diagnosed_at_teardown(
    pytester: pytest.Pytester, fake_tools: FakeTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubectl = fake_tools.install("kubectl")
    kubectl.on(r"create namespace", exit=1, stderr="Error from server (Forbidden): no")
    kubectl.on(r"get namespaces,\S+ -o name", stdout="namespace/default\n")
    events = pytester.path / "events.txt"
    monkeypatch.setenv("EVENTS", str(events))
    pytester.makeconftest(FAKE_WORLD)
    pytester.makepyfile(test_checks=CHECKS)
    result = pytester.runpytest(
        "--scenario",
        "second-remote",
        "--istio-version",
        "1.30",
        "--tools-dir",
        str(pytester.path / "cache/tools"),
    )
    result.assert_outcomes(errors=2)
    assert [line for line in events.read_text().splitlines() if line.startswith("diagnostics")] == [
        f"diagnostics second-remote-{V30} deadline=300 kind=None"
    ]


def test_the_upgrade_hands_teardown_release_b_before_its_first_change(upgrade_world: World) -> None:  # noqa: F811
    handed: list[tuple[str, str, str, int]] = []

    def record(label: str, installer: Installer, plan: ScenarioPlan) -> None:
        changes = len(upgrade_world.tools.calls("istioctl"))
        handed.append((label, str(installer.release.version), plan.release, changes))
        assert plan.uninstall, "teardown needs B's uninstall steps"

    upgrade_world.driver.on_control_plane_change = record
    script_cluster(upgrade_world.kubectl)
    run(upgrade_world)
    assert handed == [(f"ip-passthrough-{V29}", V30, V30, 0)]
    assert upgrade_world.tools.calls("istioctl")  # and then B's steps ran
