"""The external cluster's own admission webhooks, after the external istiod's install.

istio.io's doc test for the page checks, right after ``istioctl install -f external-istiod.yaml``,
that ``kubectl get mutatingwebhookconfiguration --context=$CTX_EXTERNAL_CLUSTER`` does not
contain ``external-istiod``: the external istiod serves the remote clusters' injection only
(``operatorManageWebhooks: true``, its webhook configuration names pointed at the remote's),
and pods of the external cluster itself keep being injected, if at all, by that cluster's own
istiod. This evaluator applies the doc test's rule (no configuration named for the external
istiod's namespace) and what it stands for (no mutating webhook of the external cluster calls
the external istiod: a service in its namespace, or a URL at its address).
"""

from __future__ import annotations

from scenarios.expectations import ScenarioExpectations
from suites.evaluation.evaluators.k8s import Obj, host_of, items, join
from suites.evaluation.evaluators.verdict import Verdict

CHECK = "controlplane/external-cluster-webhooks"


def evaluate_external_webhooks(
    mutating: Obj | None, exp: ScenarioExpectations, *, diagnostics: str
) -> Verdict:
    """No mutating webhook configuration of the external cluster belongs to the external istiod."""
    namespace = exp.external_namespace
    discovery_host = host_of(exp.discovery_address) if exp.discovery_address else ""
    problems: list[str] = []
    observed: list[str] = []
    for config in items(mutating):
        name = str((config.get("metadata") or {}).get("name", "<unnamed>"))
        targets = [_target(hook.get("clientConfig") or {}) for hook in config.get("webhooks") or []]
        observed.append(f"{name} -> {join(sorted(set(targets)))}")
        if namespace in name:
            problems.append(
                f"mutating webhook configuration {name} is named for {namespace} on the external cluster "
                "(istio.io's doc test: the external istiod's install must not add one there)"
            )
        for hook, target in zip(config.get("webhooks") or [], targets, strict=True):
            if _calls_external_istiod(hook.get("clientConfig") or {}, namespace, discovery_host):
                problems.append(
                    f"webhook {hook.get('name', '<unnamed>')} of {name} calls the external istiod ({target}): "
                    "pods of the external cluster would be injected by the remote clusters' control plane"
                )
    return Verdict(
        CHECK,
        f"external cluster: no mutating webhook configuration named for {namespace} and none calling "
        f"the external istiod (a service in {namespace}"
        + (f" or a URL at {discovery_host}" if discovery_host else "")
        + "); the external istiod's install leaves the cluster's own webhooks alone",
        f"external cluster: mutating {join(observed)}",
        diagnostics,
        problems=tuple(problems),
        evidence={"external-mutating-webhook-configurations": mutating or {}},
    )


def _target(client: Obj) -> str:
    if client.get("url"):
        return str(client["url"])
    service = client.get("service") or {}
    return f"service {service.get('namespace')}/{service.get('name')}{service.get('path', '')}"


def _calls_external_istiod(client: Obj, namespace: str, discovery_host: str) -> bool:
    service = client.get("service") or {}
    if service.get("namespace") == namespace:
        return True
    url = str(client.get("url") or "")
    if not url:
        return False
    authority = url.split("://", 1)[-1].split("/", 1)[0]
    host = host_of(authority)
    return host == discovery_host or host.endswith(f".{namespace}.svc") or f".{namespace}.svc." in host
