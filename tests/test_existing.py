"""Existing clusters: contexts checked up front, per-role kubeconfigs, API server URLs, nothing created."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from clusters.existing import ExistingClusterError, connect_existing, remove_kubeconfigs
from programs.redaction import Redactor
from programs.runner import CommandRunner
from run.config import ExistingClusters
from tests.fakeexec import FakeTools
from tests.topology_child import first

SERVERS = {
    "ctx-ext": "https://ext.example:6443",
    "ctx-remote": "https://10.0.0.5:6443",
    "ctx-second": "https://sec:443",
}


def minified(context: str, server: str, token: str) -> str:
    return f"""apiVersion: v1
kind: Config
clusters:
- cluster: {{server: '{server}'}}
  name: c-{context}
contexts:
- context: {{cluster: c-{context}, user: u-{context}}}
  name: {context}
current-context: {context}
users:
- name: u-{context}
  user: {{token: {token}}}
"""


@pytest.fixture
def kubectl(fake_tools: FakeTools) -> FakeTools:
    tool = fake_tools.install("kubectl")
    tool.on(r"config get-contexts -o name$", stdout="ctx-ext\nctx-remote\nctx-second\nunrelated\n")
    for context, server in SERVERS.items():
        tool.on(
            rf"config view --raw --minify --flatten --context {context}$",
            stdout=minified(context, server, f"token-of-{context}-0123456789"),
        )
    tool.on(r"get --raw /version", stdout='{"gitVersion": "v1.34.2"}')
    fake_tools.install("kind")
    fake_tools.install("docker")
    return fake_tools


def test_handles_for_existing_clusters(
    kubectl: FakeTools, runner: CommandRunner, redactor: Redactor, tmp_path: Path
) -> None:
    existing = ExistingClusters(
        kubeconfig=None,
        contexts={"external": "ctx-ext", "remote": "ctx-remote", "second": "ctx-second"},
        api_servers={"remote": "https://remote.internal:6443"},
    )
    topology = connect_existing(existing, ["external", "remote"], runner, redactor, tmp_path, "kubectl")
    assert topology.mode == "existing"
    assert sorted(topology.clusters) == ["external", "remote"]  # second is not needed here
    remote = topology["remote"]
    # The Istio cluster ID is the role (or --remote-cluster-name), never the context name.
    assert (remote.context, remote.name, remote.network) == ("ctx-remote", "remote", "network1")
    assert remote.internal_api_server == "https://remote.internal:6443"  # the option wins
    assert topology["external"].internal_api_server == "https://ext.example:6443"  # else the kubeconfig's
    assert topology["external"].network is None
    assert not remote.created_by_suite
    assert remote.kubeconfig == tmp_path / "kubeconfig-remote"
    assert stat.S_IMODE(remote.kubeconfig.stat().st_mode) == 0o600
    assert "token-of-ctx-remote" in remote.kubeconfig.read_text()
    assert redactor.redact("token-of-ctx-remote-0123456789") == "<redacted>"
    assert kubectl.lines("kubectl") == [
        "config get-contexts -o name",
        "config view --raw --minify --flatten --context ctx-ext",
        f"--kubeconfig {tmp_path}/kubeconfig-external --context ctx-ext get --raw /version --request-timeout=30s",
        "config view --raw --minify --flatten --context ctx-remote",
        f"--kubeconfig {tmp_path}/kubeconfig-remote --context ctx-remote get --raw /version --request-timeout=30s",
    ]
    assert kubectl.calls("kind") == [] and kubectl.calls("docker") == []  # nothing created or deleted


def test_explicit_kubeconfig_is_passed(
    kubectl: FakeTools, runner: CommandRunner, redactor: Redactor, tmp_path: Path
) -> None:
    source = tmp_path / "user-kubeconfig"
    source.write_text("placeholder")
    existing = ExistingClusters(kubeconfig=source, contexts={"external": "ctx-ext", "remote": "ctx-remote"})
    connect_existing(existing, ["external", "remote"], runner, redactor, tmp_path, "kubectl")
    assert kubectl.lines("kubectl")[:2] == [
        f"--kubeconfig {source} config get-contexts -o name",
        f"--kubeconfig {source} config view --raw --minify --flatten --context ctx-ext",
    ]


def test_missing_context_is_named_with_the_available_ones(
    kubectl: FakeTools, runner: CommandRunner, redactor: Redactor, tmp_path: Path
) -> None:
    existing = ExistingClusters(kubeconfig=None, contexts={"external": "ctx-ext", "remote": "ctx-typo"})
    with pytest.raises(ExistingClusterError) as caught:
        connect_existing(existing, ["external", "remote"], runner, redactor, tmp_path, "kubectl")
    assert str(caught.value) == (
        "--remote-context 'ctx-typo' is not a context in the default kubeconfig ($KUBECONFIG); "
        "contexts there: ctx-ext, ctx-remote, ctx-second, unrelated"
    )
    assert kubectl.lines("kubectl") == ["config get-contexts -o name"]


def test_role_without_context(
    kubectl: FakeTools, runner: CommandRunner, redactor: Redactor, tmp_path: Path
) -> None:
    existing = ExistingClusters(kubeconfig=None, contexts={"external": "ctx-ext", "remote": "ctx-remote"})
    with pytest.raises(ExistingClusterError, match="pass --second-context"):
        connect_existing(existing, ["external", "remote", "second"], runner, redactor, tmp_path, "kubectl")


def test_two_roles_on_one_cluster_are_refused(
    kubectl: FakeTools, runner: CommandRunner, redactor: Redactor, tmp_path: Path
) -> None:
    first(
        kubectl.tools["kubectl"],
        r"--context ctx-remote$",
        stdout=minified("ctx-remote", SERVERS["ctx-ext"], "token-of-ctx-remote-0123456789"),
    )
    existing = ExistingClusters(kubeconfig=None, contexts={"external": "ctx-ext", "remote": "ctx-remote"})
    with pytest.raises(ExistingClusterError, match=r"reach the same API server https://ext\.example:6443"):
        connect_existing(existing, ["external", "remote"], runner, redactor, tmp_path, "kubectl")


def test_cluster_that_does_not_answer(
    kubectl: FakeTools, runner: CommandRunner, redactor: Redactor, tmp_path: Path
) -> None:
    first(
        kubectl.tools["kubectl"],
        r"--context ctx-remote get --raw /version",
        exit=1,
        stderr="Unable to connect to the server: dial tcp 10.0.0.5:6443: i/o timeout\n",
    )
    existing = ExistingClusters(kubeconfig=None, contexts={"external": "ctx-ext", "remote": "ctx-remote"})
    with pytest.raises(ExistingClusterError) as caught:
        connect_existing(existing, ["external", "remote"], runner, redactor, tmp_path, "kubectl")
    assert "the remote cluster (context 'ctx-remote') does not answer" in str(caught.value)
    assert "i/o timeout" in str(caught.value)


def test_credentials_are_removed_at_session_end(
    kubectl: FakeTools, runner: CommandRunner, redactor: Redactor, tmp_path: Path
) -> None:
    existing = ExistingClusters(kubeconfig=None, contexts={"external": "ctx-ext", "remote": "ctx-remote"})
    topology = connect_existing(existing, ["external", "remote"], runner, redactor, tmp_path, "kubectl")
    assert len(list(tmp_path.glob("kubeconfig-*"))) == 2
    remove_kubeconfigs(topology)
    assert list(tmp_path.glob("kubeconfig-*")) == []


def test_cluster_names_are_the_istio_cluster_ids(
    kubectl: FakeTools, runner: CommandRunner, redactor: Redactor, tmp_path: Path
) -> None:
    existing = ExistingClusters(
        kubeconfig=None,
        contexts={"external": "ctx-ext", "remote": "ctx-remote"},
        cluster_names={"remote": "prod-east-1"},
    )
    topology = connect_existing(existing, ["external", "remote"], runner, redactor, tmp_path, "kubectl")
    assert topology["remote"].name == "prod-east-1"
    assert topology["remote"].context == "ctx-remote"
    assert topology["external"].name == "external"
