"""The external cluster's Deployments that must do something, run for real as host processes.

kwok runs no containers; two Deployments of the external cluster are what the model needs
alive, and the kwok provider starts a watcher for each once its clusters exist:

- every istiod Deployment of ``external-istiod``: the real pilot-discovery
  (clusters/kwok/workloads.py), each in a network namespace and address of its own;
- the ingress gateway in front of it: HAProxy (clusters/kwok/gateway_proxy.py) in the network
  namespace of the gateway Service's LoadBalancer address, forwarding to those istiods as the
  Gateway, VirtualService and DestinationRule say.

``stop()`` stops the gateway first (it forwards to istiod), then the istiods; nothing of
theirs keeps running or listening.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from clusters.cluster import ClusterHandle
from clusters.kwok.gateway_proxy import STAND_IN as GATEWAY_STAND_IN
from clusters.kwok.gateway_proxy import GatewayStandIns, LbHosts
from clusters.kwok.istiod_host import NetnsHostLike
from clusters.kwok.preflight import HostPrograms
from clusters.kwok.workloads import STAND_INS as ISTIOD_STAND_INS
from clusters.kwok.workloads import IstiodStandIns

PROBE_STAND_IN = (
    "the hostname probe pod (dns-tls: its own script, run with the host's sh and curl in the remote "
    "cluster's network namespace)"
)


def stand_in_texts(programs: HostPrograms) -> tuple[str, ...]:
    """How the reports list these stand-ins ("component (how it is stood in)")."""
    return (*ISTIOD_STAND_INS, GATEWAY_STAND_IN.format(version=programs.haproxy_version), PROBE_STAND_IN)


@dataclass
class ExternalStandIns:
    external: ClusterHandle
    make_host: Callable[[str, str], NetnsHostLike]  # (namespace, Deployment) -> istiod's own host
    lb_hosts: LbHosts
    binary_for: Callable[[str], Path]  # istiod image -> pilot-discovery
    programs: HostPrograms
    work_dir: Path  # the run's kwok directory
    log_dir: Path  # HAProxy's log (no secret in it): kept with the report
    shim_dir: Path  # on the kwok controllers' PATH: ``kubectl exec`` into istiod
    istiods: IstiodStandIns | None = None
    gateways: GatewayStandIns | None = None
    _hosts: dict[tuple[str, str], NetnsHostLike] = field(default_factory=dict)

    def start(self) -> None:
        self.istiods = IstiodStandIns(
            self.external, self._host, self.binary_for, self.work_dir / "istiod", shim_dir=self.shim_dir
        )
        self.istiods.start()
        istiods = self.istiods
        self.gateways = GatewayStandIns(
            self.external,
            self.lb_hosts,
            istiods.address_of,
            self.programs.haproxy,
            work_dir=self.work_dir / "gateway",
            log_dir=self.log_dir,
        )
        self.gateways.start()

    def stop(self) -> None:
        if self.gateways is not None:
            self.gateways.stop()
        if self.istiods is not None:
            self.istiods.stop()

    def describe(self) -> str:
        parts = [part.describe() for part in (self.istiods, self.gateways) if part is not None]
        return "; ".join(parts)

    def _host(self, namespace: str, name: str) -> NetnsHostLike:
        """One host per istiod Deployment for the whole run: the same address when it is
        deleted and applied again (a later scenario)."""
        key = (namespace, name)
        if key not in self._hosts:
            self._hosts[key] = self.make_host(namespace, name)
        return self._hosts[key]
