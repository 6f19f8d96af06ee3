"""A model of the clusters an install runs on, answering kubectl/istioctl/helm as they answer.

For the uninstall self-tests: objects are created by what the installer applies (and answered
as kubectl's name printer writes them, ``kind.group/name``), by what the tools make beside
their output (istioctl install's namespace and default revision-tag webhook, a Helm chart's
``crds/`` and ``--create-namespace``, the Sail Operator's istiod and webhooks for an ``Istio``,
istiod's ``istio-ca-root-cert`` in every namespace of every cluster while it runs), and removed
as the API removes them: deleting a namespace deletes what is in it, deleting a CRD its
resources, ``helm uninstall`` the release's templates but never its CRDs nor its namespace.

``ModelRunner`` is a ``CommandRunner`` that answers from the model in-process (fast enough to
run every scenario x ingress x release); the commands and outputs are those of the real tools.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from install.ledger import CLUSTER_SCOPED_KINDS, ObjectRef, documents_of, group_kind
from programs.redaction import Redactor
from programs.runner import CommandError, CommandResult, CommandRunner
from tests.test_installer_scenarios import READY

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", "local-path-storage")
CRD = "customresourcedefinition.apiextensions.k8s.io"
GATEWAY_API_CRDS = ("gateways.gateway.networking.k8s.io", "httproutes.gateway.networking.k8s.io")
SAIL_CRDS = ("istios.sailoperator.io", "istiorevisions.sailoperator.io")
ISTIO_CRDS = ("virtualservices.networking.istio.io", "gateways.networking.istio.io")
TAG_WEBHOOK = "mutatingwebhookconfiguration.admissionregistration.k8s.io/istio-revision-tag-default"
NOT_LISTED = {"configmap"}  # istiod's ConfigMaps are listed apart (custom columns)


@dataclass
class Cluster:
    objects: dict[ObjectRef, dict[str, Any]] = field(default_factory=dict)
    helm: dict[tuple[str, str], list[ObjectRef]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for namespace in SYSTEM_NAMESPACES:
            self.add(ObjectRef("namespace", namespace))
        self.add(ObjectRef("clusterrole.rbac.authorization.k8s.io", "admin"))

    def add(self, ref: ObjectRef, document: dict[str, Any] | None = None) -> None:
        self.objects[ref] = document or {}

    def has(self, ref: ObjectRef) -> bool:
        return ref in self.objects

    def namespaces(self) -> list[str]:
        return [ref.name for ref in self.objects if ref.is_namespace]

    def remove(self, ref: ObjectRef) -> None:
        self.objects.pop(ref, None)
        if ref.is_namespace:
            for inner in [r for r in self.objects if r.namespace == ref.name]:
                self.objects.pop(inner)
        if ref.kind == CRD:
            plural, _, group = ref.name.partition(".")
            for inner in [r for r in self.objects if _resource_of(r) == (plural, group)]:
                self.objects.pop(inner)


def _resource_of(ref: ObjectRef) -> tuple[str, str]:
    kind, _, group = ref.kind.partition(".")
    return f"{kind}s", group


@dataclass
class World:
    """Every cluster, by kubeconfig context; controllers reconcile before each command."""

    clusters: dict[str, Cluster]

    def reconcile(self) -> None:
        istiod_runs = False
        for cluster in self.clusters.values():
            for ref, document in list(cluster.objects.items()):
                if ref.bare_kind == "istio" and ref.kind.endswith("sailoperator.io"):
                    namespace = str((document.get("spec") or {}).get("namespace") or "istio-system")
                    if namespace in cluster.namespaces():
                        cluster.add(
                            ObjectRef("deployment.apps", f"istiod-{ref.name}", namespace), {"owner": str(ref)}
                        )
                        cluster.add(
                            ObjectRef(
                                "mutatingwebhookconfiguration.admissionregistration.k8s.io",
                                f"istio-sidecar-injector-{ref.name}-{namespace}",
                            ),
                            {"owner": str(ref)},
                        )
            for ref, document in list(cluster.objects.items()):
                owner = document.get("owner")
                if owner and not cluster.has(ObjectRef.parse(owner)):
                    cluster.objects.pop(ref)  # the operator removes what an Istio it deleted owned
            istiod_runs = istiod_runs or any(
                ref.bare_kind == "deployment" and ref.name.startswith("istiod") for ref in cluster.objects
            )
        if istiod_runs:  # the external istiod writes into every namespace of every cluster it watches
            for cluster in self.clusters.values():
                if set(cluster.namespaces()) <= set(SYSTEM_NAMESPACES):
                    continue  # not in the mesh: no remote secret of it, nothing istiod watches
                for namespace in cluster.namespaces():
                    if namespace not in SYSTEM_NAMESPACES[1:]:
                        cluster.add(ObjectRef("configmap", "istio-ca-root-cert", namespace))


class ModelRunner(CommandRunner):
    def __init__(self, contexts: list[str]) -> None:
        super().__init__(redactor=Redactor(), default_timeout_s=30)
        self.world = World({context: Cluster() for context in contexts})
        self.calls: list[tuple[str, ...]] = []

    def _run(self, args: tuple[str, ...], shown: tuple[str, ...], *rest: Any) -> CommandResult:
        stdin, check = rest[2], rest[4]  # (title, env, stdin, deadline, check, cwd, attach)
        self.calls.append(args)
        self.world.reconcile()
        code, out, err = self._answer(list(args), stdin if isinstance(stdin, str) else "")
        if check and code:
            raise CommandError(shown, code, err, stdout=out, stderr=err)
        return CommandResult(args, code, out, err, 0.0)

    def _answer(self, args: list[str], stdin: str) -> tuple[int, str, str]:
        tool = os.path.basename(args[0])
        flag = "--context" if "--context" in args else "--kube-context"
        cluster = self.world.clusters[args[args.index(flag) + 1]]
        if tool == "kubectl":
            return Kubectl(cluster).answer(args[5:], stdin)
        if tool == "istioctl":
            return _istioctl(cluster, args[1:])
        return _helm(cluster, args[1:])


@dataclass
class Kubectl:
    cluster: Cluster

    def answer(self, args: list[str], stdin: str) -> tuple[int, str, str]:  # noqa: PLR0911
        verb, namespace = args[0], args[args.index("-n") + 1] if "-n" in args else None
        if verb == "create" and args[1] == "-f":
            return 0, "", ""  # the dns-tls probe pod, deleted by name afterwards
        if verb == "create":
            ref = _ref(args[1], args[2], namespace)
            if self.cluster.has(ref):
                return 1, "", f'Error from server (AlreadyExists): {args[1]}s "{args[2]}" already exists'
            self.cluster.add(ref)
            return 0, f"{ref.resource}\n", ""
        if verb == "apply":
            path = args[args.index("-f") + 1]
            text = stdin if path == "-" else Path(path).read_text()
            selector = args[args.index("-l") + 1] if "-l" in args else None
            return self._apply(documents_of(text), namespace, selector)
        if verb == "kustomize":
            crds = [_crd(name) for name in GATEWAY_API_CRDS]
            return 0, yaml.safe_dump_all(crds), ""
        if verb == "get" and "--ignore-not-found" in args:  # the uninstall's wait for its deletions
            return self._left(args, namespace)
        if verb == "get":
            return self._get(args, namespace)
        if verb == "delete":
            targets = [a for a in args[1:] if "/" in a and not a.startswith("-")]
            if "-f" in args:
                targets = [f"{group_kind(d)}/{d['metadata']['name']}" for d in documents_of(stdin)]
            for target in targets:
                kind, _, name = target.partition("/")
                self.cluster.remove(_ref(kind, name, namespace))
            return 0, "", ""
        return 0, "", ""  # label, annotate, logs, rollout

    def _apply(
        self, documents: list[dict[str, Any]], namespace: str | None, selector: str | None
    ) -> tuple[int, str, str]:
        lines = []
        for document in documents:
            labels = (document.get("metadata") or {}).get("labels") or {}
            if selector and labels.get(selector.split("=")[0]) != selector.split("=")[1]:
                continue
            meta = document.get("metadata") or {}
            ref = _ref(
                group_kind(document), str(meta["name"]), meta.get("namespace") or namespace or "default"
            )
            if ref.namespace and not self.cluster.has(ObjectRef("namespace", ref.namespace)):
                return 1, "", f'Error from server (NotFound): namespaces "{ref.namespace}" not found'
            self.cluster.add(ref, document)
            lines.append(ref.resource)
        return 0, "".join(f"{line}\n" for line in lines), ""

    def _get(self, args: list[str], namespace: str | None) -> tuple[int, str, str]:
        if "-l" in args:  # what istioctl labels as its own, in kubectl's custom columns
            own = [(r, d) for r, d in self.cluster.objects.items() if d.get("istioctl") and r.namespace]
            return (
                0,
                "".join(f"{d['kind']}   {d['apiVersion']}   {r.namespace}   {r.name}\n" for r, d in own),
                "",
            )
        if "," in args[1]:  # the snapshot's listing of tracked kinds
            names = sorted(r.resource for r in self.cluster.objects if r.namespace is None)
            return 0, "".join(f"{name}\n" for name in names), ""
        if "--no-headers" in args:  # istiod's ConfigMaps, in kubectl's columns
            configmaps = [r for r in self.cluster.objects if r.bare_kind == "configmap"]
            return 0, "".join(f"{r.namespace}   {r.name}\n" for r in configmaps), ""
        kind, _, name = args[1].partition("/")
        if kind == "crd":
            ref = ObjectRef(CRD, name)
            if self.cluster.has(ref):
                return 0, f"{ref.resource}\n", ""
            return 1, "", f'Error from server (NotFound): customresourcedefinitions "{name}" not found'
        return 0, json.dumps(READY), ""

    def _left(self, args: list[str], namespace: str | None) -> tuple[int, str, str]:
        """``get NAME... --ignore-not-found -o json``: the named objects still there, as a List;
        nothing at all when none is (what kubectl prints then)."""
        named = [a for a in args[1:] if "/" in a and not a.startswith("-")]
        left = [
            {"kind": kind, "metadata": {"name": name}}
            for kind, _, name in (target.partition("/") for target in named)
            if self.cluster.has(_ref(kind, name, namespace))
        ]
        return 0, json.dumps({"kind": "List", "items": left}) if left else "", ""


def _ref(kind: str, name: str, namespace: str | None) -> ObjectRef:
    kind = {
        "namespace": "namespace",
        "serviceaccount": "serviceaccount",
        "istios": "istio.sailoperator.io",
    }.get(kind, kind)
    scoped = kind.split(".", 1)[0] in CLUSTER_SCOPED_KINDS
    return ObjectRef(kind, name, None if scoped else (namespace or "default"))


def _crd(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name},
    }


def _istioctl(cluster: Cluster, args: list[str]) -> tuple[int, str, str]:
    if args[0] == "create-remote-secret":
        namespace = next(a.split("=", 1)[1] for a in args if a.startswith("--namespace="))
        name = next((a.split("=", 1)[1] for a in args if a.startswith("--name=")), "eicp-remote")
        secret = "istio-kubeconfig" if "--type=config" in args else f"istio-remote-secret-{name}"
        if "--create-service-account=true" in args:
            cluster.add(ObjectRef("clusterrole.rbac.authorization.k8s.io", f"istio-reader-{namespace}"))
        document = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": secret, "namespace": namespace},
            "stringData": {name: "users:\n- user: {token: abcdefghijklmnop}\n"},
        }
        return 0, "# This file is autogenerated, do not edit.\n---\n" + yaml.safe_dump(document), ""
    iop = yaml.safe_load(Path(args[args.index("-f") + 1]).read_text())
    values = (iop.get("spec") or {}).get("values") or {}
    namespace = str(((values.get("global") or {}).get("istioNamespace")) or "istio-system")
    for flag in (args[i + 1] for i, arg in enumerate(args) if arg == "--set"):
        if flag.startswith("values.global.istioNamespace="):
            namespace = flag.split("=", 1)[1]
    if args[:2] == ["manifest", "generate"]:
        documents = [_crd(name) for name in ISTIO_CRDS] + [
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "istiod", "namespace": namespace},
            },
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "MutatingWebhookConfiguration",
                "metadata": {"name": f"istio-sidecar-injector-{namespace}"},
            },
        ]
        return 0, yaml.safe_dump_all(documents), ""
    # istioctl install, as a real one does on a real API server (tests/test_ledger_apiserver.py):
    # the namespace, the base CRDs, istiod's cluster roles and webhooks, and in the namespace the
    # objects it labels operator.istio.io/component; installing istiod, the default tag too.
    cluster.add(ObjectRef("namespace", namespace))
    components = (iop.get("spec") or {}).get("components") or {}
    pilot = (components.get("pilot") or {}).get("enabled")
    names: list[str] = []
    if pilot or (pilot is None and iop["spec"].get("profile") not in ("empty", "remote")):
        for name in ISTIO_CRDS:
            cluster.add(ObjectRef(CRD, name))
        for prefix in ("clusterrole", "clusterrolebinding"):
            for role in ("istiod-clusterrole", "istio-reader-clusterrole"):
                cluster.add(ObjectRef(f"{prefix}.rbac.authorization.k8s.io", f"{role}-{namespace}"))
        cluster.add(
            ObjectRef("mutatingwebhookconfiguration.admissionregistration.k8s.io", "istio-sidecar-injector")
        )
        cluster.add(
            ObjectRef(
                "validatingwebhookconfiguration.admissionregistration.k8s.io", f"istio-validator-{namespace}"
            )
        )
        cluster.add(ObjectRef.parse(TAG_WEBHOOK))
        names.append("istiod")
    names.append("istio-ingressgateway")
    for name in names:
        for kind, api_version in (("Deployment", "apps/v1"), ("Service", "v1"), ("ServiceAccount", "v1")):
            labelled: dict[str, Any] = {"istioctl": True, "apiVersion": api_version, "kind": kind}
            cluster.add(ObjectRef(group_kind(labelled), name, namespace), labelled)
    return 0, "✔ Installation complete\n", ""


def _helm(cluster: Cluster, args: list[str]) -> tuple[int, str, str]:
    namespace = args[args.index("--namespace") + 1]
    if args[0] == "uninstall":
        for ref in cluster.helm.pop((args[1], namespace), []):
            cluster.objects.pop(ref, None)
        return 0, f'release "{args[1]}" uninstalled\n', ""
    release = args[2]
    if "--create-namespace" in args:
        cluster.add(ObjectRef("namespace", namespace))
    for name in (*SAIL_CRDS, *ISTIO_CRDS):  # the chart's crds/: installed, never removed by helm
        cluster.add(ObjectRef(CRD, name))
    templates = [
        ObjectRef("deployment.apps", release, namespace),
        ObjectRef("clusterrole.rbac.authorization.k8s.io", release),
    ]
    for ref in templates:
        cluster.add(ref)
    known = (release, namespace) in cluster.helm
    cluster.helm[(release, namespace)] = templates
    head = (
        f'Release "{release}" has been upgraded. Happy Helming!'
        if known
        else (f'Release "{release}" does not exist. Installing it now.')
    )
    summary = f"NAME: {release}\nNAMESPACE: {namespace}\nSTATUS: deployed\nREVISION: {2 if known else 1}\n"
    return 0, f"{head}\n{summary}", ""
