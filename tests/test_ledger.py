"""The ledger: what each step created, read back from the tools' output and the API, and the
uninstall it drives (newest first, the baseline never touched), on fake kubectl/istioctl/helm
that print what the real ones print (tests/fakeexec.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from install.installer import Installer
from install.ledger import Ledger, ObjectRef, documents_of, group_kind, refs_from_output
from install.snapshot import CONFIGMAP_COLUMNS, TRACKED_KINDS, parse_configmap_columns
from install.teardown import delete_steps, sweep_refs, uninstall_steps
from programs.runner import CommandRunner
from scenarios.releases import load_pins
from scenarios.steps import Action, ScenarioPlan, Step
from tests.fakeexec import FakeTools
from tests.installer_support import FAST, IOP, make_topology

CRD = "customresourcedefinition.apiextensions.k8s.io"
TAG = "mutatingwebhookconfiguration.admissionregistration.k8s.io/istio-revision-tag-default"
BASE = ["namespace/default", "namespace/kube-system", f"{CRD}/gateways.gateway.networking.k8s.io"]


def sail_chart(version: str) -> Step:
    return step(
        "sail", Action.HELM_INSTALL, release="sail", repo="https://c", chart="sail", version=version,
        namespace="sail-operator",
    )  # fmt: skip


def step(name: str, action: Action, manifests: tuple[dict[str, Any], ...] = (), **params: object) -> Step:
    return Step(name, "remote", action, "test", manifests, dict(params))


# -- pure -------------------------------------------------------------------------------------


def test_names_are_read_as_kubectl_prints_them_with_namespaces_from_the_documents() -> None:
    documents = documents_of(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: istiod, namespace: external-istiod}\n---\n"
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n---\n"
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: x.example.com}\n"
    )
    assert [group_kind(document) for document in documents] == [
        "deployment.apps",
        "serviceaccount",
        "customresourcedefinition.apiextensions.k8s.io",
    ]
    output = f"deployment.apps/istiod\nserviceaccount/sa\n{CRD}/x.example.com\nWarning: something\n"
    assert refs_from_output(output, documents, "sample") == [
        ObjectRef("deployment.apps", "istiod", "external-istiod"),
        ObjectRef("serviceaccount", "sa", "sample"),  # no namespace in the document: -n's
        ObjectRef(CRD, "x.example.com"),
    ]
    ref = ObjectRef("configmap", "istio-ca-root-cert", "default")
    assert ObjectRef.parse(str(ref)) == ref and str(ref) == "configmap/istio-ca-root-cert -n default"
    assert parse_configmap_columns("default   istio-ca-root-cert\nsample    other\n") == {str(ref)}


def test_uninstall_runs_newest_first_undo_before_objects_and_leaves_namespace_contents() -> None:
    ledger = Ledger()
    ledger.set_baseline("remote", BASE)
    ledger.begin(step("ns", Action.CREATE_NAMESPACE))
    ledger.created([ObjectRef("namespace", "sample")])
    ledger.end()
    helm = step("operator", Action.HELM_INSTALL)
    ledger.begin(helm)
    undo = step("undo-operator", Action.HELM_UNINSTALL, release="op", namespace="op")
    ledger.undo_with(undo)
    ledger.read_back("remote", [*BASE, "namespace/op", f"{CRD}/istios.sailoperator.io", "namespace/sample"])
    ledger.end()
    ledger.begin(step("app", Action.APPLY))
    ledger.created(
        [
            ObjectRef("deployment.apps", "app", "sample"),
            ObjectRef("role.rbac.authorization.k8s.io", "r", "default"),
        ]
    )
    ledger.created([ObjectRef(CRD, "gateways.gateway.networking.k8s.io")])  # existed before: never the run's
    ledger.end()
    ledger.begin(step("wait", Action.WAIT))  # created nothing: no entry
    ledger.end()
    assert [entry.step for entry in ledger.entries] == ["ns", "operator", "app"]
    steps = uninstall_steps(ledger)
    assert [(s.action, s.params.get("resource"), s.params.get("namespace")) for s in steps] == [
        (Action.DELETE, ["role.rbac.authorization.k8s.io/r"], "default"),  # sample's go with it
        (Action.HELM_UNINSTALL, None, "op"),
        (Action.DELETE, [f"{CRD}/istios.sailoperator.io"], None),  # CRDs helm never removes
        (Action.DELETE, ["namespace/op"], None),
        (Action.DELETE, ["namespace/sample"], None),
    ]
    assert delete_steps(ledger.entries[0], [ObjectRef("namespace", "default")], BASE) == []
    # The sweep: recorded objects that came back, istiod's ConfigMaps; nothing of the baseline.
    now = [*BASE, "namespace/sample", "configmap/istio-ca-root-cert -n default", "namespace/other"]
    assert [str(ref) for ref in sweep_refs(ledger, "remote", now)] == [
        "configmap/istio-ca-root-cert -n default",
        "namespace/sample",
    ]


def test_a_listing_without_a_baseline_becomes_the_baseline_and_records_nothing() -> None:
    ledger = Ledger()
    ledger.begin(step("upgrade", Action.ISTIOCTL_INSTALL))
    assert ledger.read_back("remote", ["namespace/kube-system", "namespace/istio-system"]) == []
    ledger.end()
    assert ledger.entries == [] and "namespace/kube-system" in ledger.baseline["remote"]


# -- through the installer, on fake tools --------------------------------------------------------


@pytest.fixture
def fakes(fake_tools: FakeTools) -> FakeTools:
    """Fake tools whose listings come from their state (what istioctl/helm/istiod add)."""
    kubectl = fake_tools.install("kubectl")
    fake_tools.install("istioctl").on(
        r"^install ",
        stdout="✔ Installation complete\n",
        add_state=("listing", f"namespace/istio-system\n{TAG}"),
    )
    fake_tools.install("helm").on(
        r"^upgrade --install", add_state=("listing", f"namespace/sail-operator\n{CRD}/istios.sailoperator.io")
    )
    fake_tools.set_state("listing", BASE)
    fake_tools.set_state("configmaps", [])
    kubectl.on(rf"get {','.join(TRACKED_KINDS)} -o name$", stdout_from_state="listing")
    kubectl.on(
        rf"get configmaps --all-namespaces -o {CONFIGMAP_COLUMNS} --no-headers$",
        stdout_from_state="configmaps",
    )
    kubectl.on(
        r"create namespace (\S+) -o name$", stdout="namespace/\\1\n", add_state=("listing", r"namespace/\1")
    )
    kubectl.on(r"apply --server-side .* -o name -f -$", names_from_stdin=True)
    kubectl.on(r"delete .* configmap/(\S+) -n (\S+)$", remove_state=("configmaps", r"\2   \1"))
    kubectl.on(r"delete .* (\S+/\S+)$", remove_state=("listing", r"\1"))
    return fake_tools


def remote_installer(tmp_path: Path, runner: CommandRunner) -> Installer:
    """An installer on one fake cluster (role remote), with its ledger (the default)."""
    return Installer(
        scenario="ledger-1.30",
        topology=make_topology(tmp_path, runner, roles=("remote",)),
        release=load_pins().resolve_release("1.30"),
        work_dir=tmp_path / "work",
        istioctl=Path("istioctl"),
        helm=lambda: Path("helm"),
        poll=FAST,
    )


def test_the_install_records_what_tools_made_and_the_uninstall_undoes_it(
    tmp_path: Path, fakes: FakeTools, runner: CommandRunner
) -> None:
    installer = remote_installer(tmp_path, runner)
    gateway_crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition"}
    plan = ScenarioPlan(
        "ledger",
        "1.30",
        ("remote",),
        (
            sail_chart("1"),
            step("ns", Action.CREATE_NAMESPACE, namespace="sample"),
            step("gw", Action.ISTIOCTL_INSTALL, (IOP,), file="gw.yaml"),
            step(
                "crds",
                Action.APPLY,
                (
                    {
                        **gateway_crd,
                        "metadata": {"name": "gateways.gateway.networking.k8s.io"},
                    },  # there before
                    {**gateway_crd, "metadata": {"name": "httproutes.gateway.networking.k8s.io"}},
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": "c", "namespace": "sample"},
                    },
                ),
            ),
        ),
    )
    installer.install(plan, installer.facts, lambda facts: plan)
    ledger = installer.ledger
    assert ledger is not None
    assert ledger.describe().splitlines() == [
        "[remote] sail (helm-install)",
        "  created namespace/sail-operator",
        f"  created {CRD}/istios.sailoperator.io",
        "  undone by helm-uninstall {'release': 'sail', 'namespace': 'sail-operator'}",
        "[remote] ns (create-namespace)",
        "  created namespace/sample",
        "[remote] gw (istioctl-install)",
        "  created namespace/istio-system",
        f"  created {TAG}",
        "[remote] crds (apply)",
        f"  created {CRD}/httproutes.gateway.networking.k8s.io",
        "  created configmap/c -n sample",
    ]
    # istiod (made by the gateway's install here) wrote its CA ConfigMap into a namespace that
    # was there before, after the last read-back: only the uninstall's sweep can see it.
    fakes.set_state("configmaps", ["default   istio-ca-root-cert"])
    assert ledger.as_dict()[0] == {
        "step": "sail",
        "role": "remote",
        "action": "helm-install",
        "seed": "test",
        "created": ["namespace/sail-operator", f"{CRD}/istios.sailoperator.io"],
        "undo": {"action": "helm-uninstall", "params": {"release": "sail", "namespace": "sail-operator"}},
    }
    assert installer.uninstall() == []
    deletes = [line.split(" delete ")[1] for line in fakes.lines("kubectl") if " delete " in line]
    wait = "--ignore-not-found --wait=true --timeout=300s"
    # CRDs and namespaces: deleted without waiting for each, then one wait for all of them.
    defer = "--ignore-not-found --wait=false --timeout=300s"
    assert deletes == [
        f"{defer} {CRD}/httproutes.gateway.networking.k8s.io",  # newest first; c goes with sample
        f"{wait} {TAG}",
        f"{defer} namespace/istio-system",
        f"{defer} namespace/sample",
        f"{defer} {CRD}/istios.sailoperator.io",  # after helm uninstall, which leaves crds/
        f"{defer} namespace/sail-operator",
        f"{wait} configmap/istio-ca-root-cert -n default",  # the sweep: istiod's, once istiod is gone
    ]
    gone = [line for line in fakes.lines("kubectl") if "--ignore-not-found -o json" in line]
    assert [line.split(" get ", 1)[1] for line in gone] == [
        f"{CRD}/httproutes.gateway.networking.k8s.io namespace/istio-system namespace/sample "
        f"{CRD}/istios.sailoperator.io namespace/sail-operator --ignore-not-found -o json"
    ]
    kubectl_calls = fakes.lines("kubectl")
    assert kubectl_calls.index(gone[0]) > max(
        i for i, line in enumerate(kubectl_calls) if "--wait=false" in line
    )
    helm_calls = fakes.lines("helm")
    assert helm_calls[-1].startswith("uninstall sail --namespace sail-operator")
    assert not any("gateways.gateway.networking.k8s.io" in line for line in deletes)
    assert fakes.state("listing") == BASE and fakes.state("configmaps") == []


def test_an_upgraded_release_is_left_to_whoever_made_it_and_an_undone_ledger_is_empty(
    tmp_path: Path, fakes: FakeTools, runner: CommandRunner
) -> None:
    # helm's summary for a release it upgraded (one made before this installer's ledger).
    fakes.tools["helm"].rules.insert(
        0,
        {
            **fakes.tools["helm"].rules[0],
            "stdout": 'Release "sail" has been upgraded. Happy Helming!\nNAME: sail\nSTATUS: deployed\nREVISION: 2\n',
            "add_state": None,
        },
    )
    fakes.tools["helm"].save()
    installer = remote_installer(tmp_path, runner)
    upgrade = sail_chart("2")
    installer.run_step(upgrade)
    installer.run_step(step("ns", Action.CREATE_NAMESPACE, namespace="sample"))
    assert installer.ledger is not None
    assert [(entry.step, entry.undo) for entry in installer.ledger.entries] == [("ns", None)]
    assert installer.uninstall() == []
    assert installer.ledger.entries == []
    deletes = len([line for line in fakes.lines("kubectl") if " delete " in line])
    assert installer.uninstall() == []  # nothing left to undo: no command runs again
    assert len([line for line in fakes.lines("kubectl") if " delete " in line]) == deletes
    assert not any(line.startswith("uninstall") for line in fakes.lines("helm"))
