"""Network-namespace test hosts on one Linux bridge the suite creates (the kwok tier's addresses).

kwok runs no containers, so nothing gives the kwok tier's clusters, LoadBalancers or host
processes addresses of their own. This module does, with nothing but iproute2 (root needed):

- one bridge per cluster set, named ``ekb<hash>`` (interface names have 15 characters at most)
  and labelled with its owner (``<prefix>-<run id>[-<worker>]``) in the link's alias, so a later
  run's leftover sweep can tell whose it is; it holds the first address of a private /24 the
  suite chooses (``choose_subnet``: the first /24 of 10.250.0.0/16 that no route or address
  of this host overlaps), so the host reaches its test hosts and nothing else;
- test hosts: a network namespace each (``ip netns add``), its loopback up, and a veth pair
  from the bridge to the namespace's ``eth0`` with one address of that /24. Nothing outside
  those namespaces and loopback is ever addressed: the namespaces have no default route.

Every command goes through the suite's ``CommandRunner``; every call has a deadline.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import logging
import os
import signal
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

from clusters.netns_etc import NetnsEtcFiles
from programs.runner import CommandError, CommandRunner
from programs.waits import WaitTimeout, wait_until
from run.timeouts import NETNS_GONE_AFTER_KILL, NETNS_IP, NETNS_KILL_GRACE, NETNS_SUBNET_LOCK

log = logging.getLogger("eicp.netns")

# Held while a /24 is chosen and its bridge made, by every run on this host whatever its state
# directory (root only, like everything here): two bridges never get the same subnet.
SUBNET_LOCK = Path("/run/eicp-netns-subnets.lock")
SUBNET_POOL = ipaddress.IPv4Network("10.250.0.0/16")
IFNAME_MAX = 15


class NetnsError(RuntimeError):
    """An iproute2 operation failed; the message names the command and its error."""


@dataclass(frozen=True)
class NetnsHost:
    """A test host: a network namespace with one address on the suite's bridge."""

    netns: str  # the network namespace's name (``ip netns``)
    address: str
    host_link: str  # the veth end attached to the bridge, in the host's namespace

    def exec_argv(self, argv: Iterable[str]) -> list[str]:
        """``argv`` run inside this host's network namespace (``ip netns exec``)."""
        return ["ip", "netns", "exec", self.netns, *argv]


def short_link_name(prefix: str, key: str) -> str:
    """A stable interface name ``<prefix><hash of key>`` of 14 characters: within Linux's 15
    even with the one-letter suffix of a veth pair's temporary peer name."""
    return prefix + hashlib.sha256(key.encode()).hexdigest()[: IFNAME_MAX - 1 - len(prefix)]


def choose_subnet(
    taken: Iterable[ipaddress.IPv4Network], pool: ipaddress.IPv4Network = SUBNET_POOL
) -> ipaddress.IPv4Network:
    """The first /24 of ``pool`` that overlaps none of ``taken``."""
    busy = list(taken)
    for candidate in pool.subnets(new_prefix=24):
        if not any(candidate.overlaps(network) for network in busy):
            return candidate
    raise NetnsError(
        f"no free /24 left in {pool} for the suite's test hosts (all overlap this host's routes)"
    )


def networks_in_use(routes_json: str, addresses_json: str) -> list[ipaddress.IPv4Network]:
    """IPv4 networks this host already routes or holds (``ip -j route``, ``ip -j addr``)."""
    found: list[ipaddress.IPv4Network] = []
    for route in json.loads(routes_json or "[]"):
        destination = route.get("dst", "")
        if destination and destination != "default":
            try:
                found.append(ipaddress.IPv4Network(destination, strict=False))
            except ValueError:
                continue
    for link in json.loads(addresses_json or "[]"):
        for info in link.get("addr_info", []):
            if info.get("family") == "inet":
                found.append(
                    ipaddress.IPv4Network(f"{info['local']}/{info.get('prefixlen', 32)}", strict=False)
                )
    return found


@dataclass
class IpCli:
    """iproute2, through the suite's runner."""

    runner: CommandRunner
    ip_bin: str = "ip"

    def run(self, *args: str, check: bool = True) -> str:
        try:
            result = self.runner.run(
                [self.ip_bin, *args],
                timeout_s=NETNS_IP.seconds(),
                check=check,
                attach=False,
                title=f"ip {' '.join(args)}",
            )
        except CommandError as error:
            raise NetnsError(str(error)) from None
        return result.stdout

    def netns_names(self) -> list[str]:
        return [entry["name"] for entry in json.loads(self.run("-j", "netns", "list") or "[]")]

    def bridges(self) -> dict[str, str]:
        """Bridge name -> alias (``""`` when it has none)."""
        links = json.loads(self.run("-j", "-d", "link", "show", "type", "bridge") or "[]")
        return {link["ifname"]: link.get("ifalias", "") for link in links}

    def netns_pids(self, name: str) -> list[int]:
        return [int(pid) for pid in self.run("netns", "pids", name, check=False).split() if pid.isdigit()]

    def taken_networks(self) -> list[ipaddress.IPv4Network]:
        return networks_in_use(
            self.run("-j", "-4", "route", "show", "table", "all"), self.run("-j", "-4", "addr")
        )


def stop_processes_in(ip: IpCli, netns: Iterable[str], grace_s: float | None = None) -> list[int]:
    """SIGTERM, then after ``grace_s`` SIGKILL, every process in the namespaces ``netns`` (only
    ever the suite's own), and wait until every one is gone; returns the pids that needed
    SIGKILL (``grace_s``: the deadline ``netns.kill-grace`` unless given). A process still there
    ``netns.gone-after-kill`` after SIGKILL stays listed by ``ip netns pids`` (``delete_netns``
    then keeps its namespace)."""
    pids = [pid for name in netns for pid in ip.netns_pids(name)]
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    if pids:
        with contextlib.suppress(WaitTimeout):  # the grace is over: SIGKILL whatever is left
            wait_until(
                "processes in the namespaces to end after SIGTERM",
                lambda: [pid for pid in pids if _alive(pid)],
                NETNS_KILL_GRACE.seconds() if grace_s is None else grace_s,
                until=lambda alive: not alive,
                initial_delay_s=0.1,
                max_delay_s=0.1,
            )
        pids = [pid for pid in pids if _alive(pid)]
    for pid in pids:
        _signal(pid, signal.SIGKILL)
    if pids:
        with contextlib.suppress(WaitTimeout):  # one still there keeps its namespace (delete_netns)
            wait_until(
                "processes in the namespaces to be gone after SIGKILL",
                lambda: [pid for pid in pids if _alive(pid)],
                NETNS_GONE_AFTER_KILL.seconds(),
                until=lambda alive: not alive,
                initial_delay_s=0.05,
                max_delay_s=0.05,
            )
    return pids


def delete_netns(
    ip: IpCli, netns: Iterable[str], grace_s: float | None = None, etc: NetnsEtcFiles | None = None
) -> list[str]:
    """End every process in ``netns`` and wait until they are gone, then delete the namespaces
    (their veth pairs go with them) and their ``/etc/netns/<name>/`` files (clusters/netns_etc.py),
    which ``ip netns delete`` leaves behind. A namespace is deleted only once no process is left
    in it (a process that started while the others ended is ended too); returns the namespaces
    kept because a process in them would not go."""
    names = list(netns)
    for _round in range(3):
        stop_processes_in(ip, names, grace_s)
        busy = [name for name in names if ip.netns_pids(name)]
        for name in names:
            if name not in busy:
                ip.run("netns", "delete", name, check=False)
                (etc or NetnsEtcFiles()).remove(name)
        names = busy
        if not names:
            return []
    for name in names:
        log.error(
            "network namespace %s still has processes %s after SIGKILL: kept (remove it with "
            "`ip netns pids %s | xargs -r kill -9; ip netns delete %s`)",
            name,
            ip.netns_pids(name),
            name,
            name,
        )
    return names


@dataclass
class HostNetwork:
    """One bridge and the test hosts on it (see the module docstring)."""

    ip: IpCli
    owner: str  # "<prefix>-<run id>[-<worker>]": the bridge's alias
    subnet: ipaddress.IPv4Network
    etc: NetnsEtcFiles = field(default_factory=NetnsEtcFiles)
    hosts: dict[str, NetnsHost] = field(default_factory=dict)
    _next: int = 2
    _lock: threading.Lock = field(default_factory=threading.Lock)
    created: bool = False

    @property
    def bridge(self) -> str:
        return short_link_name("ekb", self.owner)

    @property
    def gateway(self) -> str:
        """The host's own address on the bridge."""
        return str(self.subnet.network_address + 1)

    @classmethod
    def on_free_subnet(cls, ip: IpCli, owner: str, lock: Path = SUBNET_LOCK) -> HostNetwork:
        """A bridge for ``owner`` on a /24 nobody on this host uses, chosen and made under a
        host-wide lock."""
        with FileLock(str(lock), timeout=NETNS_SUBNET_LOCK.seconds()):
            network = cls(ip, owner, choose_subnet(ip.taken_networks()))
            network.create()
        return network

    def create(self) -> None:
        ip, bridge = self.ip, self.bridge
        ip.run("link", "add", bridge, "type", "bridge")
        self.created = True
        ip.run("link", "set", "dev", bridge, "alias", self.owner)
        ip.run("addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", bridge)
        ip.run("link", "set", "dev", bridge, "up")

    def add_host(self, name: str) -> NetnsHost:
        """A new network namespace ``name`` with the next free address on the bridge."""
        with self._lock:
            if name in self.hosts:
                return self.hosts[name]
            if self._next >= self.subnet.num_addresses - 1:
                raise NetnsError(f"{self.subnet} has no address left for test host {name}")
            address = str(self.subnet.network_address + self._next)
            self._next += 1
            host = NetnsHost(name, address, short_link_name("ek", name))
            self.hosts[name] = host
        peer = host.host_link + "p"
        ip = self.ip
        ip.run("netns", "add", name)
        ip.run("-n", name, "link", "set", "lo", "up")
        ip.run("link", "add", host.host_link, "type", "veth", "peer", "name", peer)
        ip.run("link", "set", peer, "netns", name)
        ip.run("-n", name, "link", "set", peer, "name", "eth0")
        ip.run("-n", name, "addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", "eth0")
        ip.run("-n", name, "link", "set", "eth0", "up")
        ip.run("link", "set", host.host_link, "master", self.bridge)
        ip.run("link", "set", host.host_link, "up")
        log.info("test host %s: %s on %s", name, address, self.bridge)
        return host

    def remove_host(self, name: str) -> None:
        with self._lock:
            host = self.hosts.pop(name, None)
        if host is not None:
            delete_netns(self.ip, [host.netns], etc=self.etc)

    def destroy(self) -> list[str]:
        """Delete every test host (once its processes are gone) and the bridge; the namespaces
        kept because a process in them would not go (the bridge stays with them)."""
        with self._lock:
            names = [host.netns for host in self.hosts.values()]
            self.hosts.clear()
        kept = delete_netns(self.ip, names, etc=self.etc)
        if self.created and not kept:
            self.ip.run("link", "delete", self.bridge, check=False)
            self.created = False
        return kept


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False
