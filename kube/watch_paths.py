"""Where to watch an object the suite waits on: kubectl's TYPE/NAME to the API's watch URL.

Pure data, no I/O. The suite names objects as kubectl does (``deployment/istiod``,
``namespace/sample``, ``customresourcedefinition.apiextensions.k8s.io/gateways.networking.istio.io``,
the ``kind.group/name`` lines of ``-o name``). The kinds it waits on are few and built in, so
no discovery is needed to watch them; any other kind has no path here and its wait polls.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    group: str  # "" for the core group
    version: str
    plural: str
    namespaced: bool


_CORE = "v1"
# Each kind under every name kubectl accepts for it in the suite's resources: its singular,
# plural and short names, bare or qualified with the group.
_KINDS: dict[tuple[str, ...], Kind] = {
    ("namespace", "namespaces", "ns"): Kind("", _CORE, "namespaces", False),
    ("service", "services", "svc"): Kind("", _CORE, "services", True),
    ("pod", "pods", "po"): Kind("", _CORE, "pods", True),
    ("configmap", "configmaps", "cm"): Kind("", _CORE, "configmaps", True),
    ("secret", "secrets"): Kind("", _CORE, "secrets", True),
    ("serviceaccount", "serviceaccounts", "sa"): Kind("", _CORE, "serviceaccounts", True),
    ("deployment", "deployments", "deploy"): Kind("apps", "v1", "deployments", True),
    ("daemonset", "daemonsets", "ds"): Kind("apps", "v1", "daemonsets", True),
    ("statefulset", "statefulsets", "sts"): Kind("apps", "v1", "statefulsets", True),
    ("customresourcedefinition", "customresourcedefinitions", "crd", "crds"): Kind(
        "apiextensions.k8s.io", "v1", "customresourcedefinitions", False
    ),
    ("mutatingwebhookconfiguration", "mutatingwebhookconfigurations"): Kind(
        "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", False
    ),
    ("validatingwebhookconfiguration", "validatingwebhookconfigurations"): Kind(
        "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", False
    ),
}
_BY_NAME: dict[str, Kind] = {}
for _names, _kind in _KINDS.items():
    for _name in _names:
        _BY_NAME[_name] = _kind
        if _kind.group:
            _BY_NAME[f"{_name}.{_kind.group}"] = _kind


@dataclass(frozen=True)
class WatchTarget:
    """One object to watch: the collection's URL path and the field selector naming it."""

    path: str
    name: str

    @property
    def field_selector(self) -> str:
        return f"metadata.name={self.name}"


def watch_target(resource: str, namespace: str | None = None) -> WatchTarget | None:
    """``TYPE/NAME`` (in ``namespace`` when the kind is namespaced; ``default`` when none is
    given) as a watch target, or None when the kind is not one of the built-in ones."""
    kind_name, slash, name = resource.partition("/")
    kind = _BY_NAME.get(kind_name.lower())
    if not slash or not name or "/" in name or kind is None:
        return None
    base = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
    scope = f"/namespaces/{namespace or 'default'}" if kind.namespaced else ""
    return WatchTarget(f"{base}{scope}/{kind.plural}", name)
