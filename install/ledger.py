"""The ledger: what each install step really created, read back from the tools and the API.

Every object a step applied is named by kubectl itself (``kubectl apply/create -o name``
prints ``kind.group/name`` for each, as its name printer writes them); the namespace comes
from the document that was applied (or the step's ``-n``). What tools create beside their
output (istioctl's namespace and default revision-tag webhooks, the CRDs of a Helm chart's
``crds/``, what an operator or istiod makes while a wait runs, istiod's
``istio-ca-root-cert``/``istio-ca-crl`` ConfigMaps in every namespace) is read back from the
API: the cluster's listing of tracked objects (install/snapshot.py) after such a step, compared
with the one before it.

Uninstall (install/teardown.py) walks the ledger backwards, Chainsaw-style: the newest
entry's undo first (``helm uninstall`` for a release, withdrawing a published name), then
its objects. Anything the snapshot taken before the install holds (a CRD that was already
there, a namespace someone else owns) is never touched, whatever a step printed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from scenarios.steps import Role, Step

# Kinds without a namespace. kubectl's -o name does not say; a document's missing namespace
# means "the default namespace" for every other kind.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "apiservice",
        "certificatesigningrequest",
        "clusterrole",
        "clusterrolebinding",
        "csidriver",
        "customresourcedefinition",
        "gatewayclass",
        "ingressclass",
        "istio",
        "istiocni",
        "istiorevision",
        "istiorevisiontag",
        "mutatingwebhookconfiguration",
        "namespace",
        "node",
        "persistentvolume",
        "priorityclass",
        "runtimeclass",
        "storageclass",
        "validatingadmissionpolicy",
        "validatingadmissionpolicybinding",
        "validatingwebhookconfiguration",
        "ztunnel",
    }
)


@dataclass(frozen=True, order=True)
class ObjectRef:
    """One object: ``kind.group`` as kubectl's name printer writes it, name, namespace (or None)."""

    kind: str  # e.g. "deployment.apps", "namespace", "customresourcedefinition.apiextensions.k8s.io"
    name: str
    namespace: str | None = None

    @property
    def resource(self) -> str:
        """``kind.group/name``: what kubectl get/delete take as TYPE/NAME."""
        return f"{self.kind}/{self.name}"

    @property
    def bare_kind(self) -> str:
        return self.kind.split(".", 1)[0]

    @property
    def is_namespace(self) -> bool:
        return self.kind == "namespace"

    def __str__(self) -> str:
        return self.resource if self.namespace is None else f"{self.resource} -n {self.namespace}"

    @classmethod
    def parse(cls, text: str) -> ObjectRef:
        """The inverse of ``str()``: ``kind.group/name`` optionally followed by `` -n NAMESPACE``."""
        resource, _, namespace = text.strip().partition(" -n ")
        kind, _, name = resource.partition("/")
        if not kind or not name:
            raise ValueError(f"not an object reference (kind.group/name [-n namespace]): {text!r}")
        return cls(kind=kind, name=name, namespace=namespace.strip() or None)


def group_kind(document: Mapping[str, Any]) -> str:
    """``kind.group`` of a manifest, as kubectl prints it (``Deployment``, ``apps/v1`` ->
    ``deployment.apps``; core kinds have no group)."""
    api_version = str(document.get("apiVersion") or "")
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    kind = str(document.get("kind") or "").lower()
    return f"{kind}.{group}" if group else kind


def documents_of(text: str) -> list[dict[str, Any]]:
    """The mapping documents of a YAML stream (List objects flattened to their items)."""
    found: list[dict[str, Any]] = []
    # libyaml's parser (PyYAML's C binding) when present: the same documents, about eight times
    # faster on istioctl manifest generate's output (close to a megabyte of CRDs).
    for document in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        if not isinstance(document, dict):
            continue
        if str(document.get("kind", "")).endswith("List") and isinstance(document.get("items"), list):
            found += [item for item in document["items"] if isinstance(item, dict)]
        else:
            found.append(document)
    return found


def refs_from_output(
    output: str, documents: Sequence[Mapping[str, Any]] = (), default_namespace: str | None = None
) -> list[ObjectRef]:
    """The objects named by ``-o name`` output, with their namespaces from the applied documents.

    A name the documents do not explain (a tool's own object) takes ``default_namespace`` unless
    its kind is cluster-scoped.
    """
    namespaces: dict[tuple[str, str], str | None] = {}
    for document in documents:
        meta = document.get("metadata") or {}
        namespace = meta.get("namespace")
        namespaces[(group_kind(document), str(meta.get("name", "")))] = str(namespace) if namespace else None
    refs: list[ObjectRef] = []
    for raw in output.splitlines():
        line = raw.strip()
        if "/" not in line or " " in line:
            continue  # not a name line (a warning kubectl wrote to stdout)
        kind, _, name = line.partition("/")
        namespace = namespaces.get((kind, name))
        if kind.split(".", 1)[0] in CLUSTER_SCOPED_KINDS:
            namespace = None
        elif namespace is None:
            namespace = default_namespace or "default"
        refs.append(ObjectRef(kind, name, namespace))
    return refs


# Any object, one row each (kubectl's custom-columns printer, no header): read back with
# ``parse_object_columns``.
OBJECT_COLUMNS = (
    "custom-columns=KIND:.kind,APIVERSION:.apiVersion,NAMESPACE:.metadata.namespace,NAME:.metadata.name"
)


def parse_object_columns(output: str) -> list[ObjectRef]:
    """The objects of ``kubectl get ... -o <OBJECT_COLUMNS> --no-headers`` (``<none>`` for a
    cluster-scoped object's namespace)."""
    refs = []
    for line in output.splitlines():
        fields = line.split()
        if len(fields) != 4:
            continue
        kind, api_version, namespace, name = fields
        refs.append(
            ObjectRef(
                group_kind({"kind": kind, "apiVersion": api_version}),
                name,
                None if namespace == "<none>" else namespace,
            )
        )
    return refs


@dataclass
class LedgerEntry:
    """What one step created on one cluster, in creation order, and how to undo the step itself."""

    step: str
    role: Role
    action: str
    seed: str
    objects: list[ObjectRef] = field(default_factory=list)
    # A step that undoes this one before its objects are deleted (helm uninstall, withdrawing
    # a published hostname); None when deleting the objects is the whole undo.
    undo: Step | None = None

    def describe(self) -> str:
        head = f"[{self.role}] {self.step} ({self.action})"
        lines = [head, *(f"  created {ref}" for ref in self.objects)]
        if self.undo is not None:
            lines.append(f"  undone by {self.undo.action.value} {self.undo.params}")
        return "\n".join(lines)


@dataclass
class Ledger:
    """The entries of one scenario's install, oldest first, and the listings they are read against.

    ``baseline`` is each cluster's listing before the install (never touched by the uninstall);
    ``last_listing`` the most recent one, against which the next read-back is compared.
    """

    entries: list[LedgerEntry] = field(default_factory=list)
    baseline: dict[Role, frozenset[str]] = field(default_factory=dict)
    last_listing: dict[Role, frozenset[str]] = field(default_factory=dict)
    # The entry of the step running in this thread: the installer runs consecutive waits side
    # by side (install/installer.py), each recording what it reads back into its own entry.
    _local: threading.local = field(default_factory=threading.local, repr=False, compare=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    @property
    def _current(self) -> LedgerEntry | None:
        current: LedgerEntry | None = getattr(self._local, "entry", None)
        return current

    @_current.setter
    def _current(self, entry: LedgerEntry | None) -> None:
        self._local.entry = entry

    # -- recording ---------------------------------------------------------------------------

    def set_baseline(self, role: Role, listing: Iterable[str]) -> None:
        """The cluster's listing before the install (the first one given wins)."""
        names = frozenset(listing)
        self.baseline.setdefault(role, names)
        self.last_listing.setdefault(role, names)

    def begin(self, step: Step) -> LedgerEntry:
        entry = LedgerEntry(step=step.name, role=step.role, action=step.action.value, seed=step.seed)
        self._current = entry
        with self._lock:
            self.entries.append(entry)
        return entry

    def end(self) -> None:
        """Close the current entry; an entry that created nothing and undoes nothing is dropped."""
        entry, self._current = self._current, None
        if entry is not None and not entry.objects and entry.undo is None:
            with self._lock:
                self.entries.remove(entry)

    def created(self, refs: Iterable[ObjectRef], role: Role | None = None) -> None:
        """Objects the current step made (on its own cluster unless ``role`` says otherwise)."""
        with self._lock:
            self._created(list(refs), role)

    def _created(self, refs: list[ObjectRef], role: Role | None) -> None:
        entry = self._entry_for(role) if refs else None
        if entry is None:
            return
        known = self.recorded(entry.role)
        for ref in refs:
            if ref not in known and str(ref) not in self.baseline.get(entry.role, frozenset()):
                entry.objects.append(ref)
                known.add(ref)

    def undo_with(self, step: Step | None) -> None:
        """How the current step is undone (None: it needs no undo of its own after all); not
        again when an earlier entry already undoes it the same way (an upgrade's
        ``helm upgrade --install`` of the release the install made)."""
        if self._current is None:
            return
        if step is not None and any(_same_undo(entry.undo, step) for entry in self.entries):
            return
        self._current.undo = step

    def read_back(self, role: Role, listing: Iterable[str]) -> list[ObjectRef]:
        """Record what appeared in ``role``'s listing since the last one; return it."""
        with self._lock:
            now = frozenset(listing)
            if role not in self.baseline:
                # Nothing to compare with: what is there now is the baseline, never to be undone.
                self.set_baseline(role, now)
                return []
            before = self.last_listing.get(role, self.baseline[role])
            self.last_listing[role] = now
            appeared = [ObjectRef.parse(name) for name in sorted(now - before, key=_creation_order)]
            self.created(appeared, role)
            return appeared

    def _entry_for(self, role: Role | None) -> LedgerEntry | None:
        current = self._current
        if current is None or role is None or role == current.role:
            return current
        # Another cluster's objects (a remote secret's service account): an entry of its own.
        entry = LedgerEntry(step=current.step, role=role, action=current.action, seed=current.seed)
        with self._lock:
            self.entries.insert(self.entries.index(current), entry)
        return entry

    # -- reading -----------------------------------------------------------------------------

    def recorded(self, role: Role) -> set[ObjectRef]:
        return {ref for entry in self.entries if entry.role == role for ref in entry.objects}

    def namespaces(self, role: Role) -> set[str]:
        """The namespaces the run created on ``role`` (deleting one deletes what is in it)."""
        return {ref.name for ref in self.recorded(role) if ref.is_namespace}

    def describe(self) -> str:
        return "\n".join(entry.describe() for entry in self.entries) or "(nothing recorded)"

    def as_dict(self) -> list[dict[str, Any]]:
        """The entries as plain data (for a report artifact): step, role, action, objects, undo."""
        return [
            {
                "step": entry.step,
                "role": entry.role,
                "action": entry.action,
                "seed": entry.seed,
                "created": [str(ref) for ref in entry.objects],
                "undo": None
                if entry.undo is None
                else {"action": entry.undo.action.value, "params": dict(entry.undo.params)},
            }
            for entry in self.entries
        ]


def _same_undo(known: Step | None, step: Step) -> bool:
    return known is not None and (known.role, known.action, known.params) == (
        step.role,
        step.action,
        step.params,
    )


def _creation_order(name: str) -> tuple[int, str]:
    """Namespaces and CRDs first: in reverse they are deleted after what lives in them."""
    kind = name.partition("/")[0].split(".", 1)[0]
    rank = {"namespace": 0, "customresourcedefinition": 1}.get(kind, 2)
    return rank, name
