"""Work on different clusters side by side: the uninstall's chains (each cluster's entries
newest first, the clusters side by side, each chain ending with one wait for the namespaces and
CRDs it deleted without waiting), and consecutive waits of an install."""

from __future__ import annotations

import json
from pathlib import Path

from install.installer import Installer, side_by_side
from install.ledger import Ledger, ObjectRef
from install.teardown import gone_step, uninstall_chains
from kube.objects import terminating_state
from programs.runner import CommandRunner
from scenarios.facts import Facts
from scenarios.releases import load_pins
from scenarios.steps import Action, Role, Step
from tests.fakeexec import FakeTools
from tests.installer_support import CONTEXTS, FAST, make_topology, plan_of, ready_object

CRD = "customresourcedefinition.apiextensions.k8s.io"


def _step(name: str, role: Role, action: Action = Action.APPLY) -> Step:
    return Step(name, role, action, "test", (), {})


def two_cluster_ledger() -> Ledger:
    ledger = Ledger()
    roles: tuple[Role, ...] = ("remote", "second")
    for role in roles:
        ledger.set_baseline(role, {"namespace/default"})
    for role in roles:
        ledger.begin(_step(f"{role}-ns", role, Action.CREATE_NAMESPACE))
        ledger.created([ObjectRef("namespace", "sample")])
        ledger.end()
        ledger.begin(_step(f"{role}-profile", role, Action.MANIFEST_GENERATE_APPLY))
        ledger.created(
            [
                ObjectRef(CRD, "gateways.networking.istio.io"),
                ObjectRef("mutatingwebhookconfiguration.admissionregistration.k8s.io", "injector"),
                ObjectRef("deployment.apps", "app", "sample"),  # goes with its namespace
            ]
        )
        ledger.end()
    return ledger


def test_each_cluster_is_a_chain_that_ends_waiting_for_its_deferred_deletions() -> None:
    chains = uninstall_chains(two_cluster_ledger())
    assert list(chains) == ["second", "remote"]  # the newest entry's cluster first
    for role, chain in chains.items():
        assert [entry.step for entry, _ in chain] == [f"{role}-profile", f"{role}-ns"]
        steps = [step for _, steps in chain for step in steps]
        assert [(s.params["resource"], s.params.get("wait", True)) for s in steps] == [
            (["mutatingwebhookconfiguration.admissionregistration.k8s.io/injector"], True),
            ([f"{CRD}/gateways.networking.istio.io"], False),
            (["namespace/sample"], False),
        ]
        gone = gone_step(role, steps)
        assert gone is not None and gone.action is Action.WAIT and gone.role == role
        assert gone.params["for"] == "deleted"
        assert gone.params["resource"] == [f"{CRD}/gateways.networking.istio.io", "namespace/sample"]
    assert gone_step("remote", [_step("x", "remote")]) is None


def test_the_clusters_are_uninstalled_side_by_side(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    kubectl = fake_tools.install("kubectl")
    kubectl.on(r"get namespaces,customresourcedefinitions", stdout="namespace/default\n")
    kubectl.on(r" delete ", sleep=0.5)  # each delete takes a while on both clusters
    topology = make_topology(tmp_path, runner, ("external", "remote", "second"))
    release = load_pins().resolve_release("1.31")
    installer = Installer(
        scenario="s",
        topology=topology,
        release=release,
        work_dir=tmp_path,
        istioctl=Path("istioctl"),
        poll=FAST,
    )
    installer.ledger = two_cluster_ledger()
    assert installer.uninstall() == []
    deletes = [call for call in fake_tools.calls("kubectl") if "delete" in call.args]
    by_cluster = {
        role: [call for call in deletes if CONTEXTS[role] in call.args] for role in ("remote", "second")
    }
    assert all(len(calls) == 3 for calls in by_cluster.values())
    # Each cluster's deletes in its own order; the two clusters' deletes overlap in time.
    remote, second = by_cluster["remote"], by_cluster["second"]
    assert remote[0].started < second[-1].ended and second[0].started < remote[-1].ended
    overlap = min(remote[-1].ended, second[-1].ended) - max(remote[0].started, second[0].started)
    assert overlap > 0.5, f"the chains ran one after the other ({overlap:.2f}s overlap)"
    assert installer.ledger.entries == []


def test_what_holds_a_deletion_is_said_in_the_controllers_words() -> None:
    namespace = {
        "kind": "Namespace",
        "metadata": {"name": "sample", "deletionTimestamp": "2026-12-06T09:00:00Z"},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {
            "phase": "Terminating",
            "conditions": [
                {"type": "NamespaceDeletionDiscoveryFailure", "status": "False"},
                {
                    "type": "NamespaceContentRemaining",
                    "status": "True",
                    "reason": "SomeResourcesRemain",
                    "message": "Some resources are remaining: pods. has 2 resource instances",
                },
            ],
        },
    }
    assert terminating_state(namespace) == (
        "namespace/sample Terminating: NamespaceContentRemaining (Some resources are remaining: pods. "
        "has 2 resource instances); finalizers kubernetes"
    )
    crd = json.loads(json.dumps(namespace))
    crd.update(kind="CustomResourceDefinition", spec={})
    crd["metadata"]["name"] = "gateways.networking.istio.io"
    crd["status"]["conditions"] = [
        {"type": "Established", "status": "True"},
        {"type": "Terminating", "status": "True", "message": "CustomResource deletion is in progress"},
    ]
    assert terminating_state(crd) == (
        "customresourcedefinition/gateways.networking.istio.io Terminating: Terminating "
        "(CustomResource deletion is in progress)"
    )
    assert terminating_state({"kind": "Namespace", "metadata": {"name": "x"}}) == (
        "namespace/x not being deleted"
    )


def _wait(name: str, role: Role, **params: object) -> Step:
    return Step(
        name,
        role,
        Action.WAIT,
        "test",
        (),
        {"resource": "deployment/x", "for": "condition=Available", "deadline_s": 30, **params},
    )


def test_consecutive_waits_form_one_group_up_to_one_that_provides_a_fact() -> None:
    apply = _step("apply", "remote")
    steps = [
        apply,
        _wait("a", "remote"),
        _wait("b", "second"),
        _wait("c", "remote", provides="x"),
        _wait("d", "second"),
        apply,
    ]
    assert [s.name for s in side_by_side(steps, 0)] == ["apply"]
    assert [s.name for s in side_by_side(steps, 1)] == ["a", "b", "c"]
    assert [s.name for s in side_by_side(steps, 4)] == ["d"]


def test_consecutive_waits_on_two_clusters_run_side_by_side(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    kubectl = fake_tools.install("kubectl")
    kubectl.on(r" get deployment/x .*-o json$", sleep=0.6, stdout=ready_object())
    topology = make_topology(tmp_path, runner, ("external", "remote", "second"))
    release = load_pins().resolve_release("1.31")
    installer = Installer(
        scenario="s",
        topology=topology,
        release=release,
        work_dir=tmp_path,
        istioctl=Path("istioctl"),
        poll=FAST,
        ledger=None,
    )
    plan = plan_of(_wait("remote-wait", "remote"), _wait("second-wait", "second"))
    installer.install(plan, Facts(), lambda facts: plan)
    calls = [call for call in fake_tools.calls("kubectl") if "deployment/x" in call.args]
    remote, second = ([c for c in calls if CONTEXTS[role] in c.args] for role in ("remote", "second"))
    assert remote and second
    assert remote[0].started < second[0].ended and second[0].started < remote[0].ended


def test_the_sweep_deletes_again_what_a_stopping_controller_wrote_once_more(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    """istiod (here: the fake's listing) writes its CA ConfigMap back once after the sweep
    deleted it: the sweep looks again and deletes it again, until a listing shows none."""
    kubectl = fake_tools.install("kubectl")
    kubectl.on(r"get namespaces,customresourcedefinitions", stdout="namespace/default\n")
    kubectl.on(
        r"--context ctx-rem get configmaps --all-namespaces", stdout="default   istio-ca-root-cert\n", times=2
    )
    topology = make_topology(tmp_path, runner, ("external", "remote"))
    release = load_pins().resolve_release("1.31")
    installer = Installer(
        scenario="s",
        topology=topology,
        release=release,
        work_dir=tmp_path,
        istioctl=Path("istioctl"),
        poll=FAST,
    )
    ledger = Ledger()
    ledger.set_baseline("remote", {"namespace/default"})
    installer.ledger = ledger
    assert installer.uninstall() == []
    deleted = [call.line for call in fake_tools.calls("kubectl") if "delete" in call.args]
    assert len([line for line in deleted if "configmap/istio-ca-root-cert -n default" in line]) == 2
