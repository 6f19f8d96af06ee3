"""A fake world for child pytest runs of the scenario plugin (fixtures/scenario_plugin.py): the
plugins, a conftest whose topology is one fake cluster and whose renderer creates one namespace
per scenario, checks that note each run, and the fake kubectl of that cluster."""

from __future__ import annotations

import textwrap

from tests.fakeexec import FakeTool, FakeTools

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
