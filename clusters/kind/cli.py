"""Adapters for the ``kind`` CLI and the few ``docker`` calls kind clusters need.

Everything runs through the one command runner. ``KindCli`` is a thin, typed wrapper: it
knows kind's flags and output formats, recognises kind's known transient creation failures,
and never touches the user's default kubeconfig (every call that would write one gets an
explicit ``--kubeconfig``). ``DockerCli`` reads container facts (the control-plane IP on the
kind network) and lists/removes cloud-provider-kind containers by label.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from clusters.names import validate_cluster_name
from programs.runner import CommandError, CommandRunner
from run.timeouts import KIND_CREATE, KIND_DELETE, KIND_EXPORT_LOGS, KIND_LOAD, KIND_QUERY

KIND_NETWORK_ENV = "KIND_EXPERIMENTAL_DOCKER_NETWORK"
DEFAULT_KIND_NETWORK = "kind"
API_SERVER_PORT = 6443

CPK_CLUSTER_LABEL = "io.x-k8s.cloud-provider-kind.cluster"
CPK_CONTAINER_PREFIX = "kindccm-"


# kind failures known to be transient, by name. Anything else is a real failure and is not
# retried. Matched against kind's redacted stderr/stdout.
TRANSIENT_CREATE_FAILURES: dict[str, re.Pattern[str]] = {
    # The node container did not log systemd's boot target in time (a loaded host).
    "node boot log not seen in time": re.compile(r"could not find a log line that matches"),
    # Another kind process held the kubeconfig's lock file at that moment.
    "kubeconfig locked by another kind process": re.compile(r"failed to lock config file"),
    # The node image pull hit a network hiccup.
    "node image pull network error": re.compile(
        r"(?is)(?:failed to pull image|error pulling image).*?"
        r"(?:TLS handshake timeout|i/o timeout|connection reset by peer|unexpected EOF|"
        r"Client\.Timeout exceeded|502 Bad Gateway|503 Service Unavailable)"
    ),
}


class KindError(RuntimeError):
    """A kind operation failed in a way the caller should report as is."""


def transient_create_failure(error: CommandError) -> str | None:
    """The name of the known transient failure ``error`` shows, or None if it is not one."""
    text = f"{error.stderr}\n{error.stdout}\n{error.stderr_tail}"
    for name, pattern in TRANSIENT_CREATE_FAILURES.items():
        if pattern.search(text):
            return name
    return None


def control_plane_container(cluster: str) -> str:
    """kind's container name of a cluster's (only) control-plane node."""
    return f"{cluster}-control-plane"


@dataclass(frozen=True)
class KindCli:
    runner: CommandRunner
    kind_bin: str

    def create(self, name: str, config_file: Path, kubeconfig: Path, *, wait: str = "5m") -> None:
        """``kind create cluster``; the kubeconfig goes to ``kubeconfig``, never to ~/.kube/config."""
        self.runner.run(
            [
                self.kind_bin,
                "create",
                "cluster",
                "--name",
                validate_cluster_name(name),
                "--config",
                str(config_file),
                "--kubeconfig",
                str(kubeconfig),
                "--wait",
                wait,
            ],
            timeout_s=KIND_CREATE.seconds(),
            title=f"kind create cluster {name}",
        )

    def delete(self, name: str, kubeconfig: Path) -> None:
        """``kind delete cluster``; succeeds when the cluster does not exist (kind's behaviour)."""
        self.runner.run(
            [self.kind_bin, "delete", "cluster", "--name", name, "--kubeconfig", str(kubeconfig)],
            timeout_s=KIND_DELETE.seconds(),
            title=f"kind delete cluster {name}",
        )

    def clusters(self) -> list[str]:
        """Every kind cluster on this host (kind prints "No kind clusters found." on stderr)."""
        result = self.runner.run([self.kind_bin, "get", "clusters"], timeout_s=KIND_QUERY.seconds())
        return [line.strip() for line in result.stdout.splitlines() if line.strip()]

    def exists(self, name: str) -> bool:
        return name in self.clusters()

    def kubeconfig(self, name: str, *, internal: bool = False) -> str:
        """The cluster's kubeconfig text (holds a client key: never attached or logged)."""
        argv = [self.kind_bin, "get", "kubeconfig", "--name", name]
        if internal:
            argv.append("--internal")
        result = self.runner.run(
            argv, timeout_s=KIND_QUERY.seconds(), attach=False, title=f"kind get kubeconfig {name}"
        )
        if "clusters:" not in result.stdout:
            raise KindError(f"kind get kubeconfig --name {name} returned no kubeconfig")
        return result.stdout

    def export_logs(self, name: str, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        self.runner.run(
            [self.kind_bin, "export", "logs", str(directory), "--name", name],
            timeout_s=KIND_EXPORT_LOGS.seconds(),
            title=f"kind export logs {name}",
        )
        return directory

    def load_docker_images(self, name: str, images: Sequence[str]) -> None:
        if not images:
            return
        self.runner.run(
            [self.kind_bin, "load", "docker-image", "--name", name, *images],
            timeout_s=KIND_LOAD.seconds(),
            title=f"kind load docker-image into {name}",
        )

    def load_image_archive(self, name: str, archive: Path) -> None:
        self.runner.run(
            [self.kind_bin, "load", "image-archive", str(archive), "--name", name],
            timeout_s=KIND_LOAD.seconds(),
            title=f"kind load image-archive {archive.name} into {name}",
        )


@dataclass(frozen=True)
class CpkContainer:
    name: str
    cluster: str


@dataclass(frozen=True)
class DockerCli:
    runner: CommandRunner
    docker_bin: str

    @staticmethod
    def kind_network() -> str:
        return os.environ.get(KIND_NETWORK_ENV) or DEFAULT_KIND_NETWORK

    def info(self) -> str:
        """The server version; raises ``CommandError`` when the daemon cannot be reached."""
        result = self.runner.run(
            [self.docker_bin, "info", "--format", "{{.ServerVersion}}"],
            timeout_s=KIND_QUERY.seconds(),
            title="docker info",
        )
        return result.stdout.strip()

    def container_ip(self, container: str, network: str) -> str:
        result = self.runner.run(
            [self.docker_bin, "inspect", "--format", "{{json .NetworkSettings.Networks}}", container],
            timeout_s=KIND_QUERY.seconds(),
            title=f"docker inspect {container}",
        )
        try:
            networks = json.loads(result.stdout or "null")
        except json.JSONDecodeError:
            raise KindError(
                f"docker inspect {container}: unreadable networks: {result.stdout.strip()[:200]}"
            ) from None
        entry = (networks or {}).get(network) or {}
        address = entry.get("IPAddress") or ""
        if not address:
            attached = ", ".join(sorted(networks or {})) or "none"
            raise KindError(
                f"container {container} has no IPv4 address on docker network {network!r} "
                f"(attached networks: {attached})"
            )
        return str(address)

    def internal_api_server(self, cluster: str) -> tuple[str, str]:
        """``(https://<control-plane IP>:6443, docker network)``: how other clusters reach this one."""
        network = self.kind_network()
        address = self.container_ip(control_plane_container(cluster), network)
        return f"https://{address}:{API_SERVER_PORT}", network

    def cpk_containers(self) -> list[CpkContainer]:
        """Every container cloud-provider-kind made (it labels each with its kind cluster)."""
        result = self.runner.run(
            [
                self.docker_bin,
                "ps",
                "-a",
                "--filter",
                f"label={CPK_CLUSTER_LABEL}",
                "--format",
                f'{{{{.Names}}}}\t{{{{.Label "{CPK_CLUSTER_LABEL}"}}}}',
            ],
            timeout_s=KIND_QUERY.seconds(),
            title="docker ps cloud-provider-kind containers",
        )
        containers = []
        for line in result.stdout.splitlines():
            name, _, cluster = line.strip().partition("\t")
            if name.startswith(CPK_CONTAINER_PREFIX) and cluster:
                containers.append(CpkContainer(name, cluster))
        return containers

    def remove_containers(self, names: Sequence[str]) -> None:
        if names:
            self.runner.run(
                [self.docker_bin, "rm", "-f", *names],
                timeout_s=KIND_QUERY.seconds(),
                title=f"docker rm -f {' '.join(names)}",
                check=False,  # a container cloud-provider-kind removed meanwhile is fine
            )

    def remove_cpk_containers_of(self, clusters: Sequence[str]) -> list[str]:
        """Remove cloud-provider-kind's containers that serve exactly these clusters; return their names."""
        wanted = set(clusters)
        names = [c.name for c in self.cpk_containers() if c.cluster in wanted]
        self.remove_containers(names)
        return names
