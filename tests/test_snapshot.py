"""The uninstall proof: a before/after listing of namespaces, CRDs, webhooks and cluster roles."""

from __future__ import annotations

from pathlib import Path

import pytest

from install.snapshot import TRACKED_KINDS, UninstallLeftovers, take_topology_snapshot, verify_restored
from programs.runner import CommandRunner
from programs.waits import Backoff
from tests.fakeexec import FakeTools
from tests.test_installer import make_topology

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


def test_a_namespace_that_is_still_terminating_is_waited_for(
    tmp_path: Path, kubectl: FakeTools, runner: CommandRunner
) -> None:
    topology = make_topology(tmp_path, runner)
    before = take_topology_snapshot(topology, ("remote",))
    kubectl.tools["kubectl"].rules.clear()
    kubectl.tools["kubectl"].on(r"get namespaces,", times=2, stdout="\n".join([*BASE, "namespace/sample"]))
    listing(kubectl, "ctx-rem")
    verify_restored("dns-tls-1.30.3", topology, before, timeout_s=5, poll=FAST)
    # The first listing plus three polls, each a listing of kinds and one of istiod's ConfigMaps.
    assert len(kubectl.calls("kubectl")) == 8
