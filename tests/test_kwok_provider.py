"""The kwok provider for real (layer 3): kwok clusters in network namespaces, LoadBalancer
addresses, teardown and the leftover sweep. Root, iproute2 and the kwok tier's binaries
(built from the Go caches when missing) are needed; without them the tests skip and say why."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from clusters.capabilities import Capability
from clusters.kwok.builder import build_kwok_provider
from clusters.kwok.config import KwokBinaries
from clusters.kwok.kwokctl import Kwokctl
from clusters.kwok.preflight import kwok_preflight
from clusters.kwok.provider import (
    KwokProvider,
    KwokProvisioningError,
    KwokSettings,
)
from clusters.names import RunIdentity
from clusters.netns import IpCli, NetnsHost
from clusters.netns_etc import NetnsEtcFiles
from clusters.provider import ProviderContext
from clusters.run_registry import RunRegistry
from programs.istio_sources import inspect_source
from programs.redaction import Redactor
from programs.runner import CommandError, CommandRunner
from programs.tool_policy import KWOK_MODE_TOOLS
from programs.tools import ResolvedTool, ToolResolver
from run.config import DEFAULT_TOOLS_DIR
from scenarios.releases import load_pins
from scenarios.sources import ISTIO_MODULE
from scenarios.steps import Role
from tests.test_kwok_netns import kwok_host_usable
from tests.test_plan import config as suite_config

pytestmark = [pytest.mark.kwok, pytest.mark.realtools, pytest.mark.slow]

ProviderFactory = Callable[[str], KwokProvider]


@pytest.fixture
def make_provider(
    real_tool: Callable[[str], ResolvedTool], tmp_path: Path, redactor: Redactor
) -> Iterator[ProviderFactory]:
    reason = kwok_host_usable()
    if reason:
        pytest.skip(reason)
    tools = {name: real_tool(name) for name in KWOK_MODE_TOOLS}
    binaries = KwokBinaries(
        tools["kube-apiserver"].path,
        tools["kube-controller-manager"].path,
        tools["kube-scheduler"].path,
        tools["kwok"].path,
        tools["etcd"].path,
        tools["kubectl"].path,
        tools["kube-apiserver"].version,
        tools["etcd"].version,
        tools["kwok"].version,
    )
    runner = CommandRunner(redactor, transcript=tmp_path / "commands.log", default_timeout_s=120)
    programs = kwok_preflight(runner, clusters=0, istiods=0)
    made: list[KwokProvider] = []
    prefix = "eicpt" + uuid.uuid4().hex[:6]

    def make(run_id: str) -> KwokProvider:
        run_dir = tmp_path / run_id
        run_dir.mkdir(mode=0o700)
        provider = KwokProvider(
            identity=RunIdentity(prefix, run_id),
            settings=KwokSettings(),
            binaries=binaries,
            kwokctl=Kwokctl(runner, tools["kwokctl"].path, tools["kubectl"].path, run_dir / "kwok" / "work"),
            registry=RunRegistry(tmp_path / "state"),
            run_dir=run_dir,
            runner=runner,
            redactor=redactor,
            ip=IpCli(runner),
            programs=programs,
        )
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.teardown(failed=True, interrupted=False)
        provider.delete_kept()


def processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline and str(os.getpid()) != entry.name:
                found.append(f"{entry.name}: {cmdline[:120]}")
    return found


def leaves_nothing(provider: KwokProvider) -> None:
    ip = provider.ip
    assert not [name for name in ip.netns_names() if name.startswith(provider.identity.prefix)]
    assert not [name for name in NetnsEtcFiles().names() if name.startswith(provider.identity.prefix)]
    assert provider.owner not in ip.bridges().values()
    assert processes_mentioning(str(provider.run_dir)) == []
    listeners = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True, check=True).stdout
    assert provider.network is not None and str(provider.network.subnet.network_address)[:-1] not in listeners


def test_clusters_are_real_ready_separate_and_gone_after_teardown(make_provider: ProviderFactory) -> None:
    provider = make_provider("r1")
    started = time.monotonic()
    topology = provider.provision(("external", "remote"))
    assert time.monotonic() - started < 90
    assert topology.mode == "kwok" and set(topology.clusters) == {"external", "remote"}
    servers = set()
    for role, cluster in topology.clusters.items():
        host = provider.cluster_host(role)
        assert cluster.internal_api_server.startswith(f"https://{host.address}:")
        servers.add(cluster.internal_api_server)
        version = json.loads(cluster.kubectl("version", "-o", "json").stdout)["serverVersion"]["gitVersion"]
        assert version == provider.binaries.kube_version
        nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
        assert len(nodes) == 1
        ready = {c["type"]: c["status"] for c in nodes[0]["status"]["conditions"]}
        assert ready["Ready"] == "True"
        assert nodes[0]["spec"]["podCIDRs"] == [{"external": "10.10.0.0/24", "remote": "10.20.0.0/24"}[role]]
        assert (cluster.kubeconfig.stat().st_mode & 0o777) == 0o600
        # Bound to its namespace's loopback only: nothing listens on 0.0.0.0 or the host's address.
        listeners = subprocess.run(
            host.exec_argv(["ss", "-Hltn"]), capture_output=True, text=True, check=True
        ).stdout
        addresses = {line.split()[3].rsplit(":", 1)[0] for line in listeners.splitlines()}
        assert addresses <= {"127.0.0.1", host.address}, listeners
    assert len(servers) == 2
    # Names resolve through the clusters' own hosts files, which their API servers see as /etc/hosts.
    assert topology.hostnames is not None and not topology.can(Capability.CLUSTER_DNS)
    remote_host = provider.cluster_host("remote")
    topology.hostnames.publish("remote", "istiod.eicp-selftest.test", "10.250.255.7")
    assert topology.hostnames.resolve("remote", "istiod.eicp-selftest.test")[0] == "10.250.255.7"
    assert topology.hostnames.resolve("external", "istiod.eicp-selftest.test")[0] is None
    apiserver = [
        pid for pid in provider.ip.netns_pids(remote_host.netns)
        if b"kube-apiserver" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    ]  # fmt: skip
    assert apiserver, "no kube-apiserver in the remote cluster's namespace"
    seen = Path(f"/proc/{apiserver[0]}/root/etc/hosts").read_text()
    assert "10.250.255.7 istiod.eicp-selftest.test" in seen
    assert "istiod.eicp-selftest.test" not in Path("/etc/hosts").read_text()  # the host's: untouched
    topology.hostnames.withdraw("remote", "istiod.eicp-selftest.test")
    assert "istiod.eicp-selftest.test" not in Path(f"/proc/{apiserver[0]}/root/etc/hosts").read_text()
    # The remote's API server is reachable from another test host's namespace (where istiod runs).
    remote = provider.cluster_host("remote")
    external = provider.cluster_host("external")
    port = int(topology["remote"].internal_api_server.rsplit(":", 1)[1])
    probe = f"import socket;socket.create_connection(('{remote.address}',{port}),timeout=5);print('ok')"
    reached = subprocess.run(
        external.exec_argv([sys.executable, "-c", probe]), capture_output=True, text=True, check=False
    )
    assert reached.stdout.strip() == "ok", reached.stderr
    assert provider.teardown(failed=False, interrupted=False) is None
    leaves_nothing(provider)


def test_a_loadbalancer_service_gets_a_test_host_address_reachable_from_the_host(
    make_provider: ProviderFactory,
) -> None:
    provider = make_provider("r2")
    topology = provider.provision(("external",))
    balancers = provider.load_balancers()
    balancers.ensure_started()
    cluster = topology["external"]
    cluster.kubectl("create", "namespace", "istio-system")
    cluster.kubectl(
        "create", "service", "loadbalancer", "istio-ingressgateway", "--tcp=15012:15012", "-n", "istio-system"
    )
    host = balancers.wait_for("external", "istio-system", "istio-ingressgateway", timeout_s=30)
    assert host.address not in {"127.0.0.1"} and not host.address.startswith("169.254.")
    assert host.address != provider.cluster_host("external").address
    for _ in range(40):
        ingress = cluster.kubectl(
            "get",
            "service",
            "istio-ingressgateway",
            "-n",
            "istio-system",
            "-o",
            "jsonpath={.status.loadBalancer.ingress[*].ip}",
        ).stdout
        if ingress:
            break
        time.sleep(0.25)
    assert ingress == host.address
    assert balancers.host_for("external", "istio-system", "istio-ingressgateway") == host
    server = subprocess.Popen(
        host.exec_argv(
            [
                sys.executable,
                "-c",
                f"import socket;s=socket.socket();s.bind(('{host.address}',15012));s.listen();c,_=s.accept();c.sendall(b'xds');c.close()",
            ]
        )
    )
    try:
        for _ in range(100):
            try:
                with socket.create_connection((host.address, 15012), timeout=2) as connection:
                    assert connection.recv(3) == b"xds"
                    break
            except ConnectionRefusedError:
                time.sleep(0.05)
        else:
            pytest.fail(f"nothing answered at {host.address}:15012")
    finally:
        server.wait(timeout=10)
    assert "LoadBalancer addresses (network-namespace hosts)" in provider.stand_ins()
    provider.teardown(failed=False, interrupted=False)
    leaves_nothing(provider)


def test_leftovers_of_a_finished_run_are_swept_and_kept_ones_are_not(make_provider: ProviderFactory) -> None:
    crashed = make_provider("r3")
    crashed.provision(("external",))
    crashed.registry.release_run()  # the run's process is gone: no teardown ran
    assert crashed.network is not None
    crashed_names = {crashed.identity.cluster_name("external"), crashed.network.bridge}
    assert NetnsEtcFiles().hosts(crashed.identity.cluster_name("external")).exists()
    orphan = RunIdentity(crashed.identity.prefix, "r9").cluster_name("remote")
    NetnsEtcFiles().create(orphan)  # hosts files whose namespace is already gone (a crash between)
    kept = make_provider("r4")
    kept.settings = KwokSettings(keep_clusters=True)
    kept.provision(("remote",))  # its sweep removes what the crashed run left
    names = kept.ip.netns_names()
    assert crashed.identity.cluster_name("external") not in names
    assert crashed.network.bridge not in kept.ip.bridges()
    assert not NetnsEtcFiles().directory(crashed.identity.cluster_name("external")).exists()
    assert not NetnsEtcFiles().directory(orphan).exists()
    assert processes_mentioning(str(crashed.run_dir)) == []
    message = kept.teardown(failed=False, interrupted=False)
    assert message is not None and "kept" in message and "ip netns exec" in message
    later = make_provider("r5")
    with later.registry.locked():
        swept = later.sweep_leftovers()
    assert not crashed_names & set(swept)
    assert kept.identity.cluster_name("remote") in later.ip.netns_names()
    remote = kept.cluster_host("remote")
    # A kept cluster still answers inside its namespace, as the message says.
    answer = subprocess.run(
        remote.exec_argv([str(kept.binaries.kubectl), "--kubeconfig", str(kept.kwokctl.cluster_dir(remote.netns) / "kubeconfig.yaml"), "get", "nodes"]),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert " Ready " in answer.stdout, answer.stderr
    kept.delete_kept()
    leaves_nothing(kept)


def test_the_builder_checks_the_host_and_resolves_every_tool_before_any_cluster(
    real_tool: Callable[[str], ResolvedTool], tmp_path: Path, redactor: Redactor
) -> None:
    reason = kwok_host_usable()
    if reason:
        pytest.skip(reason)
    for name in (*KWOK_MODE_TOOLS, "pilot-discovery-offline"):
        real_tool(name)  # built or cached where the resolver below finds it
    # The offline tier's way: the pinned Istio source (--istio-source), certified as itself.
    runner = CommandRunner(redactor, transcript=tmp_path / "commands.log")
    pins = load_pins()
    release = pins.source_release(inspect_source(f"{ISTIO_MODULE}@{pins.tier_source()}", pins, runner))
    tools = ToolResolver.from_pins(
        load_pins().tools,
        Path(os.environ.get("EICP_TOOLS_DIR", DEFAULT_TOOLS_DIR)),
        runner,
        allow_download=False,
    )
    context = ProviderContext(
        config=suite_config(
            mode="kwok", plan=False, keep_clusters=True, cluster_prefix="eicpb", releases=(release,)
        ),
        run_id="r6",
        worker="gw3",
        run_dir=tmp_path,
        state_dir=tmp_path / "state",
        report_dir=tmp_path,
        runner=runner,
        redactor=redactor,
        tools=tools,
    )
    provider = build_kwok_provider(context)
    assert provider.capabilities.mode == "kwok" and provider.settings.keep_clusters
    assert provider.identity.cluster_name("second") == "eicpb-r6-second-gw3"
    assert provider.lb_host_name(0) == "eicpb-r6-lb0-gw3" and provider.owner == "eicpb-r6-gw3"
    assert provider.binaries.kube_version == load_pins().tools["kube-apiserver"]["version"]
    assert provider.network is None and provider.ip.netns_names() is not None  # nothing created yet
    assert "LoadBalancer addresses (network-namespace hosts)" in provider.stand_ins()
    # istiod's image tag runs the pilot-discovery built from the same snapshot as that istioctl.
    assert provider.pilots == {release.tag: real_tool("pilot-discovery-offline").path}


@pytest.mark.parametrize("failure", [KeyboardInterrupt, CommandError])
def test_a_failure_or_ctrl_c_half_way_leaves_nothing(
    make_provider: ProviderFactory, monkeypatch: pytest.MonkeyPatch, failure: type[BaseException]
) -> None:
    provider = make_provider("r7" if failure is KeyboardInterrupt else "r8")
    real_scale = provider.kwokctl.scale_node

    def scale_then_fail(host: NetnsHost, role: Role, name: str) -> None:
        real_scale(host, role, name)
        if role == "remote":  # the second cluster is up, its node made: then it breaks
            raise KeyboardInterrupt if failure is KeyboardInterrupt else CommandError(["kwokctl"], 1, "boom")

    monkeypatch.setattr(provider.kwokctl, "scale_node", scale_then_fail)
    with pytest.raises(
        KeyboardInterrupt if failure is KeyboardInterrupt else KwokProvisioningError
    ) as raised:
        provider.provision(("external", "remote"))
    if failure is not KeyboardInterrupt:
        assert "kwok clusters could not be provisioned" in str(raised.value) and "boom" in str(raised.value)
    leaves_nothing(provider)
