"""Injection evaluators, proved both ways against API-shaped fake pods, webhooks and istiod syncz."""

from __future__ import annotations

from typing import Any

import pytest

from suites.evaluation.evaluators.injection import (
    GATEWAY_SYSTEM_ROOTS,
    InjectionProbe,
    evaluate_injection,
    evaluate_proxies_synced,
    find_sidecar,
)
from tests import checks_fakes as fake

D = fake.DIAGNOSTICS


def _inject(
    pods: fake.Obj,
    *,
    injectors: fake.Obj | None = None,
    mutating: fake.Obj | None = None,
    probe: InjectionProbe | None = None,
) -> Any:
    exp = fake.ip_passthrough()
    muts = mutating if mutating is not None else fake.healthy_webhooks(exp)[0]
    return evaluate_injection(
        "remote",
        pods,
        injectors or fake.as_list(),
        muts,
        exp,
        diagnostics=D,
        expected_hub="registry.istio.io/release",
        probe=probe,
    )


@pytest.mark.parametrize("form", ["native", "container"])
def test_healthy_pods_pass_in_both_sidecar_forms(form: fake.SidecarForm) -> None:
    verdict = _inject(fake.sample_pods(sidecar=form))
    assert verdict.ok, verdict.message
    assert ("native sidecar" if form == "native" else "sidecar container") in verdict.observed


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"sidecar": "none"}, "no istio-proxy container (the pod was not injected)"),
        ({"sidecar": "plain-init"}, "init container without restartPolicy: Always"),
        ({"tag": "1.29.6"}, f"is not proxyv2:{fake.V} (the release under test)"),
        ({"hub": "docker.io/istio"}, "is not from hub registry.istio.io/release"),
        ({"ready": False}, "not Ready (Ready=False (ContainersNotReady"),
        # A local injector: default discovery address (omitted from PROXY_CONFIG), default cluster id.
        (
            {"discovery": None, "cluster_id": "Kubernetes"},
            "discovery address is istiod.istio-system.svc:15012",
        ),
        ({"cluster_id": "Kubernetes"}, "injected for cluster 'Kubernetes', not 'remote1'"),
    ],
    ids=[
        "no-sidecar",
        "plain-init",
        "wrong-image",
        "wrong-hub",
        "not-ready",
        "local-injector",
        "wrong-cluster",
    ],
)
def test_unhealthy_pod_fails(overrides: dict[str, Any], expected: str) -> None:
    pods = fake.sample_pods()
    pods["items"][0] = fake.pod("helloworld-v1-776f57d5f6-s7zfc", app="helloworld", version="v1", **overrides)
    verdict = _inject(pods)
    assert not verdict.ok
    assert "pod sample/helloworld-v1-776f57d5f6-s7zfc" in verdict.message
    assert expected in verdict.message
    assert D in verdict.message
    assert verdict.evidence["remote-pods"] is pods  # the pod specs travel with the failure


def test_local_injector_pod_on_remote_fails() -> None:
    verdict = _inject(fake.sample_pods(), injectors=fake.as_list(fake.local_istiod_pod()))
    assert (
        "a local injector runs on the remote cluster: pod istio-system/istiod-6c8d7f8b9-abcde"
        in verdict.message
    )


def test_unexpected_injector_webhook_fails() -> None:
    exp = fake.ip_passthrough()
    muts = fake.healthy_webhooks(exp)[0]
    muts["items"].append(fake.mutating("istio-sidecar-injector", path="/inject"))
    verdict = _inject(fake.sample_pods(), mutating=muts)
    assert "unexpected sidecar injector webhook configuration istio-sidecar-injector" in verdict.message


def test_revision_tag_webhook_to_the_external_injector_passes() -> None:
    """``values.defaultRevision=default`` makes the remote profile render the revision tag's
    injector (seen on the kwok tier: istio-revision-tag-default-external-istiod, 4 webhooks,
    service external-istiod/istiod at the same injection path): the external injector's too."""
    exp = fake.ip_passthrough()
    muts = fake.healthy_webhooks(exp)[0]
    path = next(hook.path for hook in exp.webhooks["remote"] if hook.kind == "mutating")
    muts["items"].append(fake.mutating("istio-revision-tag-default-external-istiod", path=path))
    verdict = _inject(fake.sample_pods(), mutating=muts)
    assert verdict.ok, verdict.message


def test_missing_workloads_fail() -> None:
    verdict = _inject(fake.as_list())
    assert "no helloworld v1 pod in sample" in verdict.message
    assert "no curl client pod in sample" in verdict.message


def test_find_sidecar_forms() -> None:
    native, _ = find_sidecar(fake.pod("a", app="x", sidecar="native"))
    assert native is not None
    assert native.native
    container, _ = find_sidecar(fake.pod("a", app="x", sidecar="container"))
    assert container is not None
    assert not container.native
    assert find_sidecar(fake.pod("a", app="x", sidecar="none"))[0] is None


def test_synced_proxies_pass() -> None:
    pods = fake.sample_pods()
    verdict = evaluate_proxies_synced(
        "remote", pods, fake.syncz_for(pods), fake.ip_passthrough(), diagnostics=D
    )
    assert verdict.ok, verdict.message
    assert "helloworld-v1-776f57d5f6-s7zfc.sample: synced (cluster remote1)" in verdict.observed


def test_proxy_unknown_to_external_istiod_fails() -> None:
    pods = fake.sample_pods()
    syncz = fake.syncz_for(pods)[1:]  # istiod does not know the helloworld proxy
    verdict = evaluate_proxies_synced("remote", pods, syncz, fake.ip_passthrough(), diagnostics=D)
    assert not verdict.ok
    assert (
        "proxy helloworld-v1-776f57d5f6-s7zfc.sample is not connected to the external istiod"
        in verdict.message
    )
    assert verdict.evidence["remote-syncz"] == syncz


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            fake.syncz_entry("helloworld-v1-776f57d5f6-s7zfc.sample", stale="listener"),
            "LDS stale (sent 2026-12-01T09:46:25Z/101978ace6-660c-4a6a-811f-ebfd8e9a58e4, acked nothing)",
        ),
        (
            fake.syncz_entry("helloworld-v1-776f57d5f6-s7zfc.sample", "Kubernetes"),
            "connected as cluster 'Kubernetes'",
        ),
        (
            fake.syncz_entry("helloworld-v1-776f57d5f6-s7zfc.sample", version="1.29.6"),
            "proxy reports Istio 1.29.6",
        ),
    ],
    ids=["stale", "wrong-cluster", "old-proxy"],
)
def test_proxy_not_synced_fails(entry: fake.Obj, expected: str) -> None:
    pods = fake.sample_pods()
    syncz = [entry, *fake.syncz_for(pods)[1:]]
    verdict = evaluate_proxies_synced("remote", pods, syncz, fake.ip_passthrough(), diagnostics=D)
    assert not verdict.ok
    assert expected in verdict.message


def test_proxy_never_sent_config_fails() -> None:
    pods = fake.sample_pods()
    entry = fake.syncz_entry("helloworld-v1-776f57d5f6-s7zfc.sample")
    entry["cluster_sent"] = entry["cluster_acked"] = ""
    verdict = evaluate_proxies_synced(
        "remote", pods, [entry, *fake.syncz_for(pods)[1:]], fake.ip_passthrough(), diagnostics=D
    )
    assert "CDS never sent" in verdict.message


def test_no_injected_pods_is_not_a_pass() -> None:
    verdict = evaluate_proxies_synced("remote", fake.as_list(), [], fake.ip_passthrough(), diagnostics=D)
    assert not verdict.ok


def test_second_remote_proxies_checked_against_their_own_cluster() -> None:
    exp = fake.second_remote()
    pods = fake.sample_pods(("v2",), cluster_id=fake.SECOND_CLUSTER)
    good = evaluate_proxies_synced(
        "second", pods, fake.syncz_for(pods, fake.SECOND_CLUSTER), exp, diagnostics=D
    )
    assert good.ok, good.message
    bad = evaluate_proxies_synced(
        "second", pods, fake.syncz_for(pods, fake.REMOTE_CLUSTER), exp, diagnostics=D
    )
    assert "expected 'second1'" in bad.message
    injected = evaluate_injection(
        "second", pods, fake.as_list(), fake.healthy_webhooks(exp, "second")[0], exp, diagnostics=D
    )
    assert injected.ok, injected.message


def test_terminating_pods_are_ignored() -> None:
    pods = fake.sample_pods()
    leaving = fake.pod(
        "helloworld-v1-0ld0ld0ld-aaaaa", app="helloworld", version="v1", tag="1.29.6", ready=False
    )
    leaving["metadata"]["deletionTimestamp"] = "2026-04-23T10:11:12Z"
    pods["items"].append(leaving)
    assert _inject(pods).ok
    syncz = fake.syncz_for(fake.sample_pods())
    assert evaluate_proxies_synced("remote", pods, syncz, fake.ip_passthrough(), diagnostics=D).ok


# What the real API server answered a dry-run pod create on the kwok tier when the external
# istiod was down, and when the webhook's caBundle was not istiod's CA (kwok-tier.md).
REFUSED = (
    'Error from server (InternalError): error when creating "STDIN": Internal error occurred: failed '
    'calling webhook "namespace.sidecar-injector.istio.io": failed to call webhook: Post '
    '"https://istiod.external-istiod.svc:443/inject/cluster/remote1/net/network1?timeout=10s": '
    "dial tcp 172.18.0.200:15017: connect: connection refused"
)


def test_a_new_pod_injected_now_passes() -> None:
    probe_pod = fake.pod("eicp-injection-probe", app="eicp-injection-probe", ready=False)
    verdict = _inject(fake.sample_pods(), probe=InjectionProbe("remote", 0, probe_pod, ""))
    assert verdict.ok, verdict.message
    assert "a new pod is injected (dry run)" in verdict.observed


def test_a_new_pod_refused_by_the_webhook_fails_with_the_api_servers_error() -> None:
    verdict = _inject(fake.sample_pods(), probe=InjectionProbe("remote", 1, None, REFUSED))
    assert not verdict.ok
    assert "a new pod in sample (dry run) was not admitted" in verdict.message
    assert "connect: connection refused" in verdict.message


def test_a_new_pod_admitted_without_sidecar_fails() -> None:
    probe_pod = fake.pod("eicp-injection-probe", app="eicp-injection-probe", sidecar="none")
    verdict = _inject(fake.sample_pods(), probe=InjectionProbe("remote", 0, probe_pod, ""))
    assert "a new pod in sample (dry run): no istio-proxy container" in verdict.message


# The API server quotes the gateway's 503 body. Envoy's, as users quote it when an upstream's
# certificate is refused; the kwok tier's HAProxy stand-in's (clusters/kwok/haproxy_config.py).
WEBHOOK_503 = (
    'Error from server (InternalError): Internal error occurred: failed calling webhook "namespace.sidecar-injector.istio.io": '
    'failed to call webhook: an error on the server ("{body}") has prevented the request from succeeding'
)
ENVOY_REFUSED_ISTIOD = (
    "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, "
    "transport failure reason: TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end"
)
STAND_IN_REFUSED_ISTIOD = (
    "upstream connect error (eicp gateway stand-in, HAProxy): SSL handshake failure; "
    "TLS: error:0A000086:SSL routines::certificate verify failed"
)


@pytest.mark.parametrize(
    "body", [ENVOY_REFUSED_ISTIOD, STAND_IN_REFUSED_ISTIOD], ids=["envoy", "haproxy-stand-in"]
)
def test_a_webhook_call_refused_because_the_gateway_refused_istiod_is_the_known_issue(body: str) -> None:
    probe = InjectionProbe("remote", 1, None, WEBHOOK_503.format(body=body))
    verdict = _inject(fake.sample_pods(), probe=probe)
    assert verdict.problems == ()
    assert [finding.issue for finding in verdict.findings] == [GATEWAY_SYSTEM_ROOTS]
    assert body in verdict.findings[0].text


def test_the_api_servers_own_x509_error_is_no_finding() -> None:
    """The API server refusing the gateway's certificate (caBundle) is another failure."""
    stderr = 'failed calling webhook "x": tls: failed to verify certificate: x509: certificate signed by unknown authority'
    verdict = _inject(fake.sample_pods(), probe=InjectionProbe("remote", 1, None, stderr))
    assert verdict.findings == () and len(verdict.problems) == 1
