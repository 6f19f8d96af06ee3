"""kwok mode's way to publish the suite's test hostname: the clusters' own hosts files.

The counterpart of install/hostname/ on kind (a CoreDNS block for pods, the node containers'
hosts files for the API server). A kwok cluster's API server, and the host processes that
stand in for its pods (synthetic proxies, the hostname probe), all run in the cluster's
network namespace, and resolve names through ``/etc/netns/<namespace>/hosts`` only
(clusters/netns_etc.py): publishing writes one marked line there, withdrawing removes it.
Both scopes of a publish step ("pods", "node") are that one file.
"""

from __future__ import annotations

from collections.abc import Callable

from clusters.netns import NetnsHost
from clusters.netns_etc import HostsFileError, NetnsEtcFiles
from programs.runner import CommandRunner
from run.timeouts import KWOK_HOSTNAME_LOOKUP
from scenarios.steps import Role

STAND_IN = (
    "cluster DNS (kwok clusters have none: the suite's test hostname resolves through each cluster's "
    "own hosts file, /etc/netns/<its network namespace>/hosts, with hosts: files only)"
)
HOW = (
    "a marked line in the cluster's own hosts file, /etc/netns/<its network namespace>/hosts, which "
    "`ip netns exec` binds over /etc/hosts for its API server and the stand-ins of its pods "
    "(names resolve through that file only: hosts: files)"
)


class NetnsHostnames:
    """``HostnamePublishing`` (clusters/cluster.py) for the kwok provider's clusters."""

    def __init__(
        self, hosts: Callable[[], dict[Role, NetnsHost]], etc: NetnsEtcFiles, runner: CommandRunner
    ) -> None:
        self._hosts = hosts
        self._etc = etc
        self._runner = runner

    @property
    def how(self) -> str:
        return HOW

    def publish(self, role: Role, hostname: str, address: str) -> None:
        try:
            self._etc.publish(self._host(role).netns, hostname, address)
        except HostsFileError as error:
            raise ValueError(str(error)) from None

    def withdraw(self, role: Role, hostname: str) -> None:
        host = self._hosts().get(role)
        if host is not None:
            self._etc.withdraw(host.netns, hostname)

    def resolve(self, role: Role, hostname: str) -> tuple[str | None, str]:
        """``getent hosts`` inside the cluster's namespace: the resolver its API server uses."""
        result = self._runner.run(
            self._host(role).exec_argv(["getent", "hosts", hostname]),
            timeout_s=KWOK_HOSTNAME_LOOKUP.seconds(),
            check=False,
            attach=False,
            title=f"[{role}] getent hosts {hostname} (in the cluster's network namespace)",
        )
        fields = result.stdout.split()
        answer = (
            result.stdout.strip() or result.stderr.strip() or f"not found (getent exit {result.returncode})"
        )
        return (fields[0] if result.returncode == 0 and fields else None), answer

    def pod_argv(self, role: Role, argv: list[str]) -> list[str]:
        return self._host(role).exec_argv(argv)

    def _host(self, role: Role) -> NetnsHost:
        host = self._hosts().get(role)
        if host is None:
            raise ValueError(f"this kwok cluster set has no {role} cluster")
        return host
