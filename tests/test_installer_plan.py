"""The installer's plan protocol against fake tools: a provided fact re-renders the rest of the
plan, a renderer may not change executed steps, a step still holding a placeholder is not run,
the uninstall skips steps whose fact was never learnt, and every step is timed and recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from install.installer import PlanError, StepFailed, StepRecord
from programs.runner import CommandRunner
from scenarios.facts import Facts, placeholder
from scenarios.steps import Action, ScenarioPlan
from tests.fakeexec import FakeTools
from tests.installer_support import (
    IOP,
    LB_IP,
    cluster_fakes,
    finish_fakes,
    kubectl_lines,
    make_installer,
    make_topology,
    plan_of,
    step,
)


def test_a_provided_fact_rerenders_the_rest_of_the_plan(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    tools = cluster_fakes(fake_tools)
    finish_fakes(tools)
    installer = make_installer(tmp_path, make_topology(tmp_path, runner))

    def render(facts: Facts) -> ScenarioPlan:
        address = facts.addr
        return plan_of(
            step("gw", "external", Action.ISTIOCTL_INSTALL, (IOP,), file="gw.yaml"),
            step(
                "addr",
                "external",
                Action.WAIT,
                resource="service/istio-ingressgateway",
                namespace="istio-system",
                provides="external_istiod_addr",
                deadline_s=5,
                **{"for": "load-balancer-address"},
            ),
            step(
                "cm",
                "external",
                Action.APPLY,
                (
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": "addr"},
                        "data": {"a": address},
                    },
                ),
            ),
        )

    result = installer.install(render(Facts()), Facts(), render)
    assert result.facts.external_istiod_addr == LB_IP
    applied = [call.stdin for call in fake_tools.calls("kubectl") if call.stdin]
    assert len(applied) == 1 and f"a: {LB_IP}" in applied[0]


def test_a_renderer_that_changes_executed_steps_is_refused(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    tools = cluster_fakes(fake_tools)
    finish_fakes(tools)
    installer = make_installer(tmp_path, make_topology(tmp_path, runner))

    def render(facts: Facts) -> ScenarioPlan:
        return plan_of(
            step("ns", "external", Action.CREATE_NAMESPACE, namespace=f"ns-{facts.external_istiod_addr}"),
            step(
                "addr",
                "external",
                Action.WAIT,
                resource="service/gw",
                namespace="istio-system",
                provides="external_istiod_addr",
                deadline_s=5,
                **{"for": "load-balancer-address"},
            ),
        )

    with pytest.raises(PlanError, match="changed step 1"):
        installer.install(render(Facts()), Facts(), render)


def test_a_step_still_holding_a_placeholder_is_not_executed(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    cluster_fakes(fake_tools)
    installer = make_installer(tmp_path, make_topology(tmp_path, runner))
    holder = step(
        "iop",
        "remote",
        Action.MANIFEST_GENERATE_APPLY,
        ({**IOP, "spec": {"values": {"global": {"remotePilotAddress": Facts().addr}}}},),
        file="r.yaml",
    )
    with pytest.raises(StepFailed, match=placeholder("external_istiod_addr")):
        installer.run_step(holder)
    assert fake_tools.calls() == []


def test_uninstall_skips_steps_whose_fact_was_never_learnt(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    cluster_fakes(fake_tools)
    installer = make_installer(tmp_path, make_topology(tmp_path, runner))
    never_made = step(
        "remote-iop", "remote", Action.MANIFEST_GENERATE_DELETE, ({**IOP, "x": placeholder("external_istiod_addr")},),
        file="remote.yaml",
    )  # fmt: skip
    unpublish = step(
        "unpublish", "remote", Action.PUBLISH_HOSTNAME,
        hostname="h.eicp.test", address=placeholder("external_istiod_addr"), scopes=["pods", "node"], remove=True,
    )  # fmt: skip
    namespace = step("ns", "remote", Action.DELETE, resource="namespace/sample")
    failures = installer.uninstall(plan_of(uninstall=(never_made, unpublish, namespace)))
    # The unpublish step does not read the address: it runs (and, with no node access outside a
    # suite-made cluster, has nothing to withdraw); the never-installed manifests are skipped.
    assert failures == []
    assert [line.split()[4:] for line in kubectl_lines(fake_tools)] == [
        ["delete", "--ignore-not-found", "--wait=true", "--timeout=300s", "namespace/sample"]
    ]
    assert fake_tools.calls("istioctl") == []


def test_step_records_time_every_step(tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner) -> None:
    tools = cluster_fakes(fake_tools)
    tools["kubectl"].on(r"create namespace bad", exit=1, stderr="boom")
    installer = make_installer(tmp_path, make_topology(tmp_path, runner))
    records: list[StepRecord] = []
    installer.add_listener(records.append)
    plan = plan_of(
        step("ok", "remote", Action.CREATE_NAMESPACE, namespace="good"),
        step("bad", "remote", Action.CREATE_NAMESPACE, namespace="bad"),
    )
    with pytest.raises(StepFailed, match="'bad'"):
        installer.install(plan, Facts(), lambda facts: plan)
    assert [(r.scenario, r.step, r.role, r.phase, r.outcome) for r in records] == [
        ("test-1.30.3", "ok", "remote", "install", "passed"),
        ("test-1.30.3", "bad", "remote", "install", "failed"),
    ]
    assert all(r.duration_s > 0 and r.started_at > 0 for r in records)
    assert records[1].error is not None and "boom" in records[1].error
