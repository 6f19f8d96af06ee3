"""The readers against a fake kubectl: the commands they run and how they read the answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from clusters.cluster import ClusterHandle, Topology
from clusters.providers import provider_spec
from programs.runner import CommandRunner
from scenarios.expectations import IngressExpectation
from suites.evaluation.evaluators.traffic import STATUS_MARKER
from suites.evaluation.evaluators.validation import probes
from suites.evaluation.readers import Observer, secret_summary
from tests import checks_fakes as fake
from tests.fakeexec import FakeTools


def out(obj: object) -> str:
    """JSON for a fake tool's stdout; backslashes doubled because fake stdout is a regex template."""
    return json.dumps(obj).replace("\\", "\\\\")


@pytest.fixture
def observer(fake_tools: FakeTools, runner: CommandRunner, tmp_path: Path) -> Observer:
    clusters = {
        role: ClusterHandle(
            role, f"eicp-{role}", f"kind-eicp-{role}", tmp_path / f"{role}.kubeconfig", "", None, runner
        )
        for role in ("external", "remote")
    }
    return Observer(Topology(provider_spec("kind").capabilities, clusters, "eicp"), fake.ip_passthrough())  # type: ignore[arg-type]


def test_curl_batch_runs_one_exec_with_globbed_urls(fake_tools: FakeTools, observer: Observer) -> None:
    kubectl = fake_tools.install("kubectl")
    curl_only = fake.as_list(fake.pod("curl-5b549b49b8-qx7rl", app="curl"))
    kubectl.on(r"get pods -n sample -l app=curl", stdout=out(curl_only))
    body = f"Hello version: v1, instance: helloworld-v1-776f57d5f6-s7zfc\n\n{STATUS_MARKER}200\n"
    kubectl.on(r" exec ", stdout=body * 3)
    batch = observer.curl_batch("remote", observer.mesh_url(), 3, "curl in remote")
    assert batch.versions == {"v1": 3}
    exec_call = fake_tools.calls("kubectl")[-1]
    assert exec_call.args[:4] == (
        "--kubeconfig",
        str(observer.cluster("remote").kubeconfig),
        "--context",
        "kind-eicp-remote",
    )
    assert exec_call.args[4:12] == (
        "exec",
        "-n",
        "sample",
        "curl-5b549b49b8-qx7rl",
        "-c",
        "curl",
        "--",
        "curl",
    )
    assert exec_call.args[-1] == "http://helloworld.sample:5000/hello?eicp=[1-3]"
    assert f"\n{STATUS_MARKER}%{{http_code}}\n" in exec_call.args


def test_client_pod_must_be_ready(fake_tools: FakeTools, observer: Observer) -> None:
    kubectl = fake_tools.install("kubectl")
    kubectl.on(r"get pods", stdout=out(fake.as_list(fake.pod("curl-1", app="curl", ready=False))))
    with pytest.raises(LookupError, match=r"no Ready curl pod in sample on remote; pods: \['curl-1'\]"):
        observer.client_pod("remote")


def test_syncz_merges_every_ready_istiod(fake_tools: FakeTools, observer: Observer) -> None:
    kubectl = fake_tools.install("kubectl")
    pods = fake.istiod_pods()
    second = fake.deep(pods["items"][0])
    second["metadata"]["name"] = "istiod-779bd6fdcf-zzzzz"
    pods["items"].append(second)
    kubectl.on(r"get deployment istiod -n external-istiod", stdout=out(fake.istiod_deployment()))
    kubectl.on(r"get pods -n external-istiod -l app=istiod,istio.io/rev=default", stdout=out(pods))
    kubectl.on(r"exec -n external-istiod istiod-779bd6fdcf-bd6rg", stdout=out([fake.syncz_entry("a.sample")]))
    kubectl.on(r"exec -n external-istiod istiod-779bd6fdcf-zzzzz", stdout=out([fake.syncz_entry("b.sample")]))
    assert [entry["proxy"] for entry in observer.syncz()] == ["a.sample", "b.sample"]
    exec_calls = [call for call in fake_tools.calls("kubectl") if "exec" in call.args]
    assert exec_calls[0].args[-6:] == ("discovery", "--", "pilot-discovery", "request", "GET", "/debug/syncz")


def test_istiod_version_from_pilot_discovery(fake_tools: FakeTools, observer: Observer) -> None:
    kubectl = fake_tools.install("kubectl")
    kubectl.on(
        r"exec .* pilot-discovery version -o json", stdout=json.dumps({"clientVersion": {"version": fake.V}})
    )
    assert observer.istiod_reported_version(fake.istiod_pods()) == fake.V
    assert observer.istiod_reported_version(fake.as_list()) is None


def test_dry_run_sends_the_probe_and_keeps_the_answer(fake_tools: FakeTools, observer: Observer) -> None:
    kubectl = fake_tools.install("kubectl")
    denial = 'admission webhook "validation.istio.io" denied the request: configuration is invalid: x\n'
    kubectl.on(r"create --dry-run=server -o name -f -", stderr=denial, exit=1)
    probe = probes("sample", {})[0]
    outcome = observer.dry_run("remote", probe, {})
    assert outcome.returncode == 1
    assert outcome.stderr == denial
    assert yaml.safe_load(fake_tools.calls("kubectl")[-1].stdin) == probe.manifest


def test_get_of_absent_object_is_none(fake_tools: FakeTools, observer: Observer) -> None:
    fake_tools.install("kubectl")  # --ignore-not-found prints nothing for an absent object
    assert observer.gateway_service() is None
    assert "--ignore-not-found" in fake_tools.calls("kubectl")[-1].args
    assert observer.probe_leftovers("remote", probes("sample", {})) == []


def test_ingress_url_from_load_balancer(fake_tools: FakeTools, observer: Observer) -> None:
    kubectl = fake_tools.install("kubectl")
    kubectl.on(
        r"get service istio-ingressgateway -n external-istiod", stdout=out(fake.lb_service(ip="172.18.0.201"))
    )
    ingress = IngressExpectation("istio", "remote", "external-istiod", "istio-ingressgateway")
    assert observer.ingress_url(ingress) == "http://172.18.0.201:80/hello"
    kubectl.on(r"get service", stdout=out(fake.lb_service(ip=None)))
    gateway_api = IngressExpectation("gateway-api", "remote", "sample", "helloworld-gateway-istio")
    with pytest.raises(LookupError, match="has no LoadBalancer address"):
        observer.ingress_url(gateway_api)


def test_secret_summary_keeps_no_payload() -> None:
    summary = secret_summary(
        "istio-kubeconfig",
        "external-istiod",
        {"istio/multiCluster": "true"},
        {
            "networking.istio.io/cluster": "remote1",
            "kubectl.kubernetes.io/last-applied-configuration": "{secret}",
        },
        {"config": "YXBpVmVyc2lvbjogdjEKdG9rZW46IHNlY3JldA=="},
    )
    assert summary["dataKeys"] == ["config"]
    assert "secret" not in json.dumps(summary).replace("istio/multiCluster", "")
