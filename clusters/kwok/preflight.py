"""Host checks before any kwok cluster is created; every problem is reported with its fix.

- root: network namespaces, veth pairs and the bridge need CAP_NET_ADMIN and CAP_SYS_ADMIN;
- iproute2 (``ip``), and that it can list network namespaces;
- memory: about 600 MiB per kwok cluster (etcd, kube-apiserver with Istio's CRDs, the
  controller manager, scheduler and kwok controller) and 300 MiB per istiod host process;
- loopback: each cluster binds its components to its own namespace's loopback, so no host
  port is taken; what the host itself needs is a working 127.0.0.1 (its loopback up), which
  is checked by binding an ephemeral port there.

All problems are raised together as one ``PreflightError`` (clusters/preflight.py).
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

from clusters.netns import IpCli, NetnsError
from clusters.preflight import PreflightError, Problem, available_memory_mib
from programs.runner import CommandRunner

MEMORY_PER_CLUSTER_MIB = 600
MEMORY_PER_ISTIOD_MIB = 300
IPROUTE2_FIX = "install iproute2 (Debian/Ubuntu: 'apt-get install iproute2'; Fedora: 'dnf install iproute')"


def check_root(euid: int | None = None) -> list[Problem]:
    if (os.geteuid() if euid is None else euid) == 0:
        return []
    return [
        Problem(
            "not running as root: --topology-mode kwok creates network namespaces, veth pairs and a bridge",
            "run the suite as root (CI containers usually are), e.g. 'sudo -E .venv/bin/pytest suites ...'",
        )
    ]


def check_iproute2(runner: CommandRunner, ip_bin: str = "ip") -> list[Problem]:
    found = shutil.which(ip_bin)
    if found is None:
        return [
            Problem(
                f"no {ip_bin!r} executable on PATH (iproute2 makes the kwok tier's test hosts)", IPROUTE2_FIX
            )
        ]
    try:
        IpCli(runner, found).netns_names()
    except NetnsError as error:
        return [
            Problem(
                f"'{found} netns list' fails: {' '.join(str(error).split())[:300]}",
                IPROUTE2_FIX + "; the kernel needs network namespaces (CONFIG_NET_NS)",
            )
        ]
    return []


def check_memory(clusters: int, istiods: int, proc: Path = Path("/proc")) -> list[Problem]:
    available = available_memory_mib(proc)
    needed = clusters * MEMORY_PER_CLUSTER_MIB + istiods * MEMORY_PER_ISTIOD_MIB
    if available is None or available >= needed:
        return []
    return [
        Problem(
            f"{available} MiB of memory available; {clusters} kwok cluster(s) and {istiods} istiod(s) "
            f"need about {needed} MiB",
            "free memory, or run fewer scenarios at once (second-remote needs a third cluster)",
        )
    ]


def check_loopback() -> list[Problem]:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
    except OSError as error:
        return [
            Problem(
                f"cannot bind a port on 127.0.0.1 ({error})", "bring the loopback up: 'ip link set lo up'"
            )
        ]
    return []


def kwok_preflight(
    runner: CommandRunner, *, clusters: int, istiods: int, ip_bin: str = "ip", proc: Path = Path("/proc")
) -> None:
    """Raise ``PreflightError`` listing every problem found; return quietly when the host is fit."""
    problems = [
        *check_root(),
        *check_iproute2(runner, ip_bin),
        *check_memory(clusters, istiods, proc),
        *check_loopback(),
    ]
    if problems:
        raise PreflightError(problems)
