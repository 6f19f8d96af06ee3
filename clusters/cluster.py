"""One cluster of a topology, and the topology itself: what every installer and check talks to.

A ``ClusterHandle`` carries a role's name, kubeconfig context and kubeconfig file (mode 0600,
holding only that cluster), the API server URL at which the *external* cluster reaches it,
its mesh network, and the command runner. ``kubectl``/``istioctl`` calls go through it so
the kubeconfig and context are always explicit and every call is logged by the one runner.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from clusters.capabilities import Capability, ProviderCapabilities
from programs.runner import CommandResult, CommandRunner
from scenarios.steps import Role

if TYPE_CHECKING:
    from clusters.proxy_config import ProxyConfigReader


class ProviderError(RuntimeError):
    """A cluster provider could not make (or reach) the clusters; the message says what to do."""


@dataclass
class ClusterHandle:
    role: Role
    name: str
    context: str
    kubeconfig: Path
    internal_api_server: str
    network: str | None
    runner: CommandRunner
    kubectl_bin: str = "kubectl"
    created_by_suite: bool = False
    _api: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def kube_args(self) -> list[str]:
        return ["--kubeconfig", str(self.kubeconfig), "--context", self.context]

    def kubectl(
        self,
        *args: str,
        stdin: str | None = None,
        timeout_s: float | None = None,
        check: bool = True,
        title: str | None = None,
    ) -> CommandResult:
        return self.runner.run(
            [self.kubectl_bin, *self.kube_args(), *args],
            stdin=stdin,
            timeout_s=timeout_s,
            check=check,
            title=title or f"[{self.role}] kubectl {' '.join(args)}",
        )

    def istioctl(
        self,
        istioctl_bin: str | Path,
        *args: str,
        stdin: str | None = None,
        timeout_s: float | None = None,
        check: bool = True,
        title: str | None = None,
    ) -> CommandResult:
        return self.runner.run(
            [str(istioctl_bin), *args, *self.kube_args()],
            stdin=stdin,
            timeout_s=timeout_s,
            check=check,
            title=title or f"[{self.role}] istioctl {' '.join(args)}",
        )

    def api(self) -> Any:
        """A ``kubernetes.client.ApiClient`` for this cluster (created once, thread-safe)."""
        with self._lock:
            if self._api is None:
                from kubernetes import config as kube_config

                self._api = kube_config.new_client_from_config(  # type: ignore[no-untyped-call]
                    config_file=str(self.kubeconfig), context=self.context
                )
            return self._api


class HostnamePublishing(Protocol):
    """How a provider makes a test hostname resolve where a cluster's API server and pods look
    names up, declared by providers that can (kwok: clusters/kwok/hostnames.py). kind's
    counterpart (CoreDNS and the node containers' hosts files) is install/hostname/'s."""

    @property
    def how(self) -> str:
        """One line for messages: where the name is written."""
        ...

    def publish(self, role: Role, hostname: str, address: str) -> None: ...

    def withdraw(self, role: Role, hostname: str) -> None: ...

    def resolve(self, role: Role, hostname: str) -> tuple[str | None, str]:
        """(first address, raw answer) of a lookup made where ``role``'s API server makes it."""
        ...

    def pod_argv(self, role: Role, argv: list[str]) -> list[str]:
        """``argv`` run where ``role``'s pods would run it (its network and resolver), for the
        hostname probe in clusters whose pods run nothing."""
        ...


def _real_sidecars() -> ProxyConfigReader:
    from clusters.proxy_config import EnvoyAdminConfigs

    return EnvoyAdminConfigs()


@dataclass
class Topology:
    """The clusters of one cluster set (one per xdist worker when workers own cluster sets), what
    they can do (declared by their provider: ask ``capabilities``, never the mode's name), and how
    a pod's proxy config is read there (a real Envoy's, unless the provider stands one in)."""

    capabilities: ProviderCapabilities
    clusters: dict[Role, ClusterHandle]
    prefix: str
    # A provider's own way to publish the suite's test hostname (None: kind's, install/hostname/,
    # or none: the provider does not declare PUBLISHES_HOSTNAMES).
    hostnames: HostnamePublishing | None = None
    proxy_configs: ProxyConfigReader = field(default_factory=_real_sidecars)

    @property
    def mode(self) -> str:
        """The ``--topology-mode`` that made it, for reports and messages."""
        return self.capabilities.mode

    def can(self, capability: Capability) -> bool:
        return self.capabilities.can(capability)

    def __getitem__(self, role: Role) -> ClusterHandle:
        try:
            return self.clusters[role]
        except KeyError:
            raise KeyError(
                f"this topology has no {role!r} cluster (it has {', '.join(self.clusters)})"
            ) from None

    def has(self, role: Role) -> bool:
        return role in self.clusters

    @property
    def remotes(self) -> list[ClusterHandle]:
        return [self.clusters[role] for role in ("remote", "second") if role in self.clusters]
