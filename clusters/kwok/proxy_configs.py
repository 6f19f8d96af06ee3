"""kwok mode's reader of sidecar configs: the synthetic proxies' config dumps.

A kwok pod runs no Envoy; its synthetic proxy (xds_proxies.py, programs/xdsclient) writes
what the real istiod sent it in the shape of Envoy's admin config dump. The topology of a kwok
run reads pods' proxy configs here, so the data-plane judgments run unchanged in every mode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clusters.cluster import ClusterHandle
from clusters.kwok.xds_proxies import SyntheticProxies
from clusters.proxy_config import ProxyConfig

SOURCE = "the synthetic proxy's config dump: what the real istiod sent it (no Envoy runs in kwok mode)"


@dataclass(frozen=True)
class SyntheticProxyConfigs:
    proxies: Callable[[], SyntheticProxies | None]  # the provider's set, once it exists

    def read(self, cluster: ClusterHandle, namespace: str, pod: str) -> ProxyConfig:
        proxies = self.proxies()
        problems = tuple(
            p for p in (proxies.problems if proxies else []) if p.startswith(f"{cluster.role}: ")
        )
        proxy = proxies.of(cluster.role, namespace, pod) if proxies else None
        if proxy is None:
            return ProxyConfig(
                None, SOURCE, (*problems, f"{cluster.role}: no synthetic proxy runs for {namespace}/{pod}")
            )
        return ProxyConfig(proxy.received(), SOURCE, problems)
