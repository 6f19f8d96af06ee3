"""Reading Kubernetes objects as the API returns them (plain dicts from ``kubectl -o json``).

Pure functions, no I/O: conditions, LoadBalancer addresses, rollout status and staleness
(``observedGeneration``). The installer's waits, the cluster lifecycle and the checks'
evaluators all read objects through these, so "Available", "has an address" and "rolled out"
mean the same thing everywhere.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

DEPLOYMENT_PREFIXES = ("deployment/", "deployments/", "deployment.apps/", "deployments.apps/")


def items(obj_or_list: Obj | None) -> list[Obj]:
    """The items of a ``List`` object (``kubectl get ... -o json``), or ``[obj]`` for one object."""
    if obj_or_list is None:
        return []
    if obj_or_list.get("kind", "").endswith("List") or "items" in obj_or_list:
        return list(obj_or_list.get("items") or [])
    return [obj_or_list]


def name_of(obj: Obj) -> str:
    """``namespace/name`` (or ``name`` for a cluster-scoped object)."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    name = meta.get("name", "<unnamed>")
    return f"{namespace}/{name}" if namespace else str(name)


def condition(obj: Obj, kind: str) -> Obj | None:
    """The status condition of type ``kind``, or None."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def condition_status(obj: Obj, kind: str) -> str | None:
    """``"True"``/``"False"``/``"Unknown"`` of the condition, None when it is absent."""
    cond = condition(obj, kind)
    status = cond.get("status") if cond is not None else None
    return str(status) if status is not None else None


def condition_true(obj: Obj, kind: str) -> bool:
    return condition_status(obj, kind) == "True"


def describe_condition(obj: Obj, kind: str) -> str:
    """``Ready=False (Reason: message)`` or ``no Ready condition``, for messages."""
    cond = condition(obj, kind)
    if cond is None:
        return f"no {kind} condition"
    text = f"{kind}={cond.get('status')}"
    if cond.get("reason"):
        text += f" ({cond['reason']}"
        text += f": {cond['message']})" if cond.get("message") else ")"
    return text


def lb_addresses(service: Obj) -> list[str]:
    """Every address (IP or hostname) in a Service's ``status.loadBalancer.ingress``."""
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [
        str(entry.get("ip") or entry.get("hostname"))
        for entry in ingress
        if isinstance(entry, dict) and (entry.get("ip") or entry.get("hostname"))
    ]


def lb_address(service: Obj) -> str | None:
    """The first LoadBalancer address of a Service, None while it has none."""
    addresses = lb_addresses(service)
    return addresses[0] if addresses else None


def stale_status(obj: Obj, cond: Obj | None = None) -> str:
    """Why the object's status describes an older spec ("" when it is current or cannot tell)."""
    generation = (obj.get("metadata") or {}).get("generation")
    if not isinstance(generation, int):
        return ""
    observed = (obj.get("status") or {}).get("observedGeneration")
    if isinstance(observed, int) and observed < generation:
        return f"status.observedGeneration {observed} < metadata.generation {generation}"
    observed = (cond or {}).get("observedGeneration")
    if isinstance(observed, int) and observed < generation:
        return f"the condition's observedGeneration {observed} < metadata.generation {generation}"
    return ""


def rollout_status(deployment: Obj) -> tuple[bool, str]:
    """(rolled out, state): the controller saw the latest spec and every replica is updated and
    available, as ``kubectl rollout status`` judges a Deployment."""
    status, spec = deployment.get("status") or {}, deployment.get("spec") or {}
    wanted = spec.get("replicas", 1)
    generation = (deployment.get("metadata") or {}).get("generation", 0)
    current = status.get("observedGeneration", 0) >= generation
    updated, available = status.get("updatedReplicas", 0), status.get("availableReplicas", 0)
    done = current and updated == wanted == available
    state = f"replicas={wanted} updated={updated} available={available}"
    # Why no pod could be made (e.g. the API server's error calling an admission webhook): the
    # Deployment carries its ReplicaSet's failure; without it a wait only says "updated=0".
    for cond in status.get("conditions") or []:
        if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
            state += f"; ReplicaFailure: {cond.get('message') or cond.get('reason')}"
    return done, state


def is_deployment(resource: str) -> bool:
    """Whether a kubectl ``TYPE/NAME`` names a Deployment."""
    return resource.startswith(DEPLOYMENT_PREFIXES)


def terminating_state(obj: Obj) -> str:
    """What holds an object that is being deleted, in one line: ``namespace/sample Terminating:
    NamespaceContentRemaining (Some resources are remaining: pods. has 2 resource instances)``,
    its finalizers, or that its deletion has not been asked for."""
    meta = obj.get("metadata") or {}
    kind = str(obj.get("kind") or "object").lower()
    head = f"{kind}/{meta.get('name', '<unnamed>')}"
    if not meta.get("deletionTimestamp"):
        return f"{head} not being deleted"
    # A namespace's Namespace* conditions, a CRD's Terminating condition: what the deletion
    # waits for, as the controller doing it says.
    holding = [
        f"{c.get('type')} ({c.get('message') or c.get('reason') or ''})"
        for c in (obj.get("status") or {}).get("conditions") or []
        if c.get("status") == "True" and str(c.get("type", "")).startswith(("Namespace", "Terminating"))
    ]
    finalizers = list(meta.get("finalizers") or []) + list((obj.get("spec") or {}).get("finalizers") or [])
    if finalizers:
        holding.append(f"finalizers {', '.join(map(str, finalizers))}")
    return f"{head} Terminating" + (f": {'; '.join(holding)}" if holding else "")
