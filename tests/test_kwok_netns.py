"""Network-namespace test hosts (clusters/netns.py): pure choices, and the real thing as root."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from clusters.netns import (
    HostNetwork,
    IpCli,
    NetnsError,
    NetnsHost,
    choose_subnet,
    networks_in_use,
    short_link_name,
)
from programs.runner import CommandRunner

# `ip -j -4 route show table all` and `ip -j -4 addr` on a development machine (trimmed).
ROUTES = (
    '[{"dst":"default","gateway":"192.0.2.1","dev":"eth0","flags":[]},'
    '{"dst":"10.250.0.0/24","dev":"eicpd2br0","protocol":"kernel","scope":"link","prefsrc":"10.250.0.1","flags":[]},'
    '{"dst":"192.0.2.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"192.0.2.2","flags":[]},'
    '{"type":"local","dst":"10.250.0.1","dev":"eicpd2br0","table":"local","protocol":"kernel","scope":"host",'
    '"prefsrc":"10.250.0.1","flags":[]}]'
)
ADDRESSES = (
    '[{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},'
    '{"ifindex":4,"ifname":"eth0","addr_info":[{"family":"inet","local":"192.0.2.2","prefixlen":24}]}]'
)


def test_the_suite_takes_the_first_private_24_nobody_uses() -> None:
    taken = networks_in_use(ROUTES, ADDRESSES)
    assert ipaddress.IPv4Network("10.250.0.0/24") in taken and ipaddress.IPv4Network("127.0.0.0/8") in taken
    assert choose_subnet(taken) == ipaddress.IPv4Network("10.250.1.0/24")
    assert choose_subnet([]) == ipaddress.IPv4Network("10.250.0.0/24")
    # A host route inside the pool (a VPN, another run's bridge) is avoided too.
    assert choose_subnet([ipaddress.IPv4Network("10.250.0.0/23")]) == ipaddress.IPv4Network("10.250.2.0/24")


def test_no_free_subnet_is_an_error_naming_the_pool() -> None:
    with pytest.raises(NetnsError, match=r"no free /24 left in 10\.250\.0\.0/16"):
        choose_subnet([ipaddress.IPv4Network("10.0.0.0/8")])


def test_link_names_fit_linux_limits_and_are_stable() -> None:
    name = short_link_name("ek", "eicp-1121003745-second-gw12")
    assert len(name) == 14 and len(name + "p") <= 15
    assert (
        name == short_link_name("ek", "eicp-1121003745-second-gw12") != short_link_name("ek", "eicp-x-remote")
    )


def test_host_exec_enters_the_namespace() -> None:
    network = HostNetwork(IpCli(CommandRunner()), "eicp-r1", ipaddress.IPv4Network("10.250.7.0/24"))
    assert network.gateway == "10.250.7.1" and network.bridge.startswith("ekb") and len(network.bridge) == 14


def netns_usable() -> str | None:
    """Why real network-namespace tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "not root (network namespaces need CAP_NET_ADMIN/CAP_SYS_ADMIN)"
    if shutil.which("ip") is None:
        return "no iproute2 'ip' on PATH (apt-get install iproute2)"
    if subprocess.run(["ip", "netns", "list"], capture_output=True, check=False).returncode != 0:
        return "'ip netns list' fails here"
    return None


def kwok_host_usable() -> str | None:
    """Why the kwok tier cannot run here (network namespaces, or the Debian programs its
    stand-ins run: HAProxy, curl), or None when it can. Under CI (``CI`` set, as ci/selftest.sh
    installs them) a missing program is the test's failure, never a skip."""
    reason = netns_usable()
    for program, package in (("haproxy", "haproxy"), ("curl", "curl")):
        if reason is None and shutil.which(program) is None:
            reason = f"no {program!r} on PATH (apt-get install {package}; ci/selftest.sh installs it)"
    if reason is not None and os.environ.get("CI") and netns_usable() is None:
        pytest.fail(f"CI: the kwok tier's host programs must be installed: {reason}")
    return reason


@pytest.fixture
def network(runner: CommandRunner) -> Iterator[HostNetwork]:
    reason = netns_usable()
    if reason:
        pytest.skip(reason)
    ip = IpCli(runner)
    net = HostNetwork.on_free_subnet(ip, f"eicptest-{uuid.uuid4().hex[:8]}")
    try:
        yield net
    finally:
        net.destroy()


SERVE_ONCE = "import socket,sys;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind((sys.argv[1],8080));s.listen();c,_=s.accept();c.sendall(b'hi');c.close()"
CONNECT = "import socket,sys;print(socket.create_connection((sys.argv[1],8080),timeout=5).recv(2).decode())"


def serve_once_and_connect(server: NetnsHost, client: NetnsHost | None) -> str:
    """Serve one connection at ``server``'s address; connect from ``client`` (None: the host)."""
    listener = subprocess.Popen(server.exec_argv([sys.executable, "-c", SERVE_ONCE, server.address]))
    try:
        for _ in range(100):
            probe = subprocess.run(
                server.exec_argv(["ss", "-Hltn"]), capture_output=True, text=True, check=False
            )
            if f"{server.address}:8080" in probe.stdout:
                break
            time.sleep(0.05)
        if client is None:
            with socket.create_connection((server.address, 8080), timeout=5) as connection:
                return connection.recv(2).decode()
        argv = client.exec_argv([sys.executable, "-c", CONNECT, server.address])
        return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    finally:
        listener.wait(timeout=10)


@pytest.mark.kwok
def test_test_hosts_reach_each_other_and_the_host_and_leave_nothing(network: HostNetwork) -> None:
    server = network.add_host(f"{network.owner}-a")
    client = network.add_host(f"{network.owner}-b")
    assert ipaddress.IPv4Address(server.address) in network.subnet and server.address != client.address
    assert serve_once_and_connect(server, None) == "hi"
    assert serve_once_and_connect(server, client) == "hi"
    # The namespaces have no route but their /24: nothing else is reachable from them.
    routes = subprocess.run(
        ["ip", "-n", server.netns, "-4", "route"], capture_output=True, text=True, check=True
    ).stdout
    assert "default" not in routes and str(network.subnet) in routes
    ip = network.ip
    network.destroy()
    assert not {server.netns, client.netns} & set(ip.netns_names())
    assert network.bridge not in ip.bridges()
    assert (
        str(network.subnet)
        not in subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=True).stdout
    )


@pytest.mark.kwok
def test_a_namespace_is_deleted_only_once_every_process_in_it_is_gone(
    network: HostNetwork, tmp_path: Path
) -> None:
    """A process that starts another while it is told to end (as a server's shutdown may) does
    not outlive the teardown: the namespace is listed again, and deleted only once empty."""
    host = network.add_host(f"{network.owner}-a")
    late = tmp_path / "late.pid"
    script = f"trap 'sleep 30 & echo $! > {late}; exit 0' TERM; echo ready; while :; do sleep 0.1; done"
    shell = subprocess.Popen(host.exec_argv(["sh", "-c", script]), stdout=subprocess.PIPE, text=True)
    try:
        assert shell.stdout is not None and shell.stdout.readline().strip() == "ready"
        network.destroy()
        shell.wait(timeout=10)
        started_late = int(late.read_text())
        assert not Path(f"/proc/{started_late}").exists() or _zombie(started_late)
        assert host.netns not in network.ip.netns_names()
    finally:
        if shell.poll() is None:
            shell.kill()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True
