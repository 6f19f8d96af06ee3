"""LoadBalancer addresses for kwok clusters: the kwok counterpart of cloud-provider-kind.

kwok clusters have no cloud provider, so a ``type: LoadBalancer`` Service would wait for an
address for ever. This controller gives each one a *real* address: a network-namespace test
host of its own on the suite's bridge (clusters/netns.py), and writes that address into the
Service's ``status.loadBalancer.ingress``. Real, because the address ends up where the API
server refuses loopback and link-local addresses (the remote profile's EndpointSlice for
``remotePilotAddress``), and because a host process (the external istiod, run by
clusters/kwok/istiod_host.py) listens there, inside that namespace, exactly as the rendered
configuration says.

``host_for(role, namespace, name)`` says which test host belongs to which Service (a Service
keeps its host, and its address, for the whole run, also when it is deleted and applied again).
The controller is one daemon thread polling every cluster's Services (bounded: at most
``max_hosts`` hosts, each poll with a deadline); ``stop()`` ends it; the hosts are removed with
the bridge when the provider tears down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clusters.cluster import ClusterHandle
from clusters.netns import HostNetwork, NetnsError, NetnsHost
from run.timeouts import KWOK_LB_API, KWOK_LB_STOP
from scenarios.steps import Role

log = logging.getLogger("eicp.kwok.lb")

POLL_S = 0.5
MAX_HOSTS = 16

ServiceKey = tuple[Role, str, str]  # (role, namespace, name)


class LoadBalancerTimeout(TimeoutError):
    """A Service got no address within the deadline (the message says what was last seen)."""


@dataclass
class NetnsLoadBalancers:
    """Gives every LoadBalancer Service of the clusters a network-namespace host of its own."""

    clusters: Callable[[], dict[Role, ClusterHandle]]
    network: HostNetwork
    host_name: Callable[[int], str]  # index -> netns name (the run's naming)
    poll_s: float = POLL_S
    max_hosts: int = MAX_HOSTS
    last_error: str = ""
    _hosts: dict[ServiceKey, NetnsHost] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _thread: threading.Thread | None = None

    # -- the LoadBalancerProvider contract ----------------------------------------------------

    def ensure_started(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="kwok-loadbalancers", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=KWOK_LB_STOP.seconds())

    # -- what D2's host processes and the checks ask -------------------------------------------

    def host_for(self, role: Role, namespace: str, name: str) -> NetnsHost | None:
        with self._lock:
            return self._hosts.get((role, namespace, name))

    def assignments(self) -> dict[ServiceKey, NetnsHost]:
        with self._lock:
            return dict(self._hosts)

    def wait_for(self, role: Role, namespace: str, name: str, timeout_s: float) -> NetnsHost:
        """The Service's test host, once it has one (starting the controller if needed)."""
        self.ensure_started()
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while (host := self.host_for(role, namespace, name)) is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LoadBalancerTimeout(
                        f"LoadBalancer Service {namespace}/{name} on the {role} cluster got no address "
                        f"within {timeout_s:.0f} s (known: {', '.join('/'.join(k[1:]) for k in self.assignments()) or 'none'}; "
                        f"last error: {self.last_error or 'none'})"
                    )
                self._changed.wait(min(left, self.poll_s))
        return host

    # -- the loop --------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            for role, cluster in self.clusters().items():
                if self._stop.is_set():
                    return
                try:
                    self._reconcile(role, cluster)
                except Exception as error:  # a poll failure is reported, the loop goes on
                    self.last_error = f"{role}: {' '.join(str(error).split())[:300]}"
                    log.debug("LoadBalancer poll of %s failed: %s", role, self.last_error)
            self._stop.wait(self.poll_s)

    def _reconcile(self, role: Role, cluster: ClusterHandle) -> None:
        from kubernetes import client

        core = client.CoreV1Api(cluster.api())
        services = core.list_service_for_all_namespaces(
            field_selector="spec.type=LoadBalancer",
            timeout_seconds=int(KWOK_LB_API.seconds()),
            _request_timeout=KWOK_LB_API.seconds(),
        )
        for service in services.items:
            if service.metadata is None:
                continue
            namespace, name = str(service.metadata.namespace), str(service.metadata.name)
            host = self._host(role, namespace, name)
            if host is None:
                continue
            if _ingress_ips(service) != [host.address]:
                body: dict[str, Any] = {
                    "status": {"loadBalancer": {"ingress": [{"ip": host.address, "ipMode": "VIP"}]}}
                }
                core.patch_namespaced_service_status(
                    name, namespace, body, _request_timeout=KWOK_LB_API.seconds()
                )
                log.info(
                    "LoadBalancer %s/%s on %s: %s (test host %s)",
                    namespace,
                    name,
                    role,
                    host.address,
                    host.netns,
                )
        with self._changed:
            self._changed.notify_all()

    def _host(self, role: Role, namespace: str, name: str) -> NetnsHost | None:
        key = (role, namespace, name)
        with self._lock:
            if key in self._hosts:
                return self._hosts[key]
            if len(self._hosts) >= self.max_hosts:
                self.last_error = (
                    f"more than {self.max_hosts} LoadBalancer Services; {namespace}/{name} gets none"
                )
                return None
            index = len(self._hosts)
        try:
            host = self.network.add_host(self.host_name(index))
        except NetnsError as error:
            self.last_error = str(error)
            return None
        with self._lock:
            self._hosts[key] = host
        return host


def _ingress_ips(service: Any) -> list[str]:
    status = service.status.load_balancer if service.status else None
    return [entry.ip for entry in (status.ingress or [])] if status is not None and status.ingress else []
