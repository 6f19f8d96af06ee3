"""Where ``istioctl install`` on a remote makes the default revision tag that the guide's listing
of that cluster's webhooks does not show.

After installing, ``istioctl install`` of an IstioOperator that leaves
``values.global.operatorManageWebhooks`` unset makes the default revision tag's webhooks when
the cluster has none yet, or always for the default revision, deactivating the injector it
copies (istio/istio operator/pkg/install/install.go ``Install`` -> operator/pkg/webhook/webhook.go
``WebhooksToDeploy``, ``detectIfTagWebhookIsNeeded``). A remote whose listing names no tag and
on which the plan runs such an install (the remote profile itself, or a gateway's IstioOperator
later on) ends with a tag the listing omits: known issue
``remote-injection-moved-to-unlisted-revision-tag`` (suites/known_issues.yaml).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from scenarios.common import REVISION_TAG_WEBHOOK, RenderedScenario
from scenarios.steps import Action, Step


def with_unlisted_tag_expectation(rendered: RenderedScenario) -> RenderedScenario:
    """``rendered`` with ``istioctl_install_adds_unlisted_revision_tag`` set from its plan."""
    exp = rendered.expectations
    unlisted = {
        role
        for role, hooks in exp.webhooks.items()
        if REVISION_TAG_WEBHOOK not in {hook.name for hook in hooks if hook.kind == "mutating"}
    }
    adds = any(step.role in unlisted and makes_default_tag(step) for step in rendered.plan.steps)
    return replace(rendered, expectations=replace(exp, istioctl_install_adds_unlisted_revision_tag=adds))


def makes_default_tag(step: Step) -> bool:
    """An ``istioctl install`` whose IstioOperator and ``--set`` values leave
    ``operatorManageWebhooks`` unset and install the default revision."""
    if step.action is not Action.ISTIOCTL_INSTALL:
        return False
    values: dict[str, Any] = {}
    for manifest in step.manifests:
        if manifest.get("kind") == "IstioOperator":
            values = (manifest.get("spec") or {}).get("values") or {}
    sets = dict(_split(step.params.get("set") or ()))
    manage = sets.get(
        "values.global.operatorManageWebhooks", (values.get("global") or {}).get("operatorManageWebhooks")
    )
    revision = sets.get("values.revision", values.get("revision"))
    return str(manage).lower() != "true" and not revision


def _split(sets: Iterable[str]) -> Iterable[tuple[str, str]]:
    for item in sets:
        key, _, value = str(item).partition("=")
        yield key, value
