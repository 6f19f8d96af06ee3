"""Host checks before any kwok cluster is created; every problem is reported with its fix.

- root: network namespaces, veth pairs and the bridge need CAP_NET_ADMIN and CAP_SYS_ADMIN;
- iproute2 (``ip``), and that it can list network namespaces;
- memory: about 600 MiB per kwok cluster (etcd, kube-apiserver with Istio's CRDs, the
  controller manager, scheduler and kwok controller) and 300 MiB per istiod host process;
- loopback: each cluster binds its components to its own namespace's loopback, so no host
  port is taken; what the host itself needs is a working 127.0.0.1 (its loopback up), which
  is checked by binding an ephemeral port there;
- the host programs that stand in for what kwok does not run (Debian packages, not pinned
  Go builds: the reports name the version found): HAProxy 2.6 or newer for the external
  gateway (clusters/kwok/gateway_proxy.py), curl and getent for the hostname probe and lookups
  run in a cluster's network namespace.

All problems are raised together as one ``PreflightError`` (clusters/preflight.py).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from clusters.netns import IpCli, NetnsError
from clusters.preflight import PreflightError, Problem, available_memory_mib
from programs.runner import CommandError, CommandRunner
from run.timeouts import KWOK_HAPROXY_VERSION

MEMORY_PER_CLUSTER_MIB = 600
MEMORY_PER_ISTIOD_MIB = 300
IPROUTE2_FIX = "install iproute2 (Debian/Ubuntu: 'apt-get install iproute2'; Fedora: 'dnf install iproute')"
HAPROXY_MIN = (2, 6)  # the host_only converter and ca-file @system-ca the gateway stand-in uses
HAPROXY_FIX = (
    "install HAProxy 2.6 or newer (Debian 12/Ubuntu: 'apt-get install haproxy'; ci/selftest.sh does)"
)
CURL_FIX = "install curl (Debian/Ubuntu: 'apt-get install curl')"


@dataclass(frozen=True)
class HostPrograms:
    """The host's programs the kwok tier's stand-ins run, as the preflight found them."""

    haproxy: Path
    haproxy_version: str  # e.g. 2.6.12-1+deb12u4, as ``haproxy -v`` reports it
    curl: Path


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


def check_haproxy(runner: CommandRunner, name: str = "haproxy") -> tuple[list[Problem], Path | None, str]:
    """(problems, path, version) of the HAProxy on PATH."""
    found = shutil.which(name)
    if found is None:
        return (
            [
                Problem(
                    f"no {name!r} executable on PATH (HAProxy stands in for the external gateway)",
                    HAPROXY_FIX,
                )
            ],
            None,
            "",
        )
    try:
        output = runner.run(
            [found, "-v"], timeout_s=KWOK_HAPROXY_VERSION.seconds(), attach=False, title="haproxy -v"
        ).stdout
    except CommandError as error:
        return [Problem(f"'{found} -v' fails: {' '.join(str(error).split())[:300]}", HAPROXY_FIX)], None, ""
    match = re.search(r"HA-?Proxy version ((\d+)\.(\d+)\S*)", output)
    if match is None or (int(match.group(2)), int(match.group(3))) < HAPROXY_MIN:
        seen = match.group(1) if match else output.strip()[:100]
        return (
            [Problem(f"{found} is HAProxy {seen}; the gateway stand-in needs 2.6 or newer", HAPROXY_FIX)],
            None,
            "",
        )
    return [], Path(found), match.group(1)


def check_curl(name: str = "curl") -> tuple[list[Problem], Path | None]:
    found = shutil.which(name)
    if found is None:
        return [
            Problem(f"no {name!r} executable on PATH (it runs the hostname probe in kwok mode)", CURL_FIX)
        ], None
    return [], Path(found)


def host_preflight(runner: CommandRunner) -> None:
    """What the host needs before any tool is resolved (the memory check waits for the cluster count)."""
    problems = [
        *check_root(),
        *check_iproute2(runner),
        *check_loopback(),
        *check_haproxy(runner)[0],
        *check_curl()[0],
    ]
    if problems:
        raise PreflightError(problems)


def kwok_preflight(
    runner: CommandRunner, *, clusters: int, istiods: int, ip_bin: str = "ip", proc: Path = Path("/proc")
) -> HostPrograms:
    """Raise ``PreflightError`` listing every problem found; return the host programs when the host is fit."""
    haproxy_problems, haproxy, version = check_haproxy(runner)
    curl_problems, curl = check_curl()
    problems = [
        *check_root(),
        *check_iproute2(runner, ip_bin),
        *check_memory(clusters, istiods, proc),
        *check_loopback(),
        *haproxy_problems,
        *curl_problems,
    ]
    if problems:
        raise PreflightError(problems)
    assert haproxy is not None and curl is not None
    return HostPrograms(haproxy, version, curl)
