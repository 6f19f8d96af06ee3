"""The scenario plugin: parametrization, xdist groups, one install per scenario, verified uninstall."""

from __future__ import annotations

import textwrap

import pytest

from install.installer import Installer
from scenarios.releases import load_pins
from scenarios.steps import ScenarioPlan
from tests.fakeexec import REPO_ROOT, FakeTool, FakeTools
from tests.test_upgrade_check import World, run, script_cluster
from tests.test_upgrade_check import world as upgrade_world  # noqa: F401 -- the fixture, as `upgrade_world`

V30 = str(load_pins().resolve_release("1.30").version)  # the releases under test, from the table
V29 = str(load_pins().resolve_release("1.29").version)

pytest_plugins = ["pytester"]

PLUGINS = 'pytest_plugins = ["fixtures.options", "fixtures.core", "fixtures.scenario_plugin"]\n'

# A topology of one fake cluster, a renderer that creates one namespace per scenario (and, for
# "second-remote" when LEAVE is set, forgets to delete it), and fake tool paths.
FAKE_WORLD = PLUGINS + textwrap.dedent(
    """
    import os
    from pathlib import Path
    from types import SimpleNamespace

    import pytest

    from clusters.cluster import ClusterHandle, Topology
    from clusters.providers import provider_spec
    from fixtures.scenario_plugin import InstallerTools
    from scenarios.expectations import ScenarioExpectations
    from scenarios.steps import Action, ScenarioPlan, Step

    @pytest.fixture(scope="session")
    def topology(runner, tmp_path_factory):
        kubeconfig = tmp_path_factory.mktemp("kube") / "remote.kubeconfig"
        kubeconfig.write_text("apiVersion: v1\\n")
        handle = ClusterHandle("remote", "eicp-remote", "ctx-rem", kubeconfig, "https://10.0.0.1:6443", None, runner)
        return Topology(provider_spec(os.environ.get("TOPOLOGY_MODE", "kind")).capabilities, {"remote": handle}, "eicp")

    @pytest.fixture(scope="session", autouse=True)
    def record_diagnostics():
        import reports.diagnostics

        original = reports.diagnostics.collect_diagnostics

        def collect(topology, namespaces, out_dir, runner, deadline_s, *, kind_bin=None, extra_logs=()):
            with open(os.environ["EVENTS"], "a") as events:
                events.write(f"diagnostics {out_dir.name} deadline={deadline_s:g} kind={kind_bin}\\n")
            return SimpleNamespace(summary=lambda: "recorded")

        reports.diagnostics.collect_diagnostics = collect
        yield
        reports.diagnostics.collect_diagnostics = original

    @pytest.fixture(scope="session")
    def scenario_renderer():
        def render(scenario, release, facts):
            if os.environ.get("UNAVAILABLE"):
                from scenarios.common import ScenarioUnavailable

                raise ScenarioUnavailable(f"scenario {scenario} is not applicable to Istio {release.version}: test")
            ns = f"ns-{scenario}"
            steps = (Step("ns", "remote", Action.CREATE_NAMESPACE, "t", params={"namespace": ns}),)
            if scenario == "dns-tls":  # the suite's own test name: published in the cluster
                publish = {"hostname": "istiod.eicp.test", "address": "<EXTERNAL_ISTIOD_ADDR>", "scopes": ["pods", "node"]}
                steps += (Step("publish", "remote", Action.PUBLISH_HOSTNAME, "t", params=publish),)
            leave = scenario == "second-remote" and os.environ.get("LEAVE")
            undo = () if leave else (Step("del", "remote", Action.DELETE, "t", params={"resource": f"namespace/{ns}"}),)
            plan = ScenarioPlan(scenario, str(release.version), ("remote",), steps, undo)
            return SimpleNamespace(plan=plan, expectations=ScenarioExpectations(scenario, str(release.version), "t"))
        return render

    @pytest.fixture(scope="session")
    def installer_tools():
        kind = (lambda: Path(os.environ["KIND_BIN"])) if os.environ.get("KIND_BIN") else None
        return InstallerTools(
            istioctl=lambda r: Path("istioctl"), helm=lambda: Path("helm"), samples=lambda r: Path("."), kind=kind
        )
    """
)

CHECKS = textwrap.dedent(
    """
    import os

    def test_namespace_is_there(installed_scenario):
        with open(os.environ["EVENTS"], "a") as events:
            events.write(f"check {installed_scenario.label}\\n")
        assert installed_scenario.plan.steps[0].params["namespace"] == f"ns-{installed_scenario.scenario}"

    def test_second_check(installed_scenario):
        with open(os.environ["EVENTS"], "a") as events:
            events.write(f"check {installed_scenario.label}\\n")
    """
)


def fake_cluster(fake_tools: FakeTools, *, leave: bool = False) -> FakeTool:
    """One cluster whose namespaces come and go (``leave``: deletes do not take)."""
    kubectl = fake_tools.install("kubectl")
    # As the real kubectl prints with -o name: what the ledger records.
    kubectl.on(r"create namespace (\S+)", add_state=("objects", r"namespace/\1"), stdout=r"namespace/\1\n")
    if leave:
        kubectl.on(r"delete .* namespace/(\S+)")
    else:
        kubectl.on(r"delete .* namespace/(\S+)", remove_state=("objects", r"namespace/\1"))
    kubectl.on(r"get namespaces,\S+ -o name", stdout="namespace/default\n", stdout_from_state="objects")
    return kubectl


def test_tests_are_parametrized_over_scenarios_and_releases_with_xdist_groups(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(PLUGINS)
    pytester.makepyfile(
        test_checks="""
        def test_both(scenario_id, release): pass
        def test_release_only(release): pass
        """
    )
    items, _ = pytester.inline_genitems(
        "--scenario",
        "ip-passthrough",
        "--scenario",
        "sail",
        "--istio-version",
        "1.30",
        "--istio-version",
        "1.29",
    )
    functions = [item for item in items if isinstance(item, pytest.Function)]
    both = [item for item in functions if item.originalname == "test_both"]
    assert [item.callspec.id for item in both] == [
        f"ip-passthrough-{V30}",
        f"ip-passthrough-{V29}",
        f"sail-{V30}",
        f"sail-{V29}",
    ]
    assert [mark.args[0] for item in both for mark in item.iter_markers("xdist_group")] == [
        f"ip-passthrough-{V30}",
        f"ip-passthrough-{V29}",
        f"sail-{V30}",
        f"sail-{V29}",
    ]
    only = [item.callspec.id for item in functions if item.originalname == "test_release_only"]
    assert only == [V30, V29]


@pytest.mark.xfail(
    tuple(int(part) for part in pytest.__version__.split(".")[:2]) >= (9, 2),
    reason="pytest 9.2 ignores xdist's nodeid suffix: --dist loadgroup does not group "
    "(pytest-dev/pytest-xdist#1386, fix in PR #1388)",
    strict=True,
)
def test_loadgroup_keeps_each_scenario_on_one_worker(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(PLUGINS)
    pytester.makepyfile(
        test_checks="""
        import os
        def test_a(scenario_id, release, tmp_path_factory):
            with open(os.environ["EVENTS"], "a") as f:
                f.write(f"{scenario_id}-{release.version} {os.environ['PYTEST_XDIST_WORKER']}\\n")
        test_b = test_c = test_a
        """
    )
    events = pytester.path / "events.txt"
    monkeypatch.setenv("EVENTS", str(events))
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))  # the subprocess imports the suite's plugins
    scenarios = ("--scenario", "ip-passthrough", "--scenario", "dns-tls", "--scenario", "second-remote")
    result = pytester.runpytest_subprocess(
        "-n", "3", "--dist", "loadgroup", *scenarios, "--istio-version", "1.30", "--istio-version", "1.29"
    )
    result.assert_outcomes(passed=3 * 3 * 2)
    workers: dict[str, set[str]] = {}
    for line in events.read_text().splitlines():
        label, worker = line.split()
        workers.setdefault(label, set()).add(worker)
    assert len(workers) == 6 and all(len(seen) == 1 for seen in workers.values()), workers


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


EXISTING_KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {}}]
contexts: [{name: a, context: {cluster: c, user: u}}, {name: b, context: {cluster: c, user: u}}]
"""


def test_existing_clusters_refuse_several_workers(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(PLUGINS)
    pytester.makepyfile(test_checks="def test_a(scenario_id): pass")
    kubeconfig = pytester.path / "kubeconfig"
    kubeconfig.write_text(EXISTING_KUBECONFIG)
    result = pytester.runpytest(
        "-n",
        "2",
        "--kubeconfig",
        str(kubeconfig),
        "--topology-mode",
        "existing",
        "--external-context",
        "a",
        "--remote-context",
        "b",
        "--scenario",
        "ip-passthrough",
    )
    result.stderr.fnmatch_lines(["*existing uses one set of clusters; run it without -n (got -n 2)*"])


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


def test_existing_clusters_refuse_publishing_the_suite_name_before_any_cluster_work(
    pytester: pytest.Pytester, fake_tools: FakeTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_cluster(fake_tools)
    monkeypatch.setenv("EVENTS", str(pytester.path / "events.txt"))
    monkeypatch.setenv("TOPOLOGY_MODE", "existing")
    pytester.makeconftest(FAKE_WORLD)
    pytester.makepyfile(test_checks=CHECKS)
    result = pytester.runpytest(
        "--scenario", "dns-tls", "--istio-version", "1.30", "--tools-dir", str(pytester.path / "cache/tools")
    )
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*dns-tls on existing clusters needs --external-hostname*"])
    assert fake_tools.calls("kubectl") == []


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


def test_a_scenario_not_applicable_to_the_release_is_skipped_with_the_reason_before_any_work(
    pytester: pytest.Pytester, fake_tools: FakeTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_cluster(fake_tools)
    monkeypatch.setenv("EVENTS", str(pytester.path / "events.txt"))
    monkeypatch.setenv("UNAVAILABLE", "1")
    pytester.makeconftest(FAKE_WORLD)
    pytester.makepyfile(test_checks=CHECKS)
    result = pytester.runpytest(
        "--scenario", "ip-passthrough", "--istio-version", "1.30", "--tools-dir", str(pytester.path / "cache/tools"), "-rs"
    )  # fmt: skip
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines([f"*scenario ip-passthrough is not applicable to Istio {V30}: test*"])
    assert fake_tools.calls("kubectl") == []
