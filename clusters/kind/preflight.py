"""Host checks before any kind cluster is created; every problem is reported with its fix.

Checks: a ``docker`` client on PATH whose daemon answers, the inotify limits kind documents
as necessary for several clusters (its "known issues" page: "Pod errors due to too many
open files"), and enough available memory for the clusters about to be created. All
problems are collected and raised together as one ``PreflightError`` (clusters/preflight.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from clusters.kind.cli import DockerCli
from clusters.preflight import WITHOUT_DOCKER, PreflightError, Problem, available_memory_mib
from programs.runner import CommandError, CommandRunner

MIN_INOTIFY_WATCHES = 524288
MIN_INOTIFY_INSTANCES = 512
# One single-node kind cluster with istiod, gateways and the samples settles near 1.5 GiB.
MEMORY_PER_CLUSTER_MIB = 2048


def find_docker(name: str = "docker") -> str | None:
    """The docker client on PATH (docker is not a pinned tool: kind itself calls it from PATH)."""
    return shutil.which(name)


def check_docker(runner: CommandRunner, docker_bin: str | None) -> list[Problem]:
    if docker_bin is None:
        return [
            Problem(
                "no 'docker' executable on PATH (kind and cloud-provider-kind drive Docker through it)",
                "install Docker Engine (https://docs.docker.com/engine/install/) and put docker on PATH; "
                f"or, {WITHOUT_DOCKER}",
            )
        ]
    try:
        DockerCli(runner, docker_bin).info()
    except CommandError as error:
        detail = " ".join((error.stderr_tail or str(error)).split())[:300]
        return [
            Problem(
                f"the Docker daemon does not answer ({docker_bin} info: {detail})",
                "start Docker (e.g. 'sudo systemctl start docker'), check DOCKER_HOST, and make sure "
                f"this user may use the Docker socket (member of the 'docker' group); or, {WITHOUT_DOCKER}",
            )
        ]
    return []


def check_inotify(proc: Path = Path("/proc")) -> list[Problem]:
    problems = []
    for key, minimum in (
        ("max_user_watches", MIN_INOTIFY_WATCHES),
        ("max_user_instances", MIN_INOTIFY_INSTANCES),
    ):
        path = proc / "sys" / "fs" / "inotify" / key
        if not path.exists():
            continue  # not Linux (Docker Desktop's VM has its own limits)
        value = int(path.read_text().strip())
        if value < minimum:
            problems.append(
                Problem(
                    f"fs.inotify.{key} is {value}, below the {minimum} several kind clusters need",
                    f"sudo sysctl fs.inotify.{key}={minimum} (persist it in /etc/sysctl.d/99-kind.conf)",
                )
            )
    return problems


def check_memory(clusters: int, proc: Path = Path("/proc")) -> list[Problem]:
    if clusters <= 0:
        return []
    available = available_memory_mib(proc)
    needed = clusters * MEMORY_PER_CLUSTER_MIB
    if available is None or available >= needed:
        return []
    return [
        Problem(
            f"{available} MiB of memory available, {clusters} kind cluster(s) need about {needed} MiB",
            "free memory (stop other clusters or containers: 'kind get clusters'), use a larger runner, "
            "or run fewer scenarios at once (the second-remote scenario needs a third cluster)",
        )
    ]


def preflight(
    runner: CommandRunner, docker_bin: str | None, clusters_to_create: int, proc: Path = Path("/proc")
) -> None:
    """Raise ``PreflightError`` listing every problem found; return quietly when the host is fit."""
    problems = [
        *check_docker(runner, docker_bin),
        *check_inotify(proc),
        *check_memory(clusters_to_create, proc),
    ]
    if problems:
        raise PreflightError(problems)
