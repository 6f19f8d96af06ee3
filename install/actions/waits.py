"""The wait action: poll an object until a condition holds, it has a LoadBalancer address, or
(the uninstall) a list of objects whose deletion was deferred is gone.

Controllers create objects while a wait runs (an operator's istiod and webhooks, istiod's CA
ConfigMaps): after the wait the cluster's listing is read back into the ledger.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar

from clusters.cluster import ClusterHandle
from clusters.watch import ChangeFeed
from install.actions.context import ActionContext, param
from install.faults import EnvironmentFault, PlanError
from install.kubectl import get_json, is_transient, namespace_args
from kube.objects import (
    condition,
    is_deployment,
    items,
    lb_address,
    rollout_status,
    stale_status,
    terminating_state,
)
from programs.runner import CommandError, CommandTimeout
from programs.waits import Observation, WaitTimeout, wait_until
from run.timeouts import INSTALL_POLL
from scenarios.steps import Step

T = TypeVar("T")


def wait(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
    """Poll ``resource`` until ``for`` holds (``condition=X``, ``exists``, ``load-balancer-address``,
    or ``deleted``: every TYPE/NAME of the list ``resource`` gone)."""
    wanted = param(step, "for", str)
    if wanted == "deleted":
        names = [str(name) for name in param(step, "resource", list)]
        extra = namespace_args(step.params)
        what = f"[{cluster.role}] {', '.join(names)} to be gone"
        _watched(ctx, step, cluster, names, what, lambda: _gone(cluster, names, extra))
        return None
    resource = param(step, "resource", str)
    if "/" not in resource:
        raise PlanError(f"step {step.name!r}: resource {resource!r} is not TYPE/NAME")
    extra = namespace_args(step.params)
    what = f"[{cluster.role}] {resource} {wanted}"
    if wanted == "load-balancer-address":
        try:
            address = _watched(
                ctx, step, cluster, [resource], what, lambda: _address(cluster, resource, extra)
            ).value
        except WaitTimeout as timeout:
            # No address means nothing serves LoadBalancer Services (cloud-provider-kind
            # down, a cloud quota): the environment's fault, not Istio's.
            raise EnvironmentFault(
                f"{timeout}. No LoadBalancer address was assigned: is cloud-provider-kind (kind "
                "mode) or the cloud's load balancer controller running?"
            ) from None
        ctx.read_back(cluster)
        return address
    if wanted == "exists":
        _watched(ctx, step, cluster, [resource], what, lambda: _exists(cluster, resource, extra))
        ctx.read_back(cluster)
        return None
    kind, _, name = wanted.partition("=")
    if kind != "condition" or not name:
        raise PlanError(
            f"step {step.name!r}: wait for {wanted!r} is unknown; use condition=<Type>, exists or load-balancer-address"
        )
    _watched(ctx, step, cluster, [resource], what, lambda: _condition(cluster, resource, extra, name))
    ctx.read_back(cluster)
    return None


def _watched(
    ctx: ActionContext,
    step: Step,
    cluster: ClusterHandle,
    resources: list[str],
    what: str,
    probe: Callable[[], Observation[T]],
) -> Observation[T]:
    """``wait_until`` on ``probe``, read again whenever the API server reports a change to one
    of ``resources`` (clusters/watch.py); the deadline, pauses and messages are the same."""
    namespace = step.params.get("namespace")
    with ChangeFeed.of(cluster, resources, str(namespace) if namespace else None) as feed:
        return wait_until(what, probe, ctx.timeout(step), backoff=ctx.poll, changes=feed)


def _address(cluster: ClusterHandle, resource: str, extra: list[str]) -> Observation[str | None]:
    obj, why = get_json(cluster, resource, *extra)
    if obj is None:
        return Observation(False, why, None)
    address = lb_address(obj)
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    state = f"{resource} type={(obj.get('spec') or {}).get('type')} ingress={ingress}"
    return Observation(address is not None, state, address)


def _gone(cluster: ClusterHandle, names: list[str], extra: list[str]) -> Observation[None]:
    """Done when none of ``names`` is left; the state names each one left and why it stays."""
    try:
        result = cluster.kubectl(
            "get", *names, *extra, "--ignore-not-found", "-o", "json", timeout_s=INSTALL_POLL.seconds()
        )
    except CommandError as error:
        if isinstance(error, CommandTimeout) or is_transient(error):
            return Observation(False, f"API not answering: {error.stderr.strip() or error.stderr_tail}", None)
        raise
    # kubectl prints nothing at all when --ignore-not-found found none of them.
    left = [
        terminating_state(item)
        for item in items(json.loads(result.stdout) if result.stdout.strip() else None)
    ]
    return Observation(not left, "; ".join(left) or "all gone", None)


def _exists(cluster: ClusterHandle, resource: str, extra: list[str]) -> Observation[None]:
    obj, why = get_json(cluster, resource, *extra)
    return Observation(obj is not None, f"{resource} exists" if obj is not None else why, None)


def _condition(cluster: ClusterHandle, resource: str, extra: list[str], wanted: str) -> Observation[None]:
    obj, why = get_json(cluster, resource, *extra)
    if obj is None:
        return Observation(False, why, None)
    found = condition(obj, wanted)
    done = found is not None and found.get("status") == "True"
    state = (
        f"{resource}: {wanted}={found.get('status')} ({found.get('reason', '')}: {found.get('message', '')})"
        if found
        else f"{resource}: no {wanted} condition yet"
    )
    stale = stale_status(obj, found)
    if stale:
        # A Ready from before the last spec change (e.g. Sail's Istio after spec.version
        # changed) describes the old spec: not done until the controller saw the new one.
        done = False
        state += f"; {stale}"
    if is_deployment(resource):
        # Available can be True from the old pods: also wait for the rollout to finish.
        rolled_out, replicas = rollout_status(obj)
        done = done and rolled_out
        state += f"; {replicas}"
    return Observation(done, state, None)
