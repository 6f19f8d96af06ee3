"""The installer's dns-tls actions: publishing the test hostname (CoreDNS and the kind nodes'
hosts files) and the "hostname resolves and TLS verifies" precondition.

Publishing runs against a small simulated kind cluster (kubectl/kind/docker on PATH keeping a
CoreDNS ConfigMap with resourceVersions and node file systems in a directory; ``docker exec ...
sh -c`` runs the suite's real script on those files), so publish then withdraw must give back
every byte. The precondition runs against the ``fake_tools`` executables.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from clusters.cluster import Topology
from clusters.providers import provider_spec
from install.hostname import KindNodes, hosts_line
from install.installer import EnvironmentFault, Installer, StepFailed
from install.ledger import Ledger
from programs.runner import CommandRunner
from scenarios import pki
from scenarios.facts import Facts
from scenarios.steps import Action, Step
from tests.conftest import Deadlines
from tests.fakeexec import FakeTools
from tests.installer_support import make_installer, make_topology
from tests.test_hostname import DOCKER_HOSTS, KUBEADM_COREFILE

HOST = "istiod.external-istiod.eicp.test"
ADDR = "172.18.0.200"
NODES = ("eicp-remote-control-plane", "eicp-remote-worker")
APISERVER_UID = "5d2b1c8e0f9a4b7c8d6e5f4a3b2c1d0e"
PKI = pki.generate(HOST, run_label="selftest")

SIMULATOR = textwrap.dedent(
    """
    import json, os, subprocess, sys
    from pathlib import Path

    root = Path(os.environ["SIM_ROOT"])
    tool, args = Path(sys.argv[0]).name, sys.argv[1:]
    stdin = "" if sys.stdin.isatty() else sys.stdin.read()
    with (root / "calls.jsonl").open("a") as log:
        log.write(json.dumps([tool, *args]) + "\\n")
    state = root / "coredns.json"
    if tool == "kind":
        print("\\n".join(json.loads((root / "nodes.json").read_text())))
    elif tool == "docker" and args[:1] == ["exec"] and args[2:4] == ["sh", "-c"]:
        node = root / "nodes" / args[1]
        rest = [str(node) + a if a.startswith("/") else a for a in args[6:]]
        sys.exit(subprocess.run(["sh", "-c", args[4], args[5], *rest]).returncode)
    elif tool == "docker" and args[2:4] == ["getent", "hosts"]:
        for line in (root / "nodes" / args[1] / "etc/hosts").read_text().splitlines():
            fields = line.split("#")[0].split()
            if args[4] in fields[1:]:
                print(f"{fields[0]}  {args[4]}")
                sys.exit(0)
        sys.exit(2)
    elif tool == "kubectl":
        verb = args[4:]
        if verb[:2] == ["get", "configmap/coredns"]:
            print(state.read_text())
        elif verb[:1] == ["replace"]:
            new, old = json.loads(stdin), json.loads(state.read_text())
            if new["metadata"]["resourceVersion"] != old["metadata"]["resourceVersion"]:
                print('Error from server (Conflict): the object has been modified', file=sys.stderr)
                sys.exit(1)
            new["metadata"]["resourceVersion"] = str(int(old["metadata"]["resourceVersion"]) + 1)
            state.write_text(json.dumps(new))
        elif verb[:2] == ["get", "pods"]:
            print((root / "apiserver.json").read_text())
    """
)


def simulated_kind_cluster(
    root: Path, monkeypatch: pytest.MonkeyPatch, corefile: str = KUBEADM_COREFILE
) -> Path:
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True)
    script = root / "simulator.py"
    script.write_text(SIMULATOR)
    for tool in ("kubectl", "kind", "docker"):
        (bin_dir / tool).write_text(f"#!{sys.executable}\nexec(open({str(script)!r}).read())\n")
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("SIM_ROOT", str(root))
    (root / "nodes.json").write_text(json.dumps(list(NODES)))
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "coredns", "namespace": "kube-system", "resourceVersion": "100"},
        "data": {"Corefile": corefile},
    }
    (root / "coredns.json").write_text(json.dumps(configmap))
    pod = {
        "metadata": {
            "name": f"kube-apiserver-{NODES[0]}",
            "annotations": {"kubernetes.io/config.hash": APISERVER_UID},
        },
        "spec": {"nodeName": NODES[0]},
    }
    (root / "apiserver.json").write_text(json.dumps({"items": [pod]}))
    for node in NODES:
        (root / "nodes" / node / "etc").mkdir(parents=True)
        (root / "nodes" / node / "etc/hosts").write_text(DOCKER_HOSTS)
    pod_dir = root / "nodes" / NODES[0] / "var/lib/kubelet/pods" / APISERVER_UID
    pod_dir.mkdir(parents=True)
    (pod_dir / "etc-hosts").write_text("# Kubernetes-managed hosts file (host network).\n" + DOCKER_HOSTS)
    return root


def node_files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes() for path in sorted((root / "nodes").rglob("*hosts"))
    }


def corefile(root: Path) -> str:
    return str(json.loads((root / "coredns.json").read_text())["data"]["Corefile"])


def publish_step(*, remove: bool = False) -> Step:
    params: dict[str, Any] = {"hostname": HOST, "address": ADDR, "scopes": ["pods", "node"]}
    if remove:
        params["remove"] = True
    return Step("unpublish" if remove else "publish", "remote", Action.PUBLISH_HOSTNAME, "t", params=params)


def kind_installer(tmp_path: Path, runner: CommandRunner, samples: Path | None = None) -> Installer:
    installer = make_installer(tmp_path, make_topology(tmp_path, runner), samples)
    installer.nodes = KindNodes(runner, "kind", "docker")
    return installer


def calls(root: Path) -> list[list[str]]:
    return [json.loads(line) for line in (root / "calls.jsonl").read_text().splitlines()]


# -- publishing --------------------------------------------------------------------------------------


def test_publish_reaches_coredns_every_node_and_the_running_api_server_and_withdraw_undoes_it(
    tmp_path: Path, runner: CommandRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = simulated_kind_cluster(tmp_path / "sim", monkeypatch)
    files_before = node_files(root)
    installer = kind_installer(tmp_path, runner)

    installer.run_step(publish_step())
    published = corefile(root)
    assert published.startswith(KUBEADM_COREFILE) and f"{ADDR} {HOST}" in published
    line = f"{hosts_line(HOST, ADDR)}\n".encode()
    assert node_files(root) == {path: before + line for path, before in files_before.items()}
    assert f"var/lib/kubelet/pods/{APISERVER_UID}/etc-hosts" in " ".join(node_files(root))
    assert not any(call[5:7] == ["rollout", "restart"] for call in calls(root) if call[0] == "kubectl")

    installer.run_step(publish_step())  # a rerun changes nothing
    assert corefile(root) == published
    assert sum(call[5:6] == ["replace"] for call in calls(root) if call[0] == "kubectl") == 1

    installer.run_step(publish_step(remove=True))
    assert corefile(root) == KUBEADM_COREFILE
    assert node_files(root) == files_before  # byte for byte
    installer.run_step(publish_step(remove=True))  # withdrawing twice is fine
    assert node_files(root) == files_before


def test_the_ledger_undoes_a_publish_byte_for_byte(
    tmp_path: Path, runner: CommandRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = simulated_kind_cluster(tmp_path / "sim", monkeypatch)
    files_before = node_files(root)
    installer = kind_installer(tmp_path, runner)
    installer.ledger = Ledger()  # as the scenario session runs it: uninstall from what was recorded
    installer.run_step(publish_step())
    assert corefile(root) != KUBEADM_COREFILE
    [entry] = installer.ledger.entries
    assert entry.undo is not None and entry.undo.params["remove"] is True
    assert installer.uninstall() == []
    assert corefile(root) == KUBEADM_COREFILE
    assert node_files(root) == files_before  # byte for byte


def test_coredns_without_reload_is_restarted(
    tmp_path: Path, runner: CommandRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = simulated_kind_cluster(tmp_path / "sim", monkeypatch, KUBEADM_COREFILE.replace("    reload\n", ""))
    kind_installer(tmp_path, runner).run_step(publish_step())
    rollouts = [call[5:8] for call in calls(root) if call[0] == "kubectl" and call[5] == "rollout"]
    assert rollouts == [
        ["rollout", "restart", "deployment/coredns"],
        ["rollout", "status", "deployment/coredns"],
    ]


def test_a_concurrent_corefile_edit_is_retried_not_overwritten(
    tmp_path: Path, runner: CommandRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = simulated_kind_cluster(tmp_path / "sim", monkeypatch)
    installer = kind_installer(tmp_path, runner)
    original_kubectl = installer.topology["remote"].kubectl
    edited = False

    def someone_edits_first(*args: str, **kwargs: Any) -> Any:
        nonlocal edited
        if args[:1] == ("replace",) and not edited:
            edited = True  # another client changes the ConfigMap between our read and our write
            state = json.loads((root / "coredns.json").read_text())
            state["data"]["Corefile"] += "# theirs\n"
            state["metadata"]["resourceVersion"] = "101"
            (root / "coredns.json").write_text(json.dumps(state))
        return original_kubectl(*args, **kwargs)

    monkeypatch.setattr(installer.topology["remote"], "kubectl", someone_edits_first)
    installer.run_step(publish_step())
    assert corefile(root).startswith(KUBEADM_COREFILE + "# theirs\n") and HOST in corefile(root)


def test_an_address_that_is_a_name_cannot_be_published(
    tmp_path: Path, runner: CommandRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = simulated_kind_cluster(tmp_path / "sim", monkeypatch)
    lb_name = Step(
        "publish", "remote", Action.PUBLISH_HOSTNAME, "t",
        params={"hostname": HOST, "address": "a1.elb.example.com", "scopes": ["pods", "node"]},
    )  # fmt: skip
    with pytest.raises(StepFailed, match="not an IP address"):
        kind_installer(tmp_path, runner).run_step(lb_name)
    assert not (root / "calls.jsonl").exists()


def test_no_coredns_configmap_is_an_environment_fault(
    tmp_path: Path, runner: CommandRunner, fake_tools: FakeTools
) -> None:
    fake_tools.install("kubectl").on(
        r"get configmap/coredns",
        exit=1,
        stderr='Error from server (NotFound): configmaps "coredns" not found',
    )
    with pytest.raises(EnvironmentFault, match=r"no ConfigMap kube-system/coredns.*--external-hostname"):
        kind_installer(tmp_path, runner).run_step(publish_step())


# -- the precondition --------------------------------------------------------------------------------

PRECONDITION = Step(
    "remote-precondition-gateway-name-and-tls",
    "remote",
    Action.PRECONDITION,
    "t",
    params={
        "check": "hostname-resolves-and-tls-verifies",
        "hostname": HOST,
        "ports": [15012, 15017],
        "namespace": "external-istiod",
        "ca": f"pki:{pki.ROOT_CERT}",
        "deadline_s": 2,
    },
)
CURL_SAMPLE = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: curl}\nspec:\n  template:\n    spec:\n"
    "      containers:\n      - {name: curl, image: docker.io/curlimages/curl:8.16.0}\n"
)


def probe_pod(phase: str, exit_code: int | None = None, waiting: str | None = None) -> str:
    state: dict[str, Any] = {"terminated": {"exitCode": exit_code}} if exit_code is not None else {}
    if waiting:
        state = {"waiting": {"reason": waiting, "message": "Back-off pulling image"}}
    return json.dumps({"status": {"phase": phase, "containerStatuses": [{"state": state}]}})


@pytest.fixture
def precondition_world(tmp_path: Path, runner: CommandRunner, fake_tools: FakeTools) -> dict[str, Any]:
    samples = tmp_path / "samples"
    (samples / "curl").mkdir(parents=True)
    (samples / "curl" / "curl.yaml").write_text(CURL_SAMPLE)
    installer = kind_installer(tmp_path, runner, samples)
    installer.pki = lambda: PKI
    installer._facts = Facts(external_istiod_addr=ADDR)  # what the install learnt before this step
    kubectl, kind, docker = (fake_tools.install(tool) for tool in ("kubectl", "kind", "docker"))
    kind.on(r"^get nodes --name eicp-remote$", stdout=f"{NODES[0]}\n")
    docker.on(rf"^exec {NODES[0]} getent hosts {HOST}$", stdout=f"{ADDR}      {HOST}\n")
    return {"installer": installer, "kubectl": kubectl, "docker": docker, "tools": fake_tools}


def kubectl_verbs(tools: FakeTools) -> list[str]:
    return [call.args[4] for call in tools.calls("kubectl")]


def test_a_name_that_resolves_and_verifies_passes_and_the_probe_is_deleted(
    precondition_world: dict[str, Any],
) -> None:
    world = precondition_world
    world["kubectl"].on(
        r" get pod/eicp-gateway-probe-\w+ -n external-istiod -o json$", stdout=probe_pod("Succeeded", 0)
    )
    world["installer"].run_step(PRECONDITION)
    tools: FakeTools = world["tools"]
    assert kubectl_verbs(tools) == ["create", "get", "logs", "delete"]
    created = list(yaml.safe_load_all(tools.calls("kubectl")[0].stdin))
    assert [doc["kind"] for doc in created] == ["ConfigMap", "Pod"]
    assert created[0]["data"]["ca.pem"] == PKI.material(pki.ROOT_CERT).decode()
    assert "PRIVATE KEY" not in tools.calls("kubectl")[0].stdin
    assert created[1]["spec"]["containers"][0]["image"] == "docker.io/curlimages/curl:8.16.0"
    pod, configmap = created[1]["metadata"]["name"], created[0]["metadata"]["name"]
    assert tools.calls("kubectl")[-1].args[-2:] == (f"pod/{pod}", f"configmap/{configmap}")
    assert tools.lines("docker") == [f"exec {NODES[0]} getent hosts {HOST}"]  # the API server's view


@pytest.mark.parametrize(
    ("code", "wanted"),
    [
        (6, rf"{HOST} does not resolve .*must resolve to {ADDR}"),
        (60, r"not verified against the mesh root CA of this run's PKI"),
    ],
)
def test_a_failing_probe_is_an_environment_fault_naming_what_to_fix(
    precondition_world: dict[str, Any], code: int, wanted: str
) -> None:
    world = precondition_world
    world["kubectl"].on(r" get pod/\S+ -n external-istiod -o json$", stdout=probe_pod("Failed", code))
    world["kubectl"].on(r" logs pod/", stdout=f"eicp-probe port=15012 rc={code} ip= curl: ({code}) nope\n")
    with pytest.raises(EnvironmentFault, match=wanted):
        world["installer"].run_step(PRECONDITION)
    assert kubectl_verbs(world["tools"])[-1] == "delete"


def test_a_probe_pod_that_never_runs_names_its_state_and_is_still_deleted(
    precondition_world: dict[str, Any], deadlines: Deadlines
) -> None:
    deadlines({"install.hostname-probe-start": 0.5})
    world = precondition_world
    world["kubectl"].on(
        r" get pod/\S+ -n external-istiod -o json$", stdout=probe_pod("Pending", waiting="ImagePullBackOff")
    )
    with pytest.raises(EnvironmentFault, match=r"did not finish: phase Pending; waiting: ImagePullBackOff"):
        world["installer"].run_step(PRECONDITION)
    assert kubectl_verbs(world["tools"])[-1] == "delete"


def test_nodes_that_cannot_resolve_the_name_fail_before_any_pod(precondition_world: dict[str, Any]) -> None:
    world = precondition_world
    world["docker"].rules.clear()
    world["docker"].on(r"getent hosts", exit=2)
    with pytest.raises(EnvironmentFault, match=rf"API server's nodes cannot resolve {HOST}.*webhook calls"):
        world["installer"].run_step(PRECONDITION)
    assert world["tools"].calls("kubectl") == []


def test_bad_precondition_parameters_are_refused_before_any_command(
    precondition_world: dict[str, Any],
) -> None:
    installer: Installer = precondition_world["installer"]
    for change, wanted in (
        ({"check": "something-else"}, "unknown precondition"),
        ({"ca": f"pki:{pki.ROOT_KEY}"}, "names a private key"),
        ({"ca": "file:/etc/x"}, "use 'system', 'pki:<certificate>' or 'base64:<PEM>'"),
        ({"ports": [0]}, "must be TCP ports"),
    ):
        bad = Step(
            PRECONDITION.name, "remote", Action.PRECONDITION, "t", params={**PRECONDITION.params, **change}
        )
        with pytest.raises(StepFailed, match=wanted):
            installer.run_step(bad)
    assert precondition_world["tools"].calls() == []


def test_existing_clusters_run_the_probe_without_node_access(precondition_world: dict[str, Any]) -> None:
    installer: Installer = precondition_world["installer"]
    topology: Topology = installer.topology
    topology.capabilities = provider_spec("existing").capabilities
    system = Step(
        PRECONDITION.name, "remote", Action.PRECONDITION, "t", params={**PRECONDITION.params, "ca": "system"}
    )
    precondition_world["kubectl"].on(
        r" get pod/\S+ -n external-istiod -o json$", stdout=probe_pod("Succeeded", 0)
    )
    installer.run_step(system)
    assert precondition_world["tools"].calls("docker") == []
    created = list(yaml.safe_load_all(precondition_world["tools"].calls("kubectl")[0].stdin))
    assert [doc["kind"] for doc in created] == ["Pod"]  # the image's system roots, no CA ConfigMap
