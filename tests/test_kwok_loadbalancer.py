"""The LoadBalancer controller's logic with the Kubernetes API and iproute2 replaced (pure):
one test host per Service, kept for the run, the status it writes, its bound, and stop()."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from kubernetes import client

from clusters.kwok.loadbalancer import LoadBalancerTimeout, NetnsLoadBalancers
from clusters.netns import NetnsError, NetnsHost


def service(namespace: str, name: str, ingress: list[str] | None = None) -> Any:
    """What ``list_service_for_all_namespaces`` returns for one Service (the client's models)."""
    status = client.V1ServiceStatus(
        load_balancer=client.V1LoadBalancerStatus(
            ingress=[client.V1LoadBalancerIngress(ip=ip) for ip in ingress or []]
        )
    )
    return client.V1Service(metadata=client.V1ObjectMeta(namespace=namespace, name=name), status=status)


class FakeCore:
    services: ClassVar[dict[str, list[Any]]] = {}
    patches: ClassVar[list[tuple[str, str, dict[str, Any]]]] = []

    def __init__(self, api: Any) -> None:
        self.role = api.role

    def list_service_for_all_namespaces(self, **kwargs: Any) -> Any:
        assert kwargs["field_selector"] == "spec.type=LoadBalancer" and kwargs["_request_timeout"]
        return SimpleNamespace(items=list(self.services.get(self.role, [])))

    def patch_namespaced_service_status(
        self, name: str, namespace: str, body: dict[str, Any], **_: Any
    ) -> None:
        self.patches.append((namespace, name, body))
        for item in self.services[self.role]:
            if (item.metadata.namespace, item.metadata.name) == (namespace, name):
                ips = [entry["ip"] for entry in body["status"]["loadBalancer"]["ingress"]]
                item.status.load_balancer.ingress = [client.V1LoadBalancerIngress(ip=ip) for ip in ips]


class FakeNetwork:
    def __init__(self, fail: bool = False) -> None:
        self.added: list[str] = []
        self.fail = fail

    def add_host(self, name: str) -> NetnsHost:
        if self.fail:
            raise NetnsError(
                "command exited with code 2: ip netns add x\nRTNETLINK answers: Operation not permitted"
            )
        self.added.append(name)
        return NetnsHost(name, f"10.250.1.{10 + len(self.added)}", f"ek{len(self.added)}")


@pytest.fixture
def core(monkeypatch: pytest.MonkeyPatch) -> type[FakeCore]:
    FakeCore.services = {"external": [], "remote": []}
    FakeCore.patches = []
    monkeypatch.setattr(client, "CoreV1Api", FakeCore)
    return FakeCore


def controller(network: FakeNetwork, max_hosts: int = 16) -> NetnsLoadBalancers:
    clusters = {
        role: SimpleNamespace(api=lambda role=role: SimpleNamespace(role=role))
        for role in ("external", "remote")
    }
    return NetnsLoadBalancers(
        lambda: clusters,  # type: ignore[arg-type,return-value]
        network,  # type: ignore[arg-type]
        lambda index: f"eicp-r1-lb{index}",
        poll_s=0.02,
        max_hosts=max_hosts,
    )


def test_each_service_gets_a_host_of_its_own_and_keeps_it(core: type[FakeCore]) -> None:
    network = FakeNetwork()
    balancers = controller(network)
    core.services["external"].append(service("istio-system", "istio-ingressgateway"))
    core.services["remote"].append(service("istio-system", "istio-eastwestgateway"))
    try:
        gateway = balancers.wait_for("external", "istio-system", "istio-ingressgateway", timeout_s=5)
        eastwest = balancers.wait_for("remote", "istio-system", "istio-eastwestgateway", timeout_s=5)
        assert gateway.address != eastwest.address and network.added == ["eicp-r1-lb0", "eicp-r1-lb1"]
        deadline = time.monotonic() + 5
        while len(core.patches) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ("istio-system", "istio-ingressgateway", {
            "status": {"loadBalancer": {"ingress": [{"ip": gateway.address, "ipMode": "VIP"}]}}
        }) in core.patches  # fmt: skip
        # Deleted and applied again (an upgrade, a re-install): the same host, the same address.
        core.services["external"].clear()
        time.sleep(0.1)
        core.services["external"].append(service("istio-system", "istio-ingressgateway"))
        assert balancers.wait_for("external", "istio-system", "istio-ingressgateway", timeout_s=5) == gateway
        assert len(network.added) == 2
        patched = len(core.patches)
        time.sleep(0.1)
        assert len(core.patches) <= patched + 1  # a Service already showing its address is left alone
    finally:
        balancers.stop()
    assert balancers._thread is not None and not balancers._thread.is_alive()


def test_the_number_of_hosts_is_bounded_and_the_timeout_says_why(core: type[FakeCore]) -> None:
    balancers = controller(FakeNetwork(), max_hosts=1)
    core.services["external"] += [service("a", "one"), service("b", "two")]
    try:
        balancers.wait_for("external", "a", "one", timeout_s=5)
        with pytest.raises(
            LoadBalancerTimeout, match=r"b/two on the external cluster got no address within 0 s.*more than 1"
        ):
            balancers.wait_for("external", "b", "two", timeout_s=0.3)
    finally:
        balancers.stop()


def test_a_host_that_cannot_be_made_is_reported(core: type[FakeCore]) -> None:
    balancers = controller(FakeNetwork(fail=True))
    core.services["external"].append(service("istio-system", "gw"))
    try:
        with pytest.raises(LoadBalancerTimeout, match="Operation not permitted"):
            balancers.wait_for("external", "istio-system", "gw", timeout_s=0.3)
    finally:
        balancers.stop()
    assert balancers._thread is not None and not balancers._thread.is_alive()
