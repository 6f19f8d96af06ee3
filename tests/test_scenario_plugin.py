"""The scenario plugin's collection: parametrization over scenarios and releases, xdist groups
that keep a scenario on one worker, and what is refused or skipped before any cluster work
(several workers or the suite's own hostname on existing clusters, a scenario not applicable)."""

from __future__ import annotations

import pytest

from scenarios.releases import load_pins
from tests.fakeexec import REPO_ROOT, FakeTools
from tests.scenario_plugin_support import CHECKS, FAKE_WORLD, PLUGINS, fake_cluster

V30 = str(load_pins().resolve_release("1.30").version)  # the releases under test, from the table
V29 = str(load_pins().resolve_release("1.29").version)

pytest_plugins = ["pytester"]


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
