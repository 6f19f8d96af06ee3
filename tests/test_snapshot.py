"""The uninstall proof: a before/after listing of namespaces, CRDs, webhooks and cluster roles."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusters.cluster import Topology
from install.installer import Installer
from install.ledger import ObjectRef
from install.snapshot import (
    TRACKED_KINDS,
    UninstallLeftovers,
    take_snapshot,
    take_topology_snapshot,
    verify_restored,
)
from programs.runner import CommandRunner
from programs.waits import Backoff
from scenarios import registry
from scenarios.facts import Facts
from scenarios.registry import SCENARIO_IDS
from scenarios.releases import IstioRelease, load_pins
from tests.cluster_model import CRD, GATEWAY_API_CRDS, SAIL_CRDS, ModelRunner
from tests.fakeexec import FakeTools
from tests.installer_support import CONTEXTS, make_topology
from tests.test_installer_scenarios import PKI, scenario_installer

BASE = [
    "namespace/default",
    "namespace/kube-system",
    "customresourcedefinition.apiextensions.k8s.io/gateways.gateway.networking.k8s.io",
    "clusterrole.rbac.authorization.k8s.io/admin",
]
FAST = Backoff(min_s=0.01, max_s=0.05)


def listing(fake_tools: FakeTools, context: str) -> None:
    fake_tools.tools["kubectl"].on(
        rf"--context {context} get {','.join(TRACKED_KINDS)} -o name$", stdout_from_state=context
    )


@pytest.fixture
def kubectl(fake_tools: FakeTools) -> FakeTools:
    fake_tools.install("kubectl")
    for context in ("ctx-ext", "ctx-rem"):
        fake_tools.set_state(context, BASE)
        listing(fake_tools, context)
    return fake_tools


def test_a_clean_uninstall_passes(tmp_path: Path, kubectl: FakeTools, runner: CommandRunner) -> None:
    topology = make_topology(tmp_path, runner)
    before = take_topology_snapshot(topology, ("external", "remote"))
    assert before["remote"].objects == frozenset(BASE)
    kubectl.set_state("ctx-rem", [*BASE, "namespace/external-istiod"])  # installed...
    kubectl.set_state("ctx-rem", BASE)  # ...and removed
    verify_restored("ip-passthrough-1.30.3", topology, before, timeout_s=2, poll=FAST)


def test_a_leftover_and_a_removed_object_fail_loudly(
    tmp_path: Path, kubectl: FakeTools, runner: CommandRunner
) -> None:
    topology = make_topology(tmp_path, runner)
    before = take_topology_snapshot(topology, ("external", "remote"))
    webhook = "validatingwebhookconfiguration.admissionregistration.k8s.io/istiod-default-validator"
    kubectl.set_state("ctx-rem", [*BASE, webhook])
    kubectl.set_state("ctx-ext", BASE[:-1])
    with pytest.raises(UninstallLeftovers) as failure:
        verify_restored("ip-passthrough-1.30.3", topology, before, timeout_s=1.0, poll=FAST)
    message = str(failure.value)
    assert f"left behind: {webhook}" in message and "[remote]" in message
    assert "removed but existed before the install: clusterrole.rbac.authorization.k8s.io/admin" in message
    assert len(kubectl.calls("kubectl")) >= 4  # two listings before, then polls until the deadline


def test_a_helm_release_left_in_a_namespace_that_stays_is_named(
    tmp_path: Path, kubectl: FakeTools, runner: CommandRunner
) -> None:
    """The egress gateway's release in a remote namespace the uninstall does not delete
    (existing clusters): its Helm record shows by name, and only Helm's records are listed."""
    topology = make_topology(tmp_path, runner)
    kubectl.set_state("releases", ["kube-system   sh.helm.release.v1.theirs.v3"])
    kubectl.tools["kubectl"].on(
        r"--context ctx-rem get secrets --all-namespaces -l owner=helm -o custom-columns=\S+ --no-headers$",
        stdout_from_state="releases",
    )
    before = take_topology_snapshot(topology, ("remote",))
    assert "secret/sh.helm.release.v1.theirs.v3 -n kube-system" in before["remote"].objects
    kubectl.set_state(
        "releases",
        [
            "kube-system   sh.helm.release.v1.theirs.v3",
            "external-istiod   sh.helm.release.v1.istio-egressgateway.v1",
            "external-istiod   not-a-release-record",
        ],
    )
    with pytest.raises(UninstallLeftovers) as failure:
        verify_restored("ip-passthrough-1.30.3", topology, before, timeout_s=0.5, poll=FAST)
    assert str(failure.value).splitlines()[1:] == [
        "[remote]",
        "  left behind: secret/sh.helm.release.v1.istio-egressgateway.v1 -n external-istiod",
    ]


def test_a_namespace_that_is_still_terminating_is_waited_for(
    tmp_path: Path, kubectl: FakeTools, runner: CommandRunner
) -> None:
    topology = make_topology(tmp_path, runner)
    before = take_topology_snapshot(topology, ("remote",))
    kubectl.tools["kubectl"].rules.clear()
    kubectl.tools["kubectl"].on(r"get namespaces,", times=2, stdout="\n".join([*BASE, "namespace/sample"]))
    listing(kubectl, "ctx-rem")
    verify_restored("dns-tls-1.30.3", topology, before, timeout_s=5, poll=FAST)
    # The first listing plus three polls, each a listing of kinds, one of istiod's ConfigMaps and
    # one of Helm's releases.
    assert len(kubectl.calls("kubectl")) == 12


# -- the ledger-driven uninstall restores every scenario x ingress x release -------------------

MATRIX = [
    (scenario, ingress, minor)
    for scenario in SCENARIO_IDS
    for ingress in ("istio", "gateway-api", "both")
    for minor in load_pins().supported
]


def release_for(scenario: str, minor: str) -> IstioRelease:
    """The table's release for ``minor``; for sail the patch its published chart installs."""
    pins = load_pins()
    release = pins.resolve_release(minor)
    try:
        registry.render(scenario, release, model_facts("istio"))
    except registry.ScenarioUnavailable as unavailable:
        chart = release.profile.sail_chart_version
        if chart is None or not chart.startswith(f"{minor}."):
            pytest.skip(str(unavailable))
        release = pins.resolve_release(chart)
    return release


def model_facts(ingress: str, hostname: str | None = "istiod.example.test") -> Facts:
    return Facts(
        cluster_names={role: f"eicp-{role}" for role in ("external", "remote", "second")},
        api_servers={role: f"https://172.18.0.{index}:6443" for index, role in enumerate(CONTEXTS, 2)},
        external_hostname=hostname,
        mesh_root_ca_bundle=PKI.root_ca_bundle,
        ingress=ingress,  # type: ignore[arg-type]
    )


def model_install(
    tmp_path: Path, scenario: str, ingress: str, release: IstioRelease, runner: ModelRunner
) -> tuple[Installer, Topology]:
    topology = make_topology(tmp_path, runner, roles=("external", "remote", "second"))
    facts = model_facts(ingress)
    plan = registry.render(scenario, release, facts).plan
    installer = scenario_installer(tmp_path, f"{scenario}-{release.version}", topology, release, plan)
    installer.install(plan, facts, lambda learnt: registry.render(scenario, release, learnt).plan)
    return installer, topology


@pytest.mark.parametrize(("scenario", "ingress", "minor"), MATRIX, ids=["-".join(case) for case in MATRIX])
def test_the_ledger_uninstall_restores_every_scenario(
    tmp_path: Path, scenario: str, ingress: str, minor: str
) -> None:
    release = release_for(scenario, minor)
    runner = ModelRunner(list(CONTEXTS.values()))
    # A CRD someone else installed before the run: the suite must never touch it.
    foreign = ObjectRef(CRD, "widgets.example.com")
    runner.world.clusters["ctx-rem"].add(foreign)
    if ingress != "istio":  # and on the external cluster, Gateway API's own, installed before
        runner.world.clusters["ctx-ext"].add(ObjectRef(CRD, GATEWAY_API_CRDS[0]))
    if ingress == "both":  # an existing cluster's empty istio-system: istioctl's objects in it go
        runner.world.clusters["ctx-ext"].add(ObjectRef("namespace", "istio-system"))
    objects_before = {context: dict(cluster.objects) for context, cluster in runner.world.clusters.items()}
    before = take_topology_snapshot(
        make_topology(tmp_path, runner, roles=("external", "remote", "second")),
        ("external", "remote", "second"),
    )
    installer, topology = model_install(tmp_path, scenario, ingress, release, runner)
    ledger = installer.ledger
    assert ledger is not None and ledger.entries
    for role, snapshot in before.items():  # nothing that was there before is the run's
        assert not {str(ref) for ref in ledger.recorded(role)} & snapshot.objects
    if ingress != "istio":
        installed = ObjectRef(CRD, GATEWAY_API_CRDS[1])
        assert installed in ledger.recorded("remote")  # the suite installed these on the remote
    if scenario == "sail":
        assert ObjectRef(CRD, SAIL_CRDS[0]) in ledger.recorded("external")  # the chart's crds/
    assert ObjectRef("configmap", "istio-ca-root-cert", "default") in {
        ObjectRef.parse(name) for name in take_snapshot(topology["remote"]).objects
    }
    assert installer.uninstall() == []
    verify_restored(f"{scenario}-{ingress}", topology, before, timeout_s=2, poll=FAST)
    assert runner.world.clusters["ctx-rem"].has(foreign)
    # Not only the tracked kinds: every object the install made is gone, and nothing else.
    for context, cluster in runner.world.clusters.items():
        assert sorted(map(str, cluster.objects)) == sorted(map(str, objects_before[context])), context
