"""The ledger against a real API server: the pinned etcd and kube-apiserver on loopback, the
pinned kubectl. What kubectl prints (``-o name``, the custom columns), what it creates and
deletes, and that the ledger-driven uninstall gives the cluster back as the snapshot found it:
the formats the fakes (tests/fakeexec.py, tests/cluster_model.py) imitate are checked here."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from clusters.cluster import ClusterHandle, Topology
from clusters.providers import provider_spec
from install.installer import Installer, StepFailed
from install.ledger import ObjectRef
from install.snapshot import take_snapshot, take_topology_snapshot, verify_restored
from programs.runner import CommandError
from programs.waits import Backoff
from scenarios.releases import load_pins
from scenarios.steps import Action, ScenarioPlan, Step
from tests.real_apiserver import ResolveTool, real_cluster  # noqa: F401  (the fixture ``cluster``)

pytestmark = [pytest.mark.realtools, pytest.mark.slow]

CRD = "customresourcedefinition.apiextensions.k8s.io"
FAST = Backoff(min_s=0.05, max_s=0.5)


def _crd(plural: str) -> dict[str, object]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": plural.capitalize()[:-1], "plural": plural, "singular": plural[:-1]},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }
            ],
        },
    }


def test_kubectl_prints_what_the_ledger_and_the_fakes_read(cluster: ClusterHandle) -> None:
    created = cluster.kubectl("create", "namespace", "formats", "-o", "name").stdout
    assert created == "namespace/formats\n"
    with pytest.raises(CommandError) as again:
        cluster.kubectl("create", "namespace", "formats", "-o", "name")
    assert 'Error from server (AlreadyExists): namespaces "formats" already exists' in again.value.stderr
    documents = yaml.safe_dump_all(
        [
            _crd("widgets"),
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "formats"}},
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "eicp-formats"},
            },
        ]
    )
    applied = cluster.kubectl(
        "apply",
        "--server-side",
        "--field-manager=eicp",
        "--force-conflicts",
        "-o",
        "name",
        "-f",
        "-",
        stdin=documents,
    ).stdout
    assert applied.splitlines() == [
        f"{CRD}/widgets.example.com",
        "configmap/c",
        "clusterrole.rbac.authorization.k8s.io/eicp-formats",
    ]
    columns = cluster.kubectl(
        "get", "configmaps,clusterroles", "--all-namespaces", "-l", "!nothing",
        "-o", "custom-columns=KIND:.kind,APIVERSION:.apiVersion,NAMESPACE:.metadata.namespace,NAME:.metadata.name",
        "--no-headers",
    ).stdout  # fmt: skip
    rows = [line.split() for line in columns.splitlines()]
    assert ["ConfigMap", "v1", "formats", "c"] in rows
    assert ["ClusterRole", "rbac.authorization.k8s.io/v1", "<none>", "eicp-formats"] in rows
    cluster.kubectl("delete", f"{CRD}/widgets.example.com", "--wait=true")
    with pytest.raises(CommandError) as gone:
        cluster.kubectl("delete", "--ignore-not-found", "widgets.example.com/x", "-n", "formats")
    assert 'the server doesn\'t have a resource type "widgets"' in gone.value.stderr
    cluster.kubectl("delete", "namespace/formats", "clusterrole/eicp-formats", "--wait=true", "--timeout=60s")


def test_the_ledger_uninstall_gives_a_real_cluster_back(cluster: ClusterHandle, tmp_path: Path) -> None:
    topology = Topology(provider_spec("existing").capabilities, clusters={"remote": cluster}, prefix="eicp")
    # A CRD that was there before the run, and that the run's apply names too: never deleted.
    cluster.kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(_crd("gadgets")))
    before = take_topology_snapshot(topology, ("remote",))
    plan = ScenarioPlan(
        "ledger",
        "1.30",
        ("remote",),
        (
            Step("ns", "remote", Action.CREATE_NAMESPACE, "t", params={"namespace": "sample"}),
            Step(
                "sa",
                "remote",
                Action.CREATE_SERVICE_ACCOUNT,
                "t",
                params={"namespace": "sample", "name": "sa"},
            ),
            Step(
                "objects",
                "remote",
                Action.APPLY,
                "t",
                (
                    _crd("gadgets"),
                    _crd("sprockets"),
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": "in-sample", "namespace": "sample"},
                    },
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": "in-default", "namespace": "default"},
                    },
                    {
                        "apiVersion": "admissionregistration.k8s.io/v1",
                        "kind": "MutatingWebhookConfiguration",
                        "metadata": {"name": "eicp-ledger-webhook"},
                    },
                ),
            ),
        ),
    )
    installer = Installer(
        scenario="ledger-real",
        topology=topology,
        release=load_pins().resolve_release("1.30"),
        work_dir=tmp_path,
        istioctl=Path("istioctl"),
        poll=FAST,
    )
    installer.install(plan, installer.facts, lambda facts: plan)
    assert installer.ledger is not None
    recorded = installer.ledger.recorded("remote")
    assert ObjectRef(CRD, "sprockets.example.com") in recorded
    assert ObjectRef(CRD, "gadgets.example.com") not in recorded
    assert ObjectRef("configmap", "in-default", "default") in recorded
    # What istiod does while it runs: its CA ConfigMap in a namespace that was there before.
    cluster.kubectl("create", "configmap", "istio-ca-root-cert", "-n", "default")
    assert "configmap/istio-ca-root-cert -n default" in take_snapshot(cluster).objects
    assert installer.uninstall() == []
    verify_restored("ledger-real", topology, before, timeout_s=60, poll=FAST)
    assert (
        cluster.kubectl("get", "configmap", "in-default", "-n", "default", "--ignore-not-found").stdout == ""
    )
    assert cluster.kubectl("get", f"{CRD}/gadgets.example.com", "-o", "name").stdout.strip()
    cluster.kubectl("delete", f"{CRD}/gadgets.example.com")


def test_what_a_real_istioctl_install_makes_is_recorded_and_removed(
    cluster: ClusterHandle, real_tool: ResolveTool, tmp_path: Path
) -> None:
    """The offline tier's istioctl installs the minimal profile into an istio-system that existed
    before (an existing cluster's): its CRDs, cluster roles, webhooks and, in that namespace, the
    objects it labels as its own are read back; this control plane has no nodes, so istiod never
    becomes ready and the step ends at its deadline, as a failed install would."""
    topology = Topology(provider_spec("existing").capabilities, clusters={"remote": cluster}, prefix="eicp")
    cluster.kubectl("create", "namespace", "istio-system")
    before = take_topology_snapshot(topology, ("remote",))
    iop = {"apiVersion": "install.istio.io/v1alpha1", "kind": "IstioOperator", "spec": {"profile": "minimal"}}
    install = Step(
        "istiod", "remote", Action.ISTIOCTL_INSTALL, "t", (iop,), {"file": "istiod.yaml", "deadline_s": 25}
    )
    installer = Installer(
        scenario="ledger-istioctl",
        topology=topology,
        release=load_pins().resolve_release("1.31"),
        work_dir=tmp_path,
        istioctl=real_tool("istioctl-offline").path,
        poll=FAST,
    )
    with pytest.raises(StepFailed):
        installer.run_step(install)
    assert installer.ledger is not None
    recorded = {str(ref) for ref in installer.ledger.recorded("remote")}
    assert "deployment.apps/istiod -n istio-system" in recorded
    assert "configmap/istio -n istio-system" in recorded
    assert f"{CRD}/virtualservices.networking.istio.io" in recorded
    assert (
        "validatingwebhookconfiguration.admissionregistration.k8s.io/istio-validator-istio-system" in recorded
    )
    assert not any(name.startswith("namespace/") for name in recorded)  # istio-system was there
    assert installer.uninstall() == []
    verify_restored("ledger-istioctl", topology, before, timeout_s=90, poll=FAST)
    leftovers = cluster.kubectl(
        "get", "deployments,configmaps,serviceaccounts", "-n", "istio-system", "-o", "name"
    )
    assert [line for line in leftovers.stdout.splitlines() if "kube-root-ca.crt" not in line] == []
    cluster.kubectl("delete", "namespace/istio-system", "--wait=true", "--timeout=60s")
