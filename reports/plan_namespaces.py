"""Which namespaces a scenario's plan creates or applies into: where diagnostics look."""

from __future__ import annotations

from scenarios.steps import Action, ScenarioPlan


def namespaces_from_plan(plan: ScenarioPlan) -> dict[str, set[str]]:
    """The namespaces a scenario plan creates or applies into, per role."""
    found: dict[str, set[str]] = {}
    for step in plan.steps:
        names = found.setdefault(step.role, set())
        if step.action is Action.CREATE_NAMESPACE and step.params.get("namespace"):
            names.add(str(step.params["namespace"]))
        for manifest in step.manifests:
            metadata = manifest.get("metadata", {})
            if manifest.get("kind") == "Namespace" and metadata.get("name"):
                names.add(str(metadata["name"]))
            elif metadata.get("namespace"):
                names.add(str(metadata["namespace"]))
    return found
