"""Control plane evaluators, proved both ways against API-shaped fake state."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from scenarios.steps import Role
from suites.evaluation.evaluators.clusters import (
    CONFIG_CLUSTER_TWICE,
    evaluate_registered_clusters,
    registered_by_scenario,
)
from suites.evaluation.evaluators.controlplane import (
    evaluate_gateway,
    evaluate_istiod,
    evaluate_remote_secrets,
    evaluate_webhooks,
)
from suites.evaluation.evaluators.verdict import Verdict
from tests import checks_fakes as fake

D = fake.DIAGNOSTICS


def test_istiod_healthy_passes() -> None:
    verdict = evaluate_istiod(
        fake.istiod_deployment(), fake.istiod_pods(), fake.V, fake.ip_passthrough(), diagnostics=D
    )
    assert verdict.ok, verdict.message
    assert "Available=True" in verdict.observed


@pytest.mark.parametrize(
    ("deployment", "pods", "version", "expected"),
    [
        (None, fake.istiod_pods(), fake.V, "no Deployment external-istiod/istiod"),
        (fake.istiod_deployment(available=False), fake.istiod_pods(), fake.V, "not Available"),
        (fake.istiod_deployment("1.29.6"), fake.istiod_pods(), fake.V, f"not tagged {fake.V}"),
        (
            fake.istiod_deployment(),
            fake.istiod_pods("1.29.6"),
            fake.V,
            "runs registry.istio.io/release/pilot:1.29.6",
        ),
        (fake.istiod_deployment(), fake.as_list(), fake.V, "no running istiod pod"),
        (fake.istiod_deployment(), fake.istiod_pods(), "1.29.6", "pilot-discovery reports version 1.29.6"),
    ],
    ids=["missing", "unavailable", "old-template", "old-pod", "no-pods", "old-version-reported"],
)
def test_istiod_unhealthy_fails(
    deployment: fake.Obj | None, pods: fake.Obj, version: str, expected: str
) -> None:
    verdict = evaluate_istiod(deployment, pods, version, fake.ip_passthrough(), diagnostics=D)
    assert not verdict.ok
    assert expected in verdict.message
    assert D in verdict.message  # every failure names the diagnostics directory


def test_istiod_custom_build_skips_reported_version_only() -> None:
    exp = fake.ip_passthrough()
    lenient = evaluate_istiod(
        fake.istiod_deployment(),
        fake.istiod_pods(),
        "1.31-dev",
        exp,
        diagnostics=D,
        check_reported_version=False,
    )
    assert lenient.ok, lenient.message
    strict_tag = evaluate_istiod(
        fake.istiod_deployment("other"),
        fake.istiod_pods(),
        "1.31-dev",
        exp,
        diagnostics=D,
        check_reported_version=False,
    )
    assert not strict_tag.ok


def test_istiod_rollout_in_progress_fails() -> None:
    deployment = fake.istiod_deployment(replicas=2)
    deployment["status"]["updatedReplicas"] = 1
    verdict = evaluate_istiod(deployment, fake.istiod_pods(), fake.V, fake.ip_passthrough(), diagnostics=D)
    assert "rollout incomplete: 1 updated / 2 available of 2 replicas" in verdict.message


def test_gateway_with_address_passes() -> None:
    assert evaluate_gateway(fake.lb_service(), fake.ip_passthrough(), diagnostics=D).ok


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        (None, "no Service istio-system/istio-ingressgateway"),
        (fake.lb_service(ip=None), "has no ingress address"),
        (fake.lb_service(ip="172.18.0.201"), "proxies are told to reach istiod at 172.18.0.200"),
    ],
    ids=["missing", "pending", "other-address"],
)
def test_gateway_without_the_address_fails(service: fake.Obj | None, expected: str) -> None:
    verdict = evaluate_gateway(service, fake.ip_passthrough(), diagnostics=D)
    assert not verdict.ok
    assert expected in verdict.message


def test_gateway_hostname_discovery_accepts_any_address() -> None:
    exp = replace(fake.ip_passthrough(), discovery_address="istiod.eicp.example:15012")
    assert evaluate_gateway(fake.lb_service(ip="172.18.0.201"), exp, diagnostics=D).ok


UIDS: dict[Role, str | None] = {"remote": fake.KUBE_SYSTEM_UID}


def test_remote_secret_as_istioctl_writes_it_passes() -> None:
    """Type config without --name: annotated with the remote's kube-system UID, keyed "config"."""
    verdict = evaluate_remote_secrets(
        {"remote": fake.remote_secret_meta()}, fake.ip_passthrough(), diagnostics=D, cluster_uids=UIDS
    )
    assert verdict.ok, verdict.message


def test_remote_secret_named_by_cluster_passes() -> None:
    """Type config with --name (the annotation then holds the cluster name)."""
    secret = fake.remote_secret_meta(cluster=fake.REMOTE_CLUSTER)
    assert evaluate_remote_secrets({"remote": secret}, fake.ip_passthrough(), diagnostics=D).ok


def test_remote_secret_uid_not_taken_for_granted() -> None:
    """Without the remote's UID to compare, a UID-annotated secret is not proven to be the remote's."""
    verdict = evaluate_remote_secrets(
        {"remote": fake.remote_secret_meta()}, fake.ip_passthrough(), diagnostics=D
    )
    assert not verdict.ok
    assert f"is for cluster {fake.KUBE_SYSTEM_UID!r}" in verdict.message


def test_remote_secret_of_type_remote_keyed_by_cluster_passes() -> None:
    exp = fake.second_remote()
    secrets: dict[Role, fake.Obj | None] = {
        "remote": fake.remote_secret_meta(),
        "second": fake.remote_secret_meta(
            "istio-remote-secret-second1", fake.SECOND_CLUSTER, fake.SECOND_CLUSTER
        ),
    }
    assert evaluate_remote_secrets(secrets, exp, diagnostics=D, cluster_uids=UIDS).ok


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        (None, "no Secret external-istiod/istio-kubeconfig"),
        ({**fake.remote_secret_meta(), "dataKeys": []}, "holds no kubeconfig"),
        (fake.remote_secret_meta(cluster="someone-else"), "is for cluster 'someone-else'"),
        (fake.remote_secret_meta(key=fake.KUBE_SYSTEM_UID), "has no kubeconfig key 'config'"),
    ],
    ids=["missing", "empty", "other-cluster", "config-secret-keyed-by-uid"],
)
def test_remote_secret_wrong_fails(secret: fake.Obj | None, expected: str) -> None:
    verdict = evaluate_remote_secrets(
        {"remote": secret}, fake.ip_passthrough(), diagnostics=D, cluster_uids=UIDS
    )
    assert not verdict.ok
    assert expected in verdict.message


def test_remote_secret_of_type_remote_keyed_otherwise_fails() -> None:
    exp = fake.second_remote()
    secrets: dict[Role, fake.Obj | None] = {
        "remote": fake.remote_secret_meta(),
        "second": fake.remote_secret_meta("istio-remote-secret-second1", fake.SECOND_CLUSTER, "config"),
    }
    verdict = evaluate_remote_secrets(secrets, exp, diagnostics=D, cluster_uids=UIDS)
    assert f"has no kubeconfig key {fake.SECOND_CLUSTER!r}" in verdict.message


def test_remote_secret_without_label_fails() -> None:
    secret = fake.remote_secret_meta()
    secret["metadata"]["labels"] = {}
    verdict = evaluate_remote_secrets({"remote": secret}, fake.ip_passthrough(), diagnostics=D)
    assert "lacks label istio/multiCluster=true" in verdict.message


def test_the_config_secret_is_unlabelled_exactly_when_the_workaround_is_applied() -> None:
    worked_around = replace(fake.ip_passthrough(), config_secret_multicluster_label=False)
    unlabelled = fake.remote_secret_meta()
    unlabelled["metadata"]["labels"] = {}
    assert evaluate_remote_secrets({"remote": unlabelled}, worked_around, diagnostics=D, cluster_uids=UIDS).ok
    verdict = evaluate_remote_secrets(
        {"remote": fake.remote_secret_meta()}, worked_around, diagnostics=D, cluster_uids=UIDS
    )
    assert "which the unlabelled-config-secret workaround removes" in verdict.message


CLUSTERZ = json.loads((Path(__file__).parent / "goldens" / "xds" / "clusterz-second-remote.json").read_text())
RUN = "eicp-1206073217bo"  # the kwok tier run clusterz-second-remote.json was recorded from


def registered(clusters: list[dict[str, str]], **changes: object) -> Verdict:
    exp = replace(
        fake.second_remote(),
        cluster_names={"remote": f"{RUN}-remote", "second": f"{RUN}-second"},
        remote_secrets={
            "remote": ("external-istiod", "istio-kubeconfig"),
            "second": ("external-istiod", f"istio-remote-secret-{RUN}-second"),
        },
        **changes,  # type: ignore[arg-type]
    )
    expected, config_secret = registered_by_scenario(
        exp.cluster_names, exp.remote_secrets, exp.config_clusters
    )
    return evaluate_registered_clusters({"istiod-1": clusters}, expected, config_secret, diagnostics=D)


def test_registered_clusters_as_a_real_istiod_lists_them_show_the_known_issue_only() -> None:
    """clusterz as the real external istiod answered on the kwok tier: the config cluster, the
    second remote, and `config` from istio-kubeconfig (the known issue, recognised by name)."""
    verdict = registered(CLUSTERZ)
    assert verdict.problems == ()
    assert [finding.issue for finding in verdict.findings] == [CONFIG_CLUSTER_TWICE]
    assert (
        "cluster 'config' is registered from secret external-istiod/istio-kubeconfig"
        in verdict.findings[0].text
    )
    without_config = [entry for entry in CLUSTERZ if entry["id"] != "config"]
    assert registered(without_config).ok


def test_registered_clusters_missing_unsynced_or_unknown_are_plain_problems() -> None:
    second = f"{RUN}-second"
    broken = [
        {**entry, "syncStatus": "timeout"} if entry["id"] == second else entry
        for entry in CLUSTERZ
        if entry["id"] != "config"
    ]
    assert registered(broken).problems == (f"istiod-1: cluster {second} is timeout, not synced",)
    stranger = [*CLUSTERZ[:1], {"id": "other", "secretName": "external-istiod/other", "syncStatus": "synced"}]
    problems = registered(stranger).problems
    assert (
        f"istiod-1: cluster {second} (external-istiod/istio-remote-secret-{second}) is not registered"
        in problems
    )
    assert any("cluster 'other' is registered from secret external-istiod/other" in p for p in problems)
    assert (
        registered([])
        .problems[0]
        .startswith(f"istiod-1: cluster {RUN}-remote (the config cluster) is not registered")
    )
    assert evaluate_registered_clusters({}, {}, None, diagnostics=D).problems == (
        "no Ready external istiod pod to ask for /debug/clusterz",
    )


def test_webhooks_as_expected_pass() -> None:
    exp = fake.ip_passthrough()
    muts, vals = fake.healthy_webhooks(exp)
    verdict = evaluate_webhooks("remote", muts, vals, exp.webhooks["remote"], diagnostics=D)
    assert verdict.ok, verdict.message
    assert "istio-sidecar-injector-external-istiod(4)" in verdict.observed


def test_webhooks_the_current_guide_lists_include_the_default_revision_tag() -> None:
    """Today's guide installs the config cluster with istioctl install, which creates the default
    revision tag's injector beside the remote profile's: its listing names both; seed 001's only
    the injector."""
    current, seeded = fake.ip_passthrough(), fake.ip_passthrough(guide="001")
    names = {hook.name for hook in current.webhooks["remote"] if hook.kind == "mutating"}
    assert names == {"istio-sidecar-injector-external-istiod", "istio-revision-tag-default-external-istiod"}
    assert {hook.name for hook in seeded.webhooks["remote"] if hook.kind == "mutating"} == {
        "istio-sidecar-injector-external-istiod"
    }
    muts, vals = fake.healthy_webhooks(current)
    muts["items"] = [
        m for m in muts["items"] if m["metadata"]["name"] != "istio-revision-tag-default-external-istiod"
    ]
    verdict = evaluate_webhooks("remote", muts, vals, current.webhooks["remote"], diagnostics=D)
    assert (
        "mutating webhook configuration istio-revision-tag-default-external-istiod is missing"
        in verdict.message
    )
    assert evaluate_webhooks("remote", muts, vals, seeded.webhooks["remote"], diagnostics=D).ok


def test_webhooks_url_variant_pass_and_path_mismatch_fails() -> None:
    exp = fake.ip_passthrough()
    url = "https://istiod.eicp.example:15017/inject/cluster/remote1/net/network1"
    hooks = (replace(exp.webhooks["remote"][0], url=url, path=None),)
    good = evaluate_webhooks(
        "remote", fake.as_list(fake.mutating(url=url)), fake.as_list(), hooks, diagnostics=D
    )
    assert good.ok, good.message
    bad = evaluate_webhooks(
        "remote",
        fake.as_list(fake.mutating(path="/inject/cluster/remote1/net/network1")),
        fake.as_list(),
        hooks,
        diagnostics=D,
    )
    assert f"expected url {url}" in bad.message


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        ("drop-mutating", "mutating webhook configuration istio-sidecar-injector-external-istiod is missing"),
        ("no-ca-bundle", "has no caBundle"),
        (
            "wrong-path",
            "calls path /inject/cluster/Kubernetes/net/network1, expected /inject/cluster/remote1",
        ),
        ("three-webhooks", "has 3 webhook(s), expected 4"),
        (
            "validator-url",
            "calls url https://10.0.0.1:15017/validate, expected a service with path /validate",
        ),
    ],
)
def test_webhooks_broken_fail(breakage: str, expected: str) -> None:
    exp = fake.ip_passthrough()
    muts, vals = fake.healthy_webhooks(exp)
    path = "/inject/cluster/remote1/net/network1"
    if breakage == "drop-mutating":
        muts = fake.as_list()
    elif breakage == "no-ca-bundle":
        vals["items"][0] = fake.validating(
            "istio-validator-external-istiod", ca_bundle=None, rev_selector=True
        )
    elif breakage == "wrong-path":
        muts = fake.as_list(fake.mutating(path="/inject/cluster/Kubernetes/net/network1"))
    elif breakage == "three-webhooks":
        muts = fake.as_list(fake.mutating(path=path, count=3))
    elif breakage == "validator-url":
        vals["items"][1] = fake.validating(
            "istiod-default-validator", url="https://10.0.0.1:15017/validate", path=None
        )
    verdict = evaluate_webhooks("remote", muts, vals, exp.webhooks["remote"], diagnostics=D)
    assert not verdict.ok
    assert expected in verdict.message
    assert verdict.evidence  # the observed configurations travel with the failure


def test_webhooks_ca_bundle_not_required_passes_without_one() -> None:
    exp = fake.ip_passthrough()
    hooks = tuple(replace(hook, ca_bundle_required=False) for hook in exp.webhooks["remote"])
    muts = fake.as_list(
        *(
            fake.mutating(hook.name, path="/inject/cluster/remote1/net/network1", ca_bundle=None)
            for hook in hooks
            if hook.kind == "mutating"
        )
    )
    vals = fake.as_list(
        fake.validating("istio-validator-external-istiod", ca_bundle=None),
        fake.validating("istiod-default-validator", ca_bundle=None),
    )
    assert evaluate_webhooks("remote", muts, vals, hooks, diagnostics=D).ok
