"""The scenario plugin: parametrization, xdist groups, one install per scenario, verified uninstall."""

from __future__ import annotations

import textwrap

import pytest

from tests.fakeexec import REPO_ROOT, FakeTools

pytest_plugins = ["pytester"]

PLUGINS = 'pytest_plugins = ["fixtures.options", "fixtures.core", "fixtures.scenario_plugin"]\n'

# A topology of one fake cluster, a renderer that creates one namespace per scenario (and, for
# "sail" when LEAVE is set, forgets to delete it), and fake tool paths.
FAKE_WORLD = PLUGINS + textwrap.dedent(
    """
    import os
    from pathlib import Path
    from types import SimpleNamespace

    import pytest

    from fixtures.cluster import ClusterHandle, Topology
    from fixtures.scenario_plugin import InstallerTools
    from scenarios.expectations import ScenarioExpectations
    from scenarios.steps import Action, ScenarioPlan, Step

    @pytest.fixture(scope="session")
    def topology(runner, tmp_path_factory):
        kubeconfig = tmp_path_factory.mktemp("kube") / "remote.kubeconfig"
        kubeconfig.write_text("apiVersion: v1\\n")
        handle = ClusterHandle("remote", "eicp-remote", "ctx-rem", kubeconfig, "https://10.0.0.1:6443", None, runner)
        return Topology("kind", {"remote": handle}, "eicp")

    @pytest.fixture(scope="session")
    def scenario_renderer():
        def render(scenario, release, facts):
            ns = f"ns-{scenario}"
            steps = (Step("ns", "remote", Action.CREATE_NAMESPACE, "t", params={"namespace": ns}),)
            leave = scenario == "sail" and os.environ.get("LEAVE")
            undo = () if leave else (Step("del", "remote", Action.DELETE, "t", params={"resource": f"namespace/{ns}"}),)
            plan = ScenarioPlan(scenario, str(release.version), ("remote",), steps, undo)
            return SimpleNamespace(plan=plan, expectations=ScenarioExpectations(scenario, str(release.version), "t"))
        return render

    @pytest.fixture(scope="session")
    def installer_tools():
        return InstallerTools(istioctl=lambda r: Path("istioctl"), helm=lambda: Path("helm"), samples=lambda r: Path("."))
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


def fake_cluster(fake_tools: FakeTools) -> None:
    kubectl = fake_tools.install("kubectl")
    kubectl.on(r"create namespace (\S+)", add_state=("objects", r"namespace/\1"))
    kubectl.on(r"delete .* namespace/(\S+)", remove_state=("objects", r"namespace/\1"))
    kubectl.on(r"get namespaces,\S+ -o name", stdout="namespace/default\n", stdout_from_state="objects")


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
        "ip-passthrough-1.30.3",
        "ip-passthrough-1.29.6",
        "sail-1.30.3",
        "sail-1.29.6",
    ]
    assert [mark.args[0] for item in both for mark in item.iter_markers("xdist_group")] == [
        "ip-passthrough-1.30.3",
        "ip-passthrough-1.29.6",
        "sail-1.30.3",
        "sail-1.29.6",
    ]
    only = [item.callspec.id for item in functions if item.originalname == "test_release_only"]
    assert only == ["1.30.3", "1.29.6"]


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
    result = pytester.runpytest_subprocess(
        "-n", "3", "--dist", "loadgroup", "--istio-version", "1.30", "--istio-version", "1.29"
    )
    result.assert_outcomes(passed=3 * 4 * 2)
    workers: dict[str, set[str]] = {}
    for line in events.read_text().splitlines():
        label, worker = line.split()
        workers.setdefault(label, set()).add(worker)
    assert len(workers) == 8 and all(len(seen) == 1 for seen in workers.values()), workers


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
        "sail",
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
        line.split()[-1] for line in fake_tools.lines("kubectl") if " create " in line or " delete " in line
    ]
    assert order == ["ns-ip-passthrough", "namespace/ns-ip-passthrough", "ns-sail", "namespace/ns-sail"]
    assert events.read_text().splitlines() == ["check ip-passthrough-1.30.3"] * 2 + ["check sail-1.30.3"] * 2
    steps = (pytester.path / "eicp-report/diagnostics/sail-1.30.3/steps.jsonl").read_text().splitlines()
    assert [line.count('"outcome": "passed"') for line in steps] == [1, 1]
    assert (pytester.path / "cache/locks").is_dir()  # the cluster-set lock lives next to the tools cache


def test_a_leftover_after_uninstall_fails_the_run_loudly(
    pytester: pytest.Pytester, fake_tools: FakeTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_cluster(fake_tools)
    monkeypatch.setenv("EVENTS", str(pytester.path / "events.txt"))
    monkeypatch.setenv("LEAVE", "1")
    monkeypatch.setattr("fixtures.snapshot.RESTORE_TIMEOUT_S", 0.5)
    pytester.makeconftest(FAKE_WORLD)
    pytester.makepyfile(test_checks=CHECKS)
    result = pytester.runpytest(
        "--scenario", "sail", "--istio-version", "1.30", "--tools-dir", str(pytester.path / "cache/tools")
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*UninstallFailed*", "*left behind: namespace/ns-sail*"])


def test_existing_clusters_refuse_several_workers(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(PLUGINS)
    pytester.makepyfile(test_checks="def test_a(scenario_id): pass")
    result = pytester.runpytest(
        "-n",
        "2",
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
