"""An injector the guide lists that ``istioctl install`` deactivated for a revision tag it does not.

``istioctl install`` of an IstioOperator that leaves ``operatorManageWebhooks`` unset, on a
cluster with no default revision tag yet, makes the default tag's webhooks after the install
(istio/istio operator/pkg/install/install.go ``Install`` -> operator/pkg/webhook/webhook.go
``WebhooksToDeploy``); making the default tag first deactivates the revision's own injector,
every webhook's selectors set to ``istio.io/deactivated`` (istioctl/pkg/tag/generate.go
``Generate`` -> util.go ``DeactivateIstioInjectionWebhook``). Where the guide's listing of a
cluster names only that injector, the listing shows what injects nothing and omits what does.
Told apart by the objects' own labels: a revision tag's configuration carries ``istio.io/tag``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scenarios.expectations import WebhookExpectation
from scenarios.steps import Role
from suites.evaluation.evaluators.k8s import Obj
from suites.evaluation.evaluators.verdict import Finding

# The known issue's id in suites/known_issues.yaml.
UNLISTED_REVISION_TAG = "remote-injection-moved-to-unlisted-revision-tag"
TAG_LABEL = "istio.io/tag"  # istioctl/pkg/tag: every tag's webhook configuration carries it
DEACTIVATED_LABEL = "istio.io/deactivated"  # istioctl/pkg/util NeverMatch's key


def unlisted_revision_tag(
    role: Role, mutating: Mapping[str, Obj], expectations: tuple[WebhookExpectation, ...]
) -> Finding | None:
    """The finding where every listed injector is deactivated and a revision tag's configuration
    the listing does not name is what injects; None otherwise (the check judges the rest)."""
    listed = [e.name for e in expectations if e.kind == "mutating"]
    tags = sorted(
        name
        for name, config in mutating.items()
        if name not in listed and TAG_LABEL in ((config.get("metadata") or {}).get("labels") or {})
    )
    if not tags or not listed or not all(_deactivated(mutating.get(name)) for name in listed):
        return None
    made = ", ".join(f"{name} ({len(mutating[name].get('webhooks') or [])} webhooks)" for name in tags)
    return Finding(
        UNLISTED_REVISION_TAG,
        f"{role}: the guide lists {', '.join(listed)}, which istioctl install deactivated (every "
        f"webhook's selectors carry {DEACTIVATED_LABEL}); sidecars are injected through {made}, "
        "which the guide does not list",
    )


def _deactivated(config: Obj | None) -> bool:
    webhooks = (config or {}).get("webhooks") or []
    return bool(webhooks) and all(
        _never_matches(hook.get("namespaceSelector")) and _never_matches(hook.get("objectSelector"))
        for hook in webhooks
    )


def _never_matches(selector: Mapping[str, Any] | None) -> bool:
    return DEACTIVATED_LABEL in ((selector or {}).get("matchLabels") or {})
