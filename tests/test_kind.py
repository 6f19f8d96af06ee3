"""The kind and docker adapters: exact argv, output parsing, transient failure recognition."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clusters.kind.cli import (
    DockerCli,
    KindCli,
    KindError,
    transient_create_failure,
)
from clusters.names import KIND_NAME_MAX, ClusterNameError, validate_cluster_name
from programs.runner import CommandError, CommandRunner
from scenarios.releases import load_pins
from tests.fakeexec import FakeTools
from tests.upstream import module_dir_or_reason

KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- cluster: {certificate-authority-data: AAAA, server: 'https://127.0.0.1:40000'}
  name: kind-c1
contexts:
- context: {cluster: kind-c1, user: kind-c1}
  name: kind-c1
users:
- name: kind-c1
  user: {client-certificate-data: BBBB, client-key-data: S2V5S2V5S2V5S2V5}
"""


def test_kind_commands_have_exact_argv(fake_tools: FakeTools, runner: CommandRunner, tmp_path: Path) -> None:
    fake_tools.install("kind").on(r"^get clusters$", stdout="eicp-1-remote\nkind\n").on(
        r"^get kubeconfig", stdout=KUBECONFIG
    )
    kind = KindCli(runner, "kind")
    kind.create("eicp-1-remote", tmp_path / "c.yaml", tmp_path / "kc", wait="5m")
    kind.delete("eicp-1-remote", tmp_path / "kc")
    assert kind.clusters() == ["eicp-1-remote", "kind"]
    assert kind.exists("kind") and not kind.exists("eicp-1-external")
    assert kind.kubeconfig("eicp-1-remote") == KUBECONFIG
    kind.export_logs("eicp-1-remote", tmp_path / "logs")
    kind.load_docker_images("eicp-1-remote", ["a:1", "b:2"])
    kind.load_docker_images("eicp-1-remote", [])
    kind.load_image_archive("eicp-1-remote", tmp_path / "img.tar")
    assert fake_tools.lines("kind") == [
        f"create cluster --name eicp-1-remote --config {tmp_path}/c.yaml --kubeconfig {tmp_path}/kc --wait 5m",
        f"delete cluster --name eicp-1-remote --kubeconfig {tmp_path}/kc",
        "get clusters",
        "get clusters",
        "get clusters",
        "get kubeconfig --name eicp-1-remote",
        f"export logs {tmp_path}/logs --name eicp-1-remote",
        "load docker-image --name eicp-1-remote a:1 b:2",
        f"load image-archive {tmp_path}/img.tar --name eicp-1-remote",
    ]
    assert (tmp_path / "logs").is_dir()


def test_kubeconfig_output_is_not_written_to_the_transcript(
    fake_tools: FakeTools, runner: CommandRunner, tmp_path: Path
) -> None:
    fake_tools.install("kind").on(r"^get kubeconfig", stdout=KUBECONFIG)
    KindCli(runner, "kind").kubeconfig("c1")
    assert "S2V5S2V5S2V5S2V5" not in (tmp_path / "commands.log").read_text()


def test_empty_kubeconfig_is_an_error(fake_tools: FakeTools, runner: CommandRunner) -> None:
    fake_tools.install("kind").on(r"^get kubeconfig", stdout="")
    with pytest.raises(KindError, match="returned no kubeconfig"):
        KindCli(runner, "kind").kubeconfig("c1")


def test_no_clusters(fake_tools: FakeTools, runner: CommandRunner) -> None:
    fake_tools.install("kind").on(r"^get clusters$", stderr="No kind clusters found.\n")
    assert KindCli(runner, "kind").clusters() == []


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        (
            'ERROR: failed to create cluster: could not find a log line that matches "Reached target .*Multi-User'
            ' System.*|detected cgroup v1"',
            "node boot log not seen in time",
        ),
        (
            "ERROR: failed to create cluster: failed to lock config file: open /x.lock: file exists",
            "kubeconfig locked by another kind process",
        ),
        (
            'ERROR: failed to create cluster: failed to pull image "kindest/node:v1.37.0@sha256:a": command '
            '"docker pull" failed ... net/http: TLS handshake timeout',
            "node image pull network error",
        ),
        ('ERROR: failed to create cluster: node(s) already exist for a cluster with the name "x"', None),
        ("ERROR: failed to init node with kubeadm: exit status 1", None),
        ("ERROR: failed to pull image: manifest unknown", None),
    ],
)
def test_transient_failures_are_recognised_by_name(stderr: str, expected: str | None) -> None:
    error = CommandError(["kind", "create", "cluster"], 1, stderr, stderr=stderr)
    assert transient_create_failure(error) == expected


def test_cluster_names_follow_kind_validation() -> None:
    assert validate_cluster_name("eicp-1121003745-external-gw12") == "eicp-1121003745-external-gw12"
    with pytest.raises(ClusterNameError, match="must match"):
        validate_cluster_name("Eicp_1")
    with pytest.raises(ClusterNameError, match=f"at most {KIND_NAME_MAX}"):
        validate_cluster_name("a" * (KIND_NAME_MAX + 1))


def test_kind_name_limit_matches_kind_source() -> None:
    module = module_dir_or_reason("sigs.k8s.io/kind", load_pins().tools["kind"]["version"])
    if isinstance(module, str):
        pytest.skip(f"kind's source cannot be had: {module}")
    source = module / "pkg/cluster/internal/create/create.go"
    assert f"clusterNameMax = {KIND_NAME_MAX}" in source.read_text()


def test_internal_api_server_is_the_control_plane_ip_on_the_kind_network(
    fake_tools: FakeTools, runner: CommandRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KIND_EXPERIMENTAL_DOCKER_NETWORK", raising=False)
    networks = {"bridge": {"IPAddress": "172.17.0.2"}, "kind": {"IPAddress": "172.18.0.3"}}
    fake_tools.install("docker").on(r"^inspect", stdout=json.dumps(networks))
    assert DockerCli(runner, "docker").internal_api_server("eicp-1-remote") == (
        "https://172.18.0.3:6443",
        "kind",
    )
    assert fake_tools.lines("docker") == [
        "inspect --format {{json .NetworkSettings.Networks}} eicp-1-remote-control-plane"
    ]


def test_missing_kind_network_is_explained(fake_tools: FakeTools, runner: CommandRunner) -> None:
    fake_tools.install("docker").on(r"^inspect", stdout=json.dumps({"bridge": {"IPAddress": "172.17.0.2"}}))
    with pytest.raises(
        KindError, match=r"no IPv4 address on docker network 'kind' \(attached networks: bridge\)"
    ):
        DockerCli(runner, "docker").internal_api_server("c1")


def test_cpk_containers_are_listed_by_label_and_removed_only_for_given_clusters(
    fake_tools: FakeTools, runner: CommandRunner
) -> None:
    docker = fake_tools.install("docker")
    docker.on(
        r"^ps -a --filter label=io.x-k8s.cloud-provider-kind.cluster",
        stdout="kindccm-aaaaaaaaaaaa\teicp-1-remote\nkindccm-bbbbbbbbbbbb\tother\nkindccm-gw-cccccccccccc\teicp-1-remote\n",
    )
    removed = DockerCli(runner, "docker").remove_cpk_containers_of(["eicp-1-remote"])
    assert removed == ["kindccm-aaaaaaaaaaaa", "kindccm-gw-cccccccccccc"]
    assert fake_tools.lines("docker")[-1] == "rm -f kindccm-aaaaaaaaaaaa kindccm-gw-cccccccccccc"
