"""The check modules end to end against a fake kubectl: reader -> evaluator -> verdict -> outcome."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from clusters.cluster import ClusterHandle, Topology
from clusters.providers import provider_spec
from programs.redaction import Redactor
from programs.runner import CommandRunner
from scenarios.expectations import ScenarioExpectations
from scenarios.releases import IstioRelease
from suites import test_injection, test_traffic
from suites.evaluation.evaluators.traffic import STATUS_MARKER
from suites.evaluation.evaluators.verdict import Verdict
from suites.evaluation.readers import Observer
from suites.evaluation.reporting import judge
from tests import checks_fakes as fake
from tests import xds_dumps
from tests.conftest import Deadlines
from tests.fakeexec import FakeTool, FakeTools


@dataclass(frozen=True)
class Installed:
    scenario: str
    release: IstioRelease
    topology: Topology
    expectations: ScenarioExpectations
    diagnostics_dir: Path


def out(obj: object) -> str:
    """Fake stdout is a regex template: backslashes doubled."""
    text = obj if isinstance(obj, str) else json.dumps(obj)
    return text.replace("\\", "\\\\")


def hello(versions: list[str]) -> str:
    return "".join(
        f"Hello version: {v}, instance: helloworld-{v}-abc\n\n{STATUS_MARKER}200\n" for v in versions
    )


@pytest.fixture
def installed(runner: CommandRunner, tmp_path: Path) -> Installed:
    clusters = {
        role: ClusterHandle(
            role, f"eicp-{role}", f"kind-eicp-{role}", tmp_path / f"{role}.kubeconfig", "", None, runner
        )
        for role in ("external", "remote", "second")
    }
    return Installed(
        "second-remote",
        fake.release(),
        Topology(provider_spec("kind").capabilities, clusters, "eicp"),  # type: ignore[arg-type]
        fake.second_remote(),
        tmp_path / "diagnostics",
    )


def run_check(check: object, installed: Installed) -> list[Verdict]:
    seen: list[Verdict] = []

    def verdict_of(verdict: Verdict) -> None:
        seen.append(verdict)
        judge(verdict, Redactor())

    check(installed, Observer.of(installed), str(installed.diagnostics_dir), verdict_of)  # type: ignore[operator]
    return seen


def script_traffic(kubectl: FakeTool, v1_share: float) -> None:
    rng = random.Random(3)
    curl = fake.as_list(fake.pod("curl-5b549b49b8-qx7rl", app="curl"))
    kubectl.on(r"get pods -n sample -l app=curl", stdout=out(curl))
    kubectl.on(
        r"get service istio-ingressgateway -n external-istiod", stdout=out(fake.lb_service(ip="172.18.0.201"))
    )
    for count in (20, 200):
        answers = ["v1" if rng.random() < v1_share else "v2" for _ in range(count)]
        if count == 20:
            answers[:2] = ["v1", "v2"]  # the convergence probe sees both
        kubectl.on(rf"(?s)exec .*eicp=\[1-{count}\]", stdout=out(hello(answers)))


def test_second_remote_traffic_passes_with_counts(fake_tools: FakeTools, installed: Installed) -> None:
    script_traffic(fake_tools.install("kubectl"), 0.5)
    verdicts = run_check(test_traffic.test_mesh_traffic_from_each_client, installed)
    assert len(verdicts) == 1
    assert verdicts[0].ok
    assert [fact.split(":")[0] for fact in verdicts[0].facts] == ["curl in remote", "curl in second"]
    assert all("of 200; exact two-sided binomial test" in fact for fact in verdicts[0].facts)
    ingress = run_check(test_traffic.test_ingress_gateway_traffic, installed)
    assert ingress[0].facts[0].startswith("istio ingress gateway on remote: v1=")
    urls = [call.args[-1] for call in fake_tools.calls("kubectl") if "exec" in call.args]
    assert "http://172.18.0.201:80/hello?eicp=[1-200]" in urls


def test_second_remote_traffic_95_5_fails(fake_tools: FakeTools, installed: Installed) -> None:
    script_traffic(fake_tools.install("kubectl"), 0.95)
    with pytest.raises(pytest.fail.Exception, match=r"unbalanced split: v1=1\d\d, v2=\d+ of 200"):
        run_check(test_traffic.test_mesh_traffic_from_each_client, installed)


def test_proxies_synced_check_reads_every_istiod(
    fake_tools: FakeTools, installed: Installed, deadlines: Deadlines
) -> None:
    """Both clusters run a pod named curl-5b549b49b8-qx7rl: each is matched by its own cluster id."""
    deadlines({"check.injection-sync": 0.5})
    kubectl = fake_tools.install("kubectl")
    remote_pods = fake.sample_pods(("v1",))
    second_pods = fake.sample_pods(("v2",), cluster_id=fake.SECOND_CLUSTER)
    kubectl.on(r"--context kind-eicp-remote get pods -n sample", stdout=out(remote_pods))
    kubectl.on(r"--context kind-eicp-second get pods -n sample", stdout=out(second_pods))
    kubectl.on(r"get deployment istiod -n external-istiod", stdout=out(fake.istiod_deployment()))
    kubectl.on(r"get pods -n external-istiod", stdout=out(fake.istiod_pods()))
    syncz = fake.syncz_for(remote_pods) + fake.syncz_for(second_pods, fake.SECOND_CLUSTER)
    kubectl.on(r"(?s)exec .* /debug/syncz", stdout=out(syncz))
    verdicts = run_check(test_injection.test_proxies_connected_and_synced_to_external_istiod, installed)
    assert verdicts[0].ok, verdicts[0].message


def test_proxy_missing_from_istiod_fails_after_waiting(
    fake_tools: FakeTools, installed: Installed, deadlines: Deadlines
) -> None:
    deadlines({"check.injection-sync": 0.5})
    kubectl = fake_tools.install("kubectl")
    pods = fake.sample_pods(("v1",))
    kubectl.on(r"get pods -n sample", stdout=out(pods))
    kubectl.on(r"get deployment istiod -n external-istiod", stdout=out(fake.istiod_deployment()))
    kubectl.on(r"get pods -n external-istiod", stdout=out(fake.istiod_pods()))
    kubectl.on(r"(?s)exec .* /debug/syncz", stdout="[]")
    with pytest.raises(pytest.fail.Exception) as failure:
        run_check(test_injection.test_proxies_connected_and_synced_to_external_istiod, installed)
    message = str(failure.value)
    assert "proxy helloworld-v1-776f57d5f6-s7zfc.sample is not connected to the external istiod" in message
    assert "still failing when the wait ended" in message
    assert str(installed.diagnostics_dir) in message


def script_sidecar_configs(kubectl: FakeTool, *, v1_entries: int, gateway_weight: int | None = None) -> None:
    """Both clusters' pods, east-west gateways and the remote client's sidecar config (the recorded
    dump's shape): v1 listed ``v1_entries`` times, the second network behind its gateway."""
    remote_pods = fake.sample_pods(("v1",))
    second_pods = fake.sample_pods(("v2",), cluster_id=fake.SECOND_CLUSTER)
    kubectl.on(r"--context kind-eicp-remote get pods -n sample --ignore", stdout=out(remote_pods))
    kubectl.on(r"--context kind-eicp-second get pods -n sample --ignore", stdout=out(second_pods))
    for context, ip in (("remote", "172.18.0.210"), ("second", "172.18.0.220")):
        gateway = fake.lb_service("istio-eastwestgateway", "external-istiod", ip=ip)
        kubectl.on(
            rf"--context kind-eicp-{context} get services --all-namespaces", stdout=out(fake.as_list(gateway))
        )
    v1 = remote_pods["items"][0]["status"]["podIP"]
    dump = xds_dumps.helloworld_dump(
        *[(v1, 5000, f"cluster{n}") for n in range(v1_entries)], ("172.18.0.220", 15443, "second")
    )
    if gateway_weight is not None:
        xds_dumps.lb_endpoints(dump)[-1]["load_balancing_weight"] = gateway_weight
    kubectl.on(r"--context kind-eicp-remote exec .* pilot-agent request GET config_dump", stdout=out(dump))
    kubectl.on(
        r"--context kind-eicp-second exec .* pilot-agent request GET config_dump",
        exit=1,
        stderr="no such pod",
    )


def test_unbalanced_traffic_with_a_balanced_config_points_at_the_data_plane(
    fake_tools: FakeTools, installed: Installed
) -> None:
    kubectl = fake_tools.install("kubectl")
    script_sidecar_configs(kubectl, v1_entries=2)  # duplicates: Envoy keeps the first, 1:1
    script_traffic(kubectl, 0.95)
    with pytest.raises(pytest.fail.Exception) as failure:
        run_check(test_traffic.test_mesh_traffic_from_each_client, installed)
    message = str(failure.value)
    assert (
        "xDS: curl-5b549b49b8-qx7rl's sidecar config is balanced (by Envoy's rules it sends helloworld requests v1 50%, v2 50%"
        in message
    )
    assert "the fault is in the data plane" in message


def test_unbalanced_traffic_explained_by_the_config(fake_tools: FakeTools, installed: Installed) -> None:
    kubectl = fake_tools.install("kubectl")
    script_sidecar_configs(kubectl, v1_entries=1, gateway_weight=1)  # v1 at weight 2, the gateway at 1
    script_traffic(kubectl, 0.95)
    with pytest.raises(pytest.fail.Exception) as failure:
        run_check(test_traffic.test_mesh_traffic_from_each_client, installed)
    message = str(failure.value)
    assert (
        "xDS explains it: by Envoy's rules curl-5b549b49b8-qx7rl's sidecar sends helloworld requests v1 66.67%, v2 33.33% (the pods call for v1 50%, v2 50%)"
        in message
    )
