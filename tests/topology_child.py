"""Helpers for self-tests that run the suite's topology plugin in a child pytest process.

A child process is the honest way to test what a session does end to end: its finalizers,
its reaction to SIGINT, pytest-xdist workers, and what the user sees on the terminal. The
child loads only the plugins the topology needs and gets fake tools through ``--tool-path``
and PATH, a private state directory and a fixed run id (so cluster names are predictable).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from scenarios.releases import load_pins
from tests.fakeexec import FakeTool, FakeTools

REPO_ROOT = Path(__file__).resolve().parent.parent
RUN_ID = "1121000000"
PLUGINS = ("fixtures.options", "fixtures.core", "fixtures.topology_plugin")


# For children that are not about host limits: this machine's inotify limits and free memory
# must not stop them (the preflight itself is tested with a fake /proc and with real tools).
HOST_LIMITS_OFF = """
import clusters.kind.lifecycle

clusters.kind.lifecycle.check_inotify = lambda proc=None: []
clusters.kind.lifecycle.check_memory = lambda clusters, proc=None: []
"""


def write_project(root: Path, test_source: str, conftest: str | None = HOST_LIMITS_OFF) -> Path:
    """A directory with a pytest.ini, a conftest and one test module; returns the test file."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    if conftest is not None:
        (root / "conftest.py").write_text(conftest)
    test_file = root / "test_child.py"
    test_file.write_text(test_source)
    return test_file


def run_dir(state_dir: Path, worker: str = "main", run_id: str = RUN_ID) -> Path:
    return state_dir.parent / "runs" / run_id / worker


def command(test_file: Path, *args: str) -> list[str]:
    plugins = [arg for plugin in PLUGINS for arg in ("-p", plugin)]
    return [
        sys.executable,
        "-m",
        "pytest",
        *plugins,
        "-q",
        "--rootdir",
        str(test_file.parent),
        "--report-dir",
        str(test_file.parent / "report"),
        *args,
        str(test_file),
    ]


def environment(path: str, state_dir: Path, run_id: str = RUN_ID) -> dict[str, str]:
    """The child's environment: fake tools first on PATH, state and run directories beside
    ``state_dir`` (run directories in ``<state_dir>/../runs/<run id>/<worker>``)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "EICP_")) and key != "KIND_EXPERIMENTAL_DOCKER_NETWORK"
    }
    env.update(
        {
            "PATH": path,
            "PYTHONPATH": str(REPO_ROOT),
            "EICP_STATE_DIR": str(state_dir),
            "EICP_RUNS_DIR": str(state_dir.parent / "runs"),
            "EICP_RUN_ID": run_id,
            "HOME": str(state_dir.parent / "home"),
        }
    )
    return env


# -- fake kind, docker and kubectl that behave like a working host -------------------------

NODE_IPS = {"external": "172.18.0.2", "remote": "172.18.0.3", "second": "172.18.0.4"}
KUBECONFIG_TEMPLATE = """apiVersion: v1
kind: Config
clusters:
- cluster: {certificate-authority-data: Q0FDQQ==, server: 'https://127.0.0.1:41000'}
  name: kind-\\1
contexts:
- context: {cluster: kind-\\1, user: kind-\\1}
  name: kind-\\1
current-context: kind-\\1
users:
- name: kind-\\1
  user: {client-certificate-data: Q0VSVA==, client-key-data: c2VjcmV0LWNsaWVudC1rZXktZm9yLXRlc3Rz}
"""
NODES_JSON = """{"items": [{"metadata": {"name": "\\1-control-plane", "labels": {
  "kubernetes.io/hostname": "\\1-control-plane",
  "node.kubernetes.io/exclude-from-external-load-balancers": ""}},
  "status": {"conditions": [{"type": "Ready", "status": "True"}]}}]}"""
COREDNS_JSON = """{"spec": {"replicas": 2}, "status": {"readyReplicas": 2,
  "conditions": [{"type": "Available", "status": "True"}]}}"""


def install_cluster_fakes(fakes: FakeTools, *, create_sleep: float = 0.0) -> None:
    """kind/docker/kubectl fakes: created clusters are remembered in the fake state "clusters"."""
    kind = fakes.install("kind")
    kind.on(r"^version$", stdout="kind v0.33.0 go1.26.8 linux/amd64\n")
    kind.on(r"^create cluster --name (\S+)", sleep=create_sleep, add_state=("clusters", r"\1"))
    kind.on(r"^delete cluster --name (\S+)", remove_state=("clusters", r"\1"))
    kind.on(r"^get clusters$", stdout_from_state="clusters")
    kind.on(r"^get kubeconfig --name (\S+)$", stdout=KUBECONFIG_TEMPLATE)
    docker = fakes.install("docker")
    docker.on(r"^info", stdout="27.3.1\n")
    for role, address in NODE_IPS.items():
        docker.on(
            rf"^inspect .* \S+-{role}(-gw\d+)?-control-plane$",
            stdout=f'{{"kind": {{"IPAddress": "{address}"}}}}',
        )
    docker.on(
        r"^ps -a --filter label=io.x-k8s.cloud-provider-kind.cluster", stdout_from_state="cpk-containers"
    )
    kubectl = fakes.install("kubectl")
    kubectl.on(r"^version --client", stdout="Client Version: v1.37.0\n")
    kubectl.on(r"--context kind-(\S+) get nodes -o json", stdout=NODES_JSON)
    kubectl.on(r"get deployment coredns -o json", stdout=COREDNS_JSON)
    cpk = fakes.install("cloud-provider-kind")
    cpk.on(
        r"^--help$",
        stdout="Flags:\n      --gateway-channel string   define the gateway API release channel\n",
    )
    # As the real v0.11 binary answers (goreleaser stamps the version without its "v").
    pinned = str(load_pins().tools["cloud-provider-kind"]["version"])
    cpk.on(r"^version$", stdout=f"cloud-provider-kind {pinned.removeprefix('v')}\n")
    # The daemon: records its start, then runs until it is stopped.
    cpk.on(r"^(--gateway-channel .*)$", sleep=300.0, add_state=("cpk-starts", r"\1"))


def first(tool: FakeTool, pattern: str, **behaviour: Any) -> None:
    """Add a rule that takes precedence over the ones already there."""
    tool.on(pattern, **behaviour)
    tool.rules.insert(0, tool.rules.pop())
    tool.save()
