"""Uninstall from the ledger: the steps that undo what the install recorded, newest first.

Chainsaw-style: entries are undone in reverse order; an entry's own undo (``helm uninstall``,
withdrawing a published name) runs before its objects are deleted. Objects inside a namespace
the run created are left to that namespace's deletion. After every entry is undone, a sweep
reads the clusters again and deletes what controllers made again meanwhile: recorded objects
that are back, and istiod's CA ConfigMaps in namespaces that outlive it (istiod writes them
into every namespace for as long as it runs, so they go only once istiod is gone). What the
baseline (the listing before the install) holds is never deleted.

Each cluster's entries form a chain of their own (``uninstall_chains``): every entry is one
cluster's, and what one cluster's uninstall deletes never waits on another's, so the installer
runs the chains side by side, newest first within each. Namespaces and CRDs are deleted without
waiting for them to be gone (``wait: false``): kube-controller-manager's namespace controller
(the release versions.yaml pins) makes its first pass 5 s after the deletion
(``namespaceDeletionGracePeriod``) and, when content remains after it, the next one half the
remaining estimate plus 1 s later (the longest termination grace its pods still have, or 15 s
for objects held by finalizers): about 10 s per namespace here, however the client waits, and a
CRD goes only once the API server has removed its instances. Nothing later in a chain depends
on them being gone, so the chain ends with one wait for all of them (``gone_step``) instead of
one wait each, and those controller delays overlap instead of adding up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from install.ledger import Ledger, LedgerEntry, ObjectRef
from install.snapshot import ISTIOD_CONFIGMAPS
from run.timeouts import UNINSTALL_GONE
from scenarios.steps import Action, Role, Step


def uninstall_plan(ledger: Ledger) -> list[tuple[LedgerEntry, list[Step]]]:
    """Each entry, newest first, with the steps that undo it, in the order to run them."""
    owned = {entry.role: ledger.namespaces(entry.role) for entry in ledger.entries}
    plan: list[tuple[LedgerEntry, list[Step]]] = []
    for entry in reversed(ledger.entries):
        steps = [entry.undo] if entry.undo is not None else []
        inside = [ref for ref in reversed(entry.objects) if ref.namespace not in owned[entry.role]]
        steps += delete_steps(entry, inside, ledger.baseline.get(entry.role, frozenset()), defer=True)
        plan.append((entry, steps))
    return plan


def uninstall_chains(ledger: Ledger) -> dict[Role, list[tuple[LedgerEntry, list[Step]]]]:
    """``uninstall_plan`` split by cluster: each cluster's entries newest first, independent of
    the other clusters' (every entry and each of its steps is one cluster's)."""
    chains: dict[Role, list[tuple[LedgerEntry, list[Step]]]] = {}
    for entry, steps in uninstall_plan(ledger):
        roles = {entry.role, *(step.role for step in steps)}
        if len(roles) != 1:
            raise ValueError(f"ledger entry {entry.step} undoes on several clusters: {sorted(roles)}")
        chains.setdefault(entry.role, []).append((entry, steps))
    return chains


def gone_step(role: Role, steps: Sequence[Step]) -> Step | None:
    """The wait that ends a cluster's chain: everything its deferred deletions named is gone."""
    deferred = [
        str(resource)
        for step in steps
        if step.action is Action.DELETE and step.params.get("wait") is False
        for resource in step.params.get("resource") or ()
    ]
    if not deferred:
        return None
    params: dict[str, object] = {
        "resource": deferred,
        "for": "deleted",
        "deadline_s": UNINSTALL_GONE.seconds(),
    }
    return Step(f"undo-{role}-deletions-gone", role, Action.WAIT, "uninstall", (), params)


def uninstall_steps(ledger: Ledger) -> list[Step]:
    """Every step that undoes ``ledger``, in the order to run them."""
    return [step for _entry, steps in uninstall_plan(ledger) for step in steps]


def delete_steps(
    entry: LedgerEntry, refs: Sequence[ObjectRef], baseline: Iterable[str] = (), *, defer: bool = False
) -> list[Step]:
    """DELETE steps for ``refs``: namespaced objects by namespace, then cluster-scoped ones, then
    CRDs, then namespaces (what lives in something goes before it). With ``defer`` the CRDs and
    namespaces are deleted without waiting for them to be gone (``gone_step`` waits later)."""
    keep = set(baseline)
    wanted = [ref for ref in refs if str(ref) not in keep]
    groups: dict[str | None, list[str]] = {}
    for ref in wanted:
        if ref.namespace is not None:
            groups.setdefault(ref.namespace, []).append(ref.resource)
    cluster_scoped = [ref for ref in wanted if ref.namespace is None]
    crds = [ref.resource for ref in cluster_scoped if ref.bare_kind == "customresourcedefinition"]
    namespaces = [ref.resource for ref in cluster_scoped if ref.is_namespace]
    others = [ref.resource for ref in cluster_scoped if ref.resource not in {*crds, *namespaces}]
    steps = [_delete(entry, resources, namespace) for namespace, resources in groups.items()]
    if others:
        steps.append(_delete(entry, others, None))
    steps += [
        _delete(entry, resources, None, wait=not defer) for resources in (crds, namespaces) if resources
    ]
    return steps


def sweep_refs(ledger: Ledger, role: Role, listing: Iterable[str]) -> list[ObjectRef]:
    """What is on ``role`` now that the uninstall must still delete: recorded objects that came
    back, and istiod's ConfigMaps the baseline did not have."""
    baseline = ledger.baseline.get(role, frozenset())
    recorded = {str(ref) for ref in ledger.recorded(role)}
    stray = []
    for name in sorted(set(listing) - baseline):
        ref = ObjectRef.parse(name)
        if name in recorded or (ref.bare_kind == "configmap" and ref.name in ISTIOD_CONFIGMAPS):
            stray.append(ref)
    return stray


def sweep_entry(role: Role) -> LedgerEntry:
    return LedgerEntry(step="sweep", role=role, action="sweep", seed="uninstall")


def _delete(entry: LedgerEntry, resources: list[str], namespace: str | None, *, wait: bool = True) -> Step:
    params: dict[str, object] = {"resource": resources}
    if namespace is not None:
        params["namespace"] = namespace
    if not wait:
        params["wait"] = False
    return Step(f"undo-{entry.step}", entry.role, Action.DELETE, entry.seed, (), params)
