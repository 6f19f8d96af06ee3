"""``--topology-mode kwok``: real control planes (etcd, kube-apiserver, controller manager,
scheduler, kwok controller) as host processes, one kwok cluster per role, no Docker.

Lifecycle of a session (``KwokProvider``):
1. ``build_kwok_provider``: preflight (root, iproute2, loopback), then every tool resolved and
   version-checked (clusters/kwok/preflight.py, programs/tools.py);
2. ``provision``: memory preflight; this run is marked live in the host registry
   (``<state dir>/kwok``) and the leftovers of finished earlier runs with this prefix are swept
   (their network namespaces, whose processes are ended first, and their bridges), except kept
   ones; then one bridge on a free private /24 (clusters/netns.py) and, for all roles side by
   side (run/lanes.py; each in its own network namespace, so kwokctl's ports never collide): a
   test host (network namespace) named like the cluster, its hosts files (clusters/netns_etc.py:
   read by the API server, so written before kwokctl starts), ``kwokctl create cluster`` in it
   (clusters/kwok/config.py), the API server forwarded (clusters/kwok/forward.py), a kubeconfig
   (0600, credentials inlined, redacted) naming ``https://<host address>:<port>``, one node Ready;
3. LoadBalancer Services get test hosts of their own (clusters/kwok/loadbalancer.py), the
   external istiod and gateway Deployments host processes (clusters/kwok/stand_ins.py), the
   hosts files the test hostname (clusters/kwok/hostnames.py: the topology's ``HostnamePublishing``);
4. ``teardown``: unless kept (``--keep-clusters``, or ``--keep-on-failure`` after a failure),
   every cluster is deleted with kwokctl, every process left in the run's namespaces ended, the
   namespaces (and with them the veth pairs), their ``/etc/netns`` files and the bridge deleted.

Names: ``<prefix>-<run id>-<role|lbN|istiodN>[-<worker>]`` for clusters and test hosts; the bridge's
alias is ``<prefix>-<run id>[-<worker>]``. That is how the sweep recognises the suite's own.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import yaml

from clusters.capabilities import ProviderCapabilities
from clusters.cluster import ClusterHandle, ProviderError, Topology
from clusters.kubeconfig import save_kubeconfig
from clusters.kwok.capabilities import CAPABILITIES, STAND_INS
from clusters.kwok.config import (
    KwokBinaries,
    dump_config,
    loopback_port,
    node_pod_cidr,
    reachable_kubeconfig,
)
from clusters.kwok.config import render_kwokctl_config as render_config
from clusters.kwok.forward import ForwardError, LoopbackForwarder
from clusters.kwok.hostnames import STAND_IN as DNS_STAND_IN
from clusters.kwok.hostnames import NetnsHostnames
from clusters.kwok.kwokctl import Kwokctl, inline_credentials
from clusters.kwok.loadbalancer import NetnsLoadBalancers
from clusters.kwok.pilot_binaries import binary_for
from clusters.kwok.preflight import HostPrograms, check_memory
from clusters.kwok.proxy_configs import SyntheticProxyConfigs
from clusters.kwok.stand_ins import ExternalStandIns, stand_in_texts
from clusters.kwok.sweep import kept_message, mark_kept, sweep_leftovers
from clusters.kwok.xds_probe import XdsUpgradeProbe, probes_for
from clusters.kwok.xds_proxies import STAND_IN as PROXY_STAND_IN
from clusters.kwok.xds_proxies import SyntheticProxies
from clusters.names import RunIdentity
from clusters.netns import HostNetwork, IpCli, NetnsError, NetnsHost
from clusters.networks import ROLE_NETWORKS
from clusters.preflight import PreflightError
from clusters.provider import StepRecordLike
from clusters.run_registry import ClusterRecord, RunRegistry
from clusters.upgrade_xds_probe import STAND_IN as XDS_PROBE_STAND_IN
from programs import cancellation
from programs.redaction import Redactor
from programs.runner import CommandError, CommandRunner
from run.lanes import ConcurrentFailure, concurrently
from run.timeouts import KWOK_NODES_READY
from scenarios.steps import Role

log = logging.getLogger("eicp.kwok")


class KwokProvisioningError(ProviderError):
    """A kwok cluster could not be made ready (the message says which, and why)."""


@dataclass(frozen=True)
class KwokSettings:
    keep_clusters: bool = False
    keep_on_failure: bool = False
    istiods: int = 1  # istiod host processes the run will start (memory preflight)
    upgrade: bool = False  # pre-upgrade mode (the xDS-level probe stands in for the traffic probe)
    parallel_cluster_sets: int = 1


@dataclass
class KwokProvider:
    identity: RunIdentity
    settings: KwokSettings
    binaries: KwokBinaries
    kwokctl: Kwokctl
    registry: RunRegistry
    run_dir: Path
    runner: CommandRunner
    redactor: Redactor
    ip: IpCli
    programs: HostPrograms
    capabilities: ClassVar[ProviderCapabilities] = CAPABILITIES
    log_dir: Path | None = None  # the stand-ins' logs worth keeping (no secrets): the report's
    network: HostNetwork | None = None
    cluster_hosts: dict[Role, NetnsHost] = field(default_factory=dict)
    handles: dict[Role, ClusterHandle] = field(default_factory=dict)
    extra_stand_ins: list[str] = field(default_factory=list)
    pilots: dict[str, Path] = field(default_factory=dict)  # istiod image tag -> pilot-discovery
    kept_message: str | None = None
    _forwarders: dict[Role, LoopbackForwarder] = field(default_factory=dict)
    _created: list[Role] = field(default_factory=list)
    _lbs: NetnsLoadBalancers | None = None
    _stand_ins: ExternalStandIns | None = None
    proxies: SyntheticProxies | None = None  # one xDS client per injected pod (xds_proxies.py)
    _torn_down: bool = False

    def __post_init__(self) -> None:
        if self.proxies is not None:  # a role's pods live in its cluster's network namespace
            self.proxies.netns_of = lambda role: self.cluster_hosts[role].netns

    @property
    def owner(self) -> str:
        worker = f"-{self.identity.worker}" if self.identity.worker else ""
        return f"{self.identity.prefix}-{self.identity.run_id}{worker}"

    def lb_host_name(self, index: int, kind: str = "lb") -> str:
        """The test host of the ``index``-th LoadBalancer (``kind="istiod"``: istiod) of the run."""
        worker = f"-{self.identity.worker}" if self.identity.worker else ""
        return f"{self.identity.prefix}-{self.identity.run_id}-{kind}{index}{worker}"

    # -- the ClusterProvider contract ----------------------------------------------------------

    def provision(self, roles: tuple[Role, ...]) -> Topology:
        roles = tuple(dict.fromkeys(roles))
        memory = check_memory(len(roles) * self.settings.parallel_cluster_sets, self.settings.istiods)
        if memory:
            raise PreflightError(memory)
        self.registry.hold_run(self.identity)
        try:
            with self.registry.locked():
                self.sweep_leftovers()
                self.network = HostNetwork.on_free_subnet(self.ip, self.owner)
            created = concurrently([(role, partial(self._create, role)) for role in roles])
            self.handles.update(zip(roles, created, strict=True))
            self._start_stand_ins()
        except (NetnsError, CommandError, ForwardError, OSError, ValueError, ConcurrentFailure) as error:
            message = f"kwok clusters could not be provisioned: {error}"
            with cancellation.cleanup("the teardown of the kwok clusters"):
                self.kept_message = self.teardown(failed=True, interrupted=False)
            raise KwokProvisioningError(
                message + (f"\n{self.kept_message}" if self.kept_message else "")
            ) from None
        except BaseException:
            with cancellation.cleanup("the teardown of the kwok clusters"):
                self.teardown(failed=True, interrupted=True)
            raise
        assert self.network is not None  # no cluster DNS: names resolve through the hosts files
        hostnames = NetnsHostnames(lambda: dict(self.cluster_hosts), self.network.etc, self.runner)
        return Topology(
            self.capabilities,
            clusters=dict(self.handles),
            prefix=self.identity.prefix,
            hostnames=hostnames,
            proxy_configs=SyntheticProxyConfigs(lambda: self.proxies),
        )

    def load_balancers(self) -> NetnsLoadBalancers:
        if self._lbs is None:
            if self.network is None:
                raise KwokProvisioningError(
                    "LoadBalancers asked for before the kwok clusters were provisioned"
                )
            self._lbs = NetnsLoadBalancers(lambda: dict(self.handles), self.network, self.lb_host_name)
        return self._lbs

    def stand_ins(self) -> tuple[str, ...]:
        proxies = (PROXY_STAND_IN,) if self.proxies else ()
        external = stand_in_texts(self.programs) if self.pilots else ()
        probe = (XDS_PROBE_STAND_IN,) if self.proxies and self.settings.upgrade else ()
        return (*STAND_INS, DNS_STAND_IN, *external, *proxies, *probe, *self.extra_stand_ins)

    def upgrade_probes(self, **wanted: Any) -> list[XdsUpgradeProbe]:
        """The upgrade's stand-in for the traffic probe: kwok pods send no request, so each client's
        synthetic proxy is followed at the xDS level (clusters/kwok/xds_probe.py ``probes_for``)."""
        istiods = self._stand_ins.istiods if self._stand_ins is not None else None
        return probes_for(self.proxies, istiods, **wanted) if self.proxies and istiods else []

    def teardown(self, *, failed: bool, interrupted: bool) -> str | None:
        if self._torn_down:
            return self.kept_message
        self._torn_down = True
        if self.proxies is not None:
            self.proxies.stop_all()  # before the istiods they talk to
        if self._stand_ins is not None:
            self._stand_ins.stop()  # before the namespaces they run in go
        if self._lbs is not None:
            self._lbs.stop()
        keep = self.settings.keep_clusters or (self.settings.keep_on_failure and failed)
        if keep and self._created:
            self.kept_message = self._keep()
        else:
            self._delete_all()
        self.registry.release_run()
        return self.kept_message

    def delete_kept(self) -> None:
        """Delete a cluster set that ``teardown`` kept (``--keep-clusters``), after all."""
        if self._torn_down and self.kept_message is not None:
            for name in (self.identity.cluster_name(role) for role in self._created):
                record = self.registry.get(name)
                if record is not None:
                    record.kept = False
                    self.registry.save(record)
            self._delete_all()
            self.kept_message = None

    def cluster_host(self, role: Role) -> NetnsHost:
        """The test host (network namespace) ``role``'s cluster runs in (clusters/kwok/istiod_host.py asks)."""
        return self.cluster_hosts[role]

    # -- bring-up -----------------------------------------------------------------------------

    def _create(self, role: Role) -> ClusterHandle:
        assert self.network is not None
        started = time.monotonic()
        name = self.identity.cluster_name(role)
        host = self.network.add_host(name)
        self.network.etc.create(host.netns)  # before any of the cluster's processes starts
        self.cluster_hosts[role] = host
        config_path = self.run_dir / "kwok" / f"kwokctl-{role}.yaml"
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config = render_config(
            role, address=host.address, binaries=self.binaries, cache_dir=self.kwokctl.workdir / "cache"
        )
        config_path.write_text(dump_config(config))
        raw_kubeconfig = self.run_dir / "kwok" / f"kwokctl-kubeconfig-{role}"
        self._created.append(role)
        self._record(role, name)
        self.kwokctl.create(host, role, name, config_path, raw_kubeconfig)
        port = loopback_port(
            str(yaml.safe_load(raw_kubeconfig.read_text())["clusters"][0]["cluster"]["server"])
        )
        forwarder = LoopbackForwarder(host.netns, host.address, port)
        forwarder.start()
        self._forwarders[role] = forwarder
        context = f"kwok-{name}"
        text, server = reachable_kubeconfig(
            inline_credentials(raw_kubeconfig.read_text()), address=host.address, port=port, context=context
        )
        raw_kubeconfig.unlink()
        kubeconfig = self.run_dir / f"kubeconfig-{role}"
        save_kubeconfig(kubeconfig, text, self.redactor, f"kwokctl kubeconfig of {name}")
        self.kwokctl.scale_node(host, role, name)
        handle = ClusterHandle(
            role=role,
            name=name,
            context=context,
            kubeconfig=kubeconfig,
            internal_api_server=server,
            network=ROLE_NETWORKS[role].mesh_network,
            runner=self.runner,
            kubectl_bin=str(self.binaries.kubectl),
            created_by_suite=True,
        )
        handle.kubectl(
            "wait", "--for=condition=Ready", "node", "--all", f"--timeout={int(KWOK_NODES_READY.seconds())}s",
            timeout_s=KWOK_NODES_READY.seconds() + 15,
            title=f"[{role}] kwok node Ready",
        )  # fmt: skip
        log.info("kwok cluster %s (%s) ready at %s in %.1f s", name, role, server, time.monotonic() - started)
        return handle

    def step_recorded(self, record: StepRecordLike) -> None:
        """A scenario step finished (the topology plugin's hook): synthetic proxies follow the pods."""
        if self.proxies is not None:
            self.proxies.step_recorded(record, self.handles)

    def _start_stand_ins(self) -> None:
        """The external istiods and their gateway as host processes (clusters/kwok/stand_ins.py)."""
        if not self.pilots or "external" not in self.handles:
            return
        balancers = self.load_balancers()
        balancers.ensure_started()
        network = self.network
        assert network is not None
        self._stand_ins = ExternalStandIns(
            self.handles["external"],
            lambda namespace, name: network.add_host(self.lb_host_name(len(network.hosts), "istiod")),
            lambda: {
                (str(role), namespace, name): host
                for (role, namespace, name), host in balancers.assignments().items()
            },
            binary_for(self.pilots),
            self.programs,
            self.run_dir / "kwok",
            log_dir=self.log_dir or self.run_dir / "kwok",
            shim_dir=self.kwokctl.bin_dir,  # on the kwok controllers' PATH (kwokctl passes it on)
        )
        self._stand_ins.start()

    def _record(self, role: Role, name: str) -> None:
        network = ROLE_NETWORKS[role]
        self.registry.save(
            ClusterRecord(
                name=name,
                role=role,
                run_id=self.identity.run_id,
                worker=self.identity.worker,
                node_image=f"kwok {self.binaries.kwok_version} / kubernetes {self.binaries.kube_version}",
                pod_subnet=node_pod_cidr(role),
                service_subnet=network.service_subnet,
                created_at=time.time(),
            )
        )

    # -- teardown and the sweep -----------------------------------------------------------------

    def _delete_all(self) -> None:
        for role in reversed(self._created):
            host = self.cluster_hosts.get(role)
            if host is not None:
                try:
                    self.kwokctl.delete(host, role, self.identity.cluster_name(role))
                except CommandError as error:
                    log.warning(
                        "kwokctl delete of the %s cluster failed (its processes are ended anyway): %s",
                        role,
                        error,
                    )
            forwarder = self._forwarders.pop(role, None)
            if forwarder is not None:
                forwarder.stop()
            self.registry.forget(self.identity.cluster_name(role))
        if self.network is not None:
            self.network.destroy()  # ends what is left in each namespace, deletes them and the bridge
        self._created.clear()

    def _keep(self) -> str:
        names = {role: self.identity.cluster_name(role) for role in self._created}
        mark_kept(self.registry, list(names.values()))
        for forwarder in self._forwarders.values():
            forwarder.stop()
        return kept_message(
            self.identity.run_id,
            {
                role: (name, self.kwokctl.cluster_dir(name) / "kubeconfig.yaml")
                for role, name in names.items()
            },
            self.binaries.kubectl,
            self.network,
        )

    def sweep_leftovers(self) -> list[str]:
        """Delete what finished earlier runs left (clusters/kwok/sweep.py); call with ``registry.locked()``."""
        return sweep_leftovers(self.ip, self.registry, self.identity)
