"""The upgrade's restarts of the gateways istiod injects: their pods keep release A's proxy until
they are replaced (install/upgrade.py adds them to ``scenarios.upgrade.plan_upgrade``'s plan)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from run.timeouts import UPGRADE_GATEWAY
from scenarios.egress import GATEWAY_CHART
from scenarios.steps import Action, Role, ScenarioPlan, Step
from scenarios.upgrade import Restart

GATEWAY_RESTART_SEED = "upgrade: restart the gateway-injected gateways so they run release B's proxy"
_ISTIO_NS_SETTING = "values.global.istioNamespace="


def gateway_restarts(plan: ScenarioPlan, skip: Iterable[tuple[Role, str]] = ()) -> tuple[Restart, ...]:
    """Restarts for the gateways istiod injects (``inject.istio.io/templates: gateway``) outside
    the external cluster: the remote ingress, egress and east-west gateways, whether an
    IstioOperator, a plain Deployment or Istio's gateway Helm chart makes them. Their pods keep
    A's proxy until they are replaced. Each waits with B's own rollout wait when B's plan has one."""
    known = set(skip)
    waits = {
        (step.role, str(step.params.get("namespace")), str(step.params.get("resource"))): step
        for step in plan.steps
        if step.action is Action.WAIT
    }
    restarts: list[Restart] = []
    for step in plan.steps:
        if step.role == "external":
            continue
        for namespace, name in _injected_gateways(step):
            if (step.role, name) in known:
                continue
            known.add((step.role, name))
            wait = waits.get((step.role, namespace, f"deployment/{name}")) or Step(
                f"{step.role}-wait-{name}-rollout",
                step.role,
                Action.WAIT,
                GATEWAY_RESTART_SEED,
                params={
                    "resource": f"deployment/{name}",
                    "namespace": namespace,
                    "for": "condition=Available",
                    "deadline_s": UPGRADE_GATEWAY.seconds(),
                },
            )
            restarts.append(Restart(step.role, namespace, name, GATEWAY_RESTART_SEED, wait))
    return tuple(restarts)


def _injected_gateways(step: Step) -> list[tuple[str, str]]:
    """(namespace, Deployment) of each gateway-injected gateway ``step`` makes."""
    if step.action in (Action.ISTIOCTL_INSTALL, Action.MANIFEST_GENERATE_APPLY):
        settings = [str(item) for item in step.params.get("set") or ()]
        istio_ns = next(
            (item.split("=", 1)[1] for item in settings if item.startswith(_ISTIO_NS_SETTING)), None
        )
        return [found for manifest in step.manifests for found in _operator_gateways(manifest, istio_ns)]
    if step.action is Action.APPLY:
        return [found for manifest in step.manifests for found in _gateway_deployment(manifest)]
    if step.action is Action.HELM_INSTALL and step.params.get("chart") == GATEWAY_CHART:
        # Istio's gateway chart: a gateway-injected Deployment named after the Helm release.
        return [(str(step.params["namespace"]), str(step.params["release"]))]
    return []


def _operator_gateways(manifest: Mapping[str, Any], istio_ns: str | None) -> list[tuple[str, str]]:
    if manifest.get("kind") != "IstioOperator":
        return []
    spec = manifest.get("spec") or {}
    default_ns = str(spec.get("namespace") or istio_ns or "istio-system")
    components = spec.get("components") or {}
    found = []
    for key in ("ingressGateways", "egressGateways"):
        for gateway in components.get(key) or ():
            if gateway.get("enabled") and gateway.get("name"):
                found.append((str(gateway.get("namespace") or default_ns), str(gateway["name"])))
    return found


def _gateway_deployment(manifest: Mapping[str, Any]) -> list[tuple[str, str]]:
    if manifest.get("kind") != "Deployment":
        return []
    template = ((manifest.get("spec") or {}).get("template") or {}).get("metadata") or {}
    templates = str((template.get("annotations") or {}).get("inject.istio.io/templates", ""))
    if "gateway" not in templates.split(","):
        return []
    metadata = manifest.get("metadata") or {}
    return [(str(metadata.get("namespace") or "default"), str(metadata.get("name")))]
