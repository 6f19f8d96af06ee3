"""The remote profile's webhook configurations (manifests/charts/istio-control/istio-discovery/
templates upstream): mutating and validating, by service or URL, and the healthy set a
scenario's expectations describe."""

from __future__ import annotations

from scenarios.expectations import ScenarioExpectations
from tests.checks_fakes_release import CA_BUNDLE, Obj, as_list


def _client_config(
    url: str | None, path: str | None, ca_bundle: str | None, namespace: str = "external-istiod"
) -> Obj:
    client: Obj = {}
    if url:
        client["url"] = url
    else:
        client["service"] = {"name": "istiod", "namespace": namespace, "path": path, "port": 443}
    if ca_bundle:
        client["caBundle"] = ca_bundle
    return client


def mutating(
    name: str = "istio-sidecar-injector-external-istiod",
    *,
    url: str | None = None,
    path: str | None = None,
    ca_bundle: str | None = CA_BUNDLE,
    count: int = 4,
    service_namespace: str = "external-istiod",
) -> Obj:
    prefixes = ["rev.namespace.", "rev.object.", "namespace.", "object."][:count]
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name, "labels": {"app": "sidecar-injector", "istio.io/rev": "default"}},
        "webhooks": [
            {
                "name": f"{prefix}sidecar-injector.istio.io",
                "admissionReviewVersions": ["v1"],
                "clientConfig": _client_config(url, path, ca_bundle, service_namespace),
                "failurePolicy": "Fail",
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                    }
                ],
                "sideEffects": "None",
            }
            for prefix in prefixes
        ],
    }


def validating(
    name: str,
    *,
    url: str | None = None,
    path: str | None = "/validate",
    ca_bundle: str | None = CA_BUNDLE,
    rev_selector: bool = False,
) -> Obj:
    webhook: Obj = {
        "name": "rev.validation.istio.io" if rev_selector else "validation.istio.io",
        "admissionReviewVersions": ["v1"],
        "clientConfig": _client_config(url, path, ca_bundle),
        "failurePolicy": "Fail",
        "rules": [
            {
                "apiGroups": [
                    "security.istio.io",
                    "networking.istio.io",
                    "telemetry.istio.io",
                    "extensions.istio.io",
                ],
                "apiVersions": ["*"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["*"],
            }
        ],
        "sideEffects": "None",
    }
    if rev_selector:
        webhook["objectSelector"] = {
            "matchExpressions": [{"key": "istio.io/rev", "operator": "In", "values": ["default"]}]
        }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name, "labels": {"app": "istiod", "istio.io/rev": "default"}},
        "webhooks": [webhook],
    }


def healthy_webhooks(exp: ScenarioExpectations, role: str = "remote") -> tuple[Obj, Obj]:
    """(mutating, validating) lists exactly as the expectations for ``role`` describe them."""
    muts, vals = [], []
    for hook in exp.webhooks[role]:  # type: ignore[index]
        if hook.kind == "mutating":
            muts.append(mutating(hook.name, url=hook.url, path=hook.path, count=hook.webhook_count))
        else:
            vals.append(
                validating(
                    hook.name,
                    url=hook.url,
                    path=hook.path,
                    rev_selector=hook.name.startswith("istio-validator"),
                )
            )
    return as_list(*muts), as_list(*vals)
