"""The installer's waits against fake kubectl: the last state named when a wait never completes,
polling while the object is not there yet, conditions of an older generation not taken, and no
load-balancer address an environment fault."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from install.installer import EnvironmentFault, StepFailed, StepRecord
from programs.runner import CommandRunner
from scenarios.steps import Action
from tests.fakeexec import FakeTools
from tests.installer_support import cluster_fakes, make_installer, make_topology, ready_object, step


def test_a_wait_that_never_completes_reports_the_last_state(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    tools = cluster_fakes(fake_tools)
    tools["kubectl"].on(
        r"get deployment/istiod",
        stdout=json.dumps(
            {
                "metadata": {"generation": 2},
                "spec": {"replicas": 1},
                "status": {
                    "conditions": [
                        {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"}
                    ]
                },
            }
        ),
    )
    installer = make_installer(tmp_path, make_topology(tmp_path, runner))
    wait = step(
        "istiod",
        "external",
        Action.WAIT,
        resource="deployment/istiod",
        namespace="external-istiod",
        deadline_s=0.3,
        **{"for": "condition=Available"},
    )
    with pytest.raises(StepFailed, match=r"Available=False \(MinimumReplicasUnavailable"):
        installer.run_step(wait)


def test_a_wait_keeps_polling_while_the_object_is_not_there_yet(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    tools = cluster_fakes(fake_tools)
    tools["kubectl"].on(
        r"get istios/default",
        exit=1,
        times=2,
        stderr='error: the server doesn\'t have a resource type "istios"',
    )
    tools["kubectl"].on(r"get istios/default", stdout=ready_object(("Ready",)))
    installer = make_installer(tmp_path, make_topology(tmp_path, runner))
    installer.run_step(
        step(
            "sail",
            "external",
            Action.WAIT,
            resource="istios/default",
            deadline_s=5,
            **{"for": "condition=Ready"},
        )
    )
    assert len(fake_tools.calls("kubectl")) == 3


def test_no_load_balancer_address_is_an_environment_fault(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    tools = cluster_fakes(fake_tools)
    tools["kubectl"].on(r"get service/", stdout=json.dumps({"spec": {"type": "LoadBalancer"}, "status": {}}))
    installer = make_installer(tmp_path, make_topology(tmp_path, runner))
    records: list[StepRecord] = []
    installer.add_listener(records.append)
    wait = step(
        "addr",
        "external",
        Action.WAIT,
        resource="service/istio-ingressgateway",
        namespace="istio-system",
        deadline_s=0.3,
        provides="external_istiod_addr",
        **{"for": "load-balancer-address"},
    )
    with pytest.raises(EnvironmentFault, match="cloud-provider-kind"):
        installer.run_step(wait)
    assert [(r.step, r.outcome) for r in records] == [("addr", "environment-fault")]


def test_a_ready_condition_from_an_older_generation_is_not_done(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    stale = json.loads(ready_object(("Ready",)))
    stale["metadata"]["generation"] = 2  # spec changed (Sail: spec.version), status still of gen 1
    tools = cluster_fakes(fake_tools)
    tools["kubectl"].on(r"get istios/default", stdout=json.dumps(stale))
    installer = make_installer(tmp_path, make_topology(tmp_path, runner))
    wait = step(
        "sail",
        "external",
        Action.WAIT,
        resource="istios/default",
        deadline_s=0.3,
        **{"for": "condition=Ready"},
    )
    with pytest.raises(StepFailed, match=r"Ready=True .*observedGeneration 1 < metadata.generation 2"):
        installer.run_step(wait)


def test_a_condition_of_an_older_generation_is_not_done_and_a_current_one_is(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    def gateway(condition_generation: int) -> str:
        return json.dumps(
            {
                "metadata": {"generation": 3},
                "status": {
                    "conditions": [
                        {"type": "Programmed", "status": "True", "observedGeneration": condition_generation}
                    ]
                },
            }
        )

    tools = cluster_fakes(fake_tools)
    tools["kubectl"].on(r"get gateway", stdout=gateway(2), times=2)
    tools["kubectl"].on(r"get gateway", stdout=gateway(3))
    installer = make_installer(tmp_path, make_topology(tmp_path, runner))
    records: list[StepRecord] = []
    installer.add_listener(records.append)
    installer.run_step(
        step(
            "gw", "remote", Action.WAIT, resource="gateway/g", deadline_s=5, **{"for": "condition=Programmed"}
        )
    )
    assert len(fake_tools.calls("kubectl")) == 3  # two stale answers polled past, the current one taken
    assert [r.outcome for r in records] == ["passed"]
