"""Reading a sidecar's Envoy config: how each topology tells what a pod's proxy holds.

On kind and existing clusters the sidecar is a real Envoy: its admin ``/config_dump`` with EDS
(``?include_eds=true``, what ``istioctl proxy-config all -o json`` prints), asked through
``pilot-agent request`` in the ``istio-proxy`` container. kwok mode runs no Envoy: its provider
gives the topology a reader of the synthetic proxies' dumps (clusters/kwok/proxy_configs.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from clusters.cluster import ClusterHandle
from programs.runner import CommandError
from run.timeouts import CHECK_PROXY_CONFIG

PROXY_CONTAINER = "istio-proxy"
CONFIG_DUMP_PATH = "config_dump?include_eds=true"


@dataclass(frozen=True)
class ProxyConfig:
    """A pod's proxy config (``None``: none could be read) and where it came from."""

    dump: dict[str, Any] | None
    source: str
    problems: tuple[str, ...] = ()


class ProxyConfigReader(Protocol):
    def read(self, cluster: ClusterHandle, namespace: str, pod: str) -> ProxyConfig: ...


class EnvoyAdminConfigs:
    """The real sidecar's config dump, through ``pilot-agent request`` in the pod."""

    source = "the sidecar's Envoy admin config dump"

    def read(self, cluster: ClusterHandle, namespace: str, pod: str) -> ProxyConfig:
        try:
            result = cluster.kubectl(
                "exec", "-n", namespace, pod, "-c", PROXY_CONTAINER, "--",
                "pilot-agent", "request", "GET", CONFIG_DUMP_PATH,
                timeout_s=CHECK_PROXY_CONFIG.seconds(),
                title=f"[{cluster.role}] Envoy config dump of {namespace}/{pod}",
            )  # fmt: skip
        except CommandError as error:
            return ProxyConfig(None, self.source, (f"{cluster.role}: {namespace}/{pod}: {error}",))
        try:
            dump = json.loads(result.stdout)
        except json.JSONDecodeError as error:
            return ProxyConfig(
                None,
                self.source,
                (f"{cluster.role}: {namespace}/{pod}: the config dump is not JSON: {error}",),
            )
        return ProxyConfig(dump if isinstance(dump, dict) else None, self.source)
