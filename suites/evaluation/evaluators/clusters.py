"""The clusters the external istiod registered, as istiod itself lists them (``/debug/clusterz``).

istiod's ``/debug/clusterz`` (Istio's ``pilot/pkg/xds/debug.go``, ``clusterz``; the list is
``pkg/kube/multicluster/secretcontroller.go``, ``ListRemoteClusters``) gives its config cluster
first (its ``CLUSTER_ID``, no secret), then one entry per cluster read from a remote secret:
``{"id", "secretName": "<namespace>/<name>", "syncStatus"}``. Every istiod replica must list
exactly the clusters the scenario registered (the config cluster and one per remote secret the
guide creates), each ``synced``.

One extra cluster is recognised by name: a cluster read from the config cluster's own
kubeconfig secret (``istio-kubeconfig``) is the config cluster registered a second time, the
known issue ``config-cluster-registered-twice`` (suites/known_issues.yaml).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scenarios.steps import Role
from suites.evaluation.evaluators.k8s import join
from suites.evaluation.evaluators.verdict import Finding, Verdict

CHECK = "controlplane/registered-clusters"
CONFIG_CLUSTER_TWICE = "config-cluster-registered-twice"  # its id in suites/known_issues.yaml
SYNCED = "synced"


def evaluate_registered_clusters(
    listed: Mapping[str, Any],
    expected: Mapping[str, str],
    config_secret: str | None,
    *,
    diagnostics: str,
) -> Verdict:
    """Judge each replica's ``/debug/clusterz``.

    ``listed``: istiod pod name -> its parsed clusterz (a list; anything else is a problem);
    ``expected``: cluster id -> the secret it must come from (``""`` for the config cluster);
    ``config_secret``: ``<namespace>/<name>`` of the config cluster's kubeconfig secret.
    """
    wanted = join([f"{cid} ({secret or 'the config cluster'})" for cid, secret in sorted(expected.items())])
    expected_text = f"every external istiod replica registers exactly {wanted}, each {SYNCED}"
    problems: list[str] = []
    findings: list[Finding] = []
    observed: list[str] = []
    if not listed:
        problems.append("no Ready external istiod pod to ask for /debug/clusterz")
    for pod, clusters in sorted(listed.items()):
        if not isinstance(clusters, list):
            problems.append(f"{pod}: /debug/clusterz is not a list: {str(clusters)[:200]}")
            continue
        seen = {str(c.get("id")): c for c in clusters if isinstance(c, dict)}
        observed.append(
            f"{pod}: "
            + join(
                [
                    f"{cid} ({c.get('secretName') or 'config cluster'}, {c.get('syncStatus')})"
                    for cid, c in sorted(seen.items())
                ]
            )
        )
        for cid, secret in sorted(expected.items()):
            entry = seen.get(cid)
            if entry is None:
                problems.append(f"{pod}: cluster {cid} ({secret or 'the config cluster'}) is not registered")
                continue
            if str(entry.get("secretName") or "") != secret:
                problems.append(
                    f"{pod}: cluster {cid} comes from {entry.get('secretName') or 'no secret'}, not {secret or 'no secret'}"
                )
            if entry.get("syncStatus") != SYNCED:
                problems.append(f"{pod}: cluster {cid} is {entry.get('syncStatus')}, not {SYNCED}")
        for cid in sorted(set(seen) - set(expected)):
            secret = str(seen[cid].get("secretName") or "")
            text = f"{pod}: cluster {cid!r} is registered from secret {secret or '(none)'}, which the scenario did not register"
            if config_secret and secret == config_secret:
                findings.append(
                    Finding(
                        CONFIG_CLUSTER_TWICE,
                        f"{text}: it is the config cluster's own kubeconfig, so istiod watches the config "
                        "cluster twice and sends each of its endpoints twice",
                    )
                )
            else:
                problems.append(text)
    return Verdict(
        CHECK,
        expected_text,
        "; ".join(observed) or "nothing listed",
        diagnostics,
        problems=tuple(problems),
        findings=tuple(findings),
        evidence_always={"istiod /debug/clusterz": dict(listed)},
    )


def registered_by_scenario(
    cluster_names: Mapping[Role, str],
    remote_secrets: Mapping[Role, tuple[str, str]],
    config_clusters: tuple[Role, ...],
) -> tuple[dict[str, str], str | None]:
    """(cluster id -> the secret istiod reads it from, the config cluster's secret) for a
    scenario: the config cluster is istiod's own (no secret: its kubeconfig is mounted), every
    other cluster comes from its remote secret."""
    expected: dict[str, str] = {}
    config_secret: str | None = None
    for role, name in cluster_names.items():
        namespace, secret = remote_secrets.get(role, ("", ""))
        if role in config_clusters:
            expected[name] = ""
            config_secret = f"{namespace}/{secret}" if secret else None
        else:
            expected[name] = f"{namespace}/{secret}"
    return expected, config_secret
