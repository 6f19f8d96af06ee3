"""Today's guide on a real API server (the pinned etcd, kube-apiserver and namespace controller
of tests/test_ledger_apiserver.py) with the real offline istioctl: what ``istioctl install`` of
the remote profile makes beside its manifest is recorded, the guide's ``istioctl uninstall -y
--purge -f`` undoes it, and the purge is refused where it would remove what the run did not make.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clusters.cluster import ClusterHandle, Topology
from clusters.providers import provider_spec
from install.installer import Installer
from install.snapshot import take_topology_snapshot, verify_restored
from programs.runner import CommandRecord
from scenarios.facts import Facts
from scenarios.registry import render
from scenarios.releases import load_pins
from scenarios.steps import Action, Step
from tests.real_apiserver import ResolveTool, real_cluster
from tests.test_ledger_apiserver import FAST

pytestmark = [pytest.mark.realtools, pytest.mark.slow]
__all__ = ["real_cluster"]  # the module's own control plane (the module-scoped fixture ``cluster``)


def _remote_config_cluster_steps() -> tuple[Step, Step]:
    """Today's guide on the remote config cluster: its namespace, then ``istioctl install -f
    remote-config-cluster.yaml --set values.defaultRevision=default`` (IP address variant),
    undone by ``istioctl uninstall -y --purge -f`` it; as the renderer makes them."""
    release = load_pins().resolve_release("1.31", guide="istio.io-6129086")
    facts = Facts(cluster_names={"remote": "remote"}, external_istiod_addr="10.20.30.40")
    steps = {step.name: step for step in render("ip-passthrough", release, facts).plan.steps}
    install = steps["remote-config-cluster"]
    assert install.action is Action.ISTIOCTL_INSTALL and install.params["uninstall"] == "purge"
    return steps["remote-namespace-external-istiod"], install


def _remote_installer(cluster: ClusterHandle, real_tool: ResolveTool, tmp_path: Path, name: str) -> Installer:
    return Installer(
        scenario=name,
        topology=Topology(
            provider_spec("existing").capabilities, clusters={"remote": cluster}, prefix="eicp"
        ),
        release=load_pins().resolve_release("1.31", guide="istio.io-6129086"),
        work_dir=tmp_path,
        istioctl=real_tool("istioctl-offline").path,
        poll=FAST,
    )


WEBHOOKS = "admissionregistration.k8s.io"


def _uninstall_commands(cluster: ClusterHandle) -> list[str]:
    """The ``istioctl uninstall`` command lines the cluster's runner runs from now on."""
    seen: list[str] = []

    def listen(record: CommandRecord) -> None:
        if record.argv and record.argv[0].endswith("istioctl") and "uninstall" in record.argv:
            seen.append(" ".join(record.argv))

    cluster.runner.add_listener(listen)
    return seen


def test_istioctl_install_of_the_remote_profile_is_recorded_with_its_revision_tag_and_purged(
    cluster: ClusterHandle, real_tool: ResolveTool, tmp_path: Path
) -> None:
    """The real istioctl installs today's remote config cluster: the default revision tag's
    webhooks it makes beside its manifest are recorded, the guide's purge runs as the step's
    undo, and the uninstall leaves the API server as the snapshot found it."""
    installer = _remote_installer(cluster, real_tool, tmp_path, "ledger-remote-profile")
    topology = installer.topology
    before = take_topology_snapshot(topology, ("remote",))
    uninstalls = _uninstall_commands(cluster)
    for step in _remote_config_cluster_steps():
        installer.run_step(step)
    assert installer.ledger is not None
    recorded = {str(ref) for ref in installer.ledger.recorded("remote")}
    for name in ("istio-sidecar-injector-external-istiod", "istio-revision-tag-default-external-istiod"):
        assert f"mutatingwebhookconfiguration.{WEBHOOKS}/{name}" in recorded
    for name in ("istio-validator-external-istiod", "istiod-default-validator"):
        assert f"validatingwebhookconfiguration.{WEBHOOKS}/{name}" in recorded
    undo = next(entry.undo for entry in installer.ledger.entries if entry.step == "remote-config-cluster")
    assert undo is not None and undo.action is Action.ISTIOCTL_UNINSTALL and undo.params["purge"] is True
    assert installer.uninstall() == []
    assert (
        len(uninstalls) == 1 and "--purge" in uninstalls[0] and "remote-config-cluster.yaml" in uninstalls[0]
    )
    verify_restored("ledger-remote-profile", topology, before, timeout_s=120, poll=FAST)


def test_the_guides_purge_is_refused_where_it_would_remove_what_the_run_did_not_make(
    cluster: ClusterHandle, real_tool: ResolveTool, tmp_path: Path
) -> None:
    """An object labelled as Istio's that was there before (someone else's install): the purge
    would delete it, so it does not run; the ledger removes the run's own objects, and the
    foreign one stays."""
    foreign = "clusterrole.rbac.authorization.k8s.io/someone-elses-istio"
    cluster.kubectl("create", "clusterrole", "someone-elses-istio", "--verb=get", "--resource=pods")
    cluster.kubectl("label", foreign, "operator.istio.io/component=Pilot")
    installer = _remote_installer(cluster, real_tool, tmp_path, "ledger-remote-foreign")
    before = take_topology_snapshot(installer.topology, ("remote",))
    uninstalls = _uninstall_commands(cluster)
    try:
        for step in _remote_config_cluster_steps():
            installer.run_step(step)
        assert installer.uninstall() == []
        assert uninstalls == []
        verify_restored("ledger-remote-foreign", installer.topology, before, timeout_s=120, poll=FAST)
        assert cluster.kubectl("get", foreign, "-o", "name").stdout.strip() == foreign
    finally:
        cluster.kubectl("delete", foreign, "--ignore-not-found")
