"""Names and the render context every scenario renders from, and the small step builders all share.

Everything under scenarios/ is pure: (release profile, facts) in, dicts and ``Step``s out.
Differences between Istio releases come from named fields of the release profile
(scenarios/releases.py, the table in versions.yaml), never from version comparisons here.
The manifests the seeds share live beside this module: scenarios/external.py (the external
cluster's gateway and istiod), scenarios/remote.py (the remote profile, its webhooks and
remote secrets) and scenarios/samples.py (the sample application and its ingress).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from scenarios.expectations import ScenarioExpectations
from scenarios.facts import Facts, placeholder
from scenarios.releases import IstioRelease, Procedure
from scenarios.steps import Action, Role, ScenarioPlan, Step

Manifest = dict[str, Any]
Addressing = Literal["ip", "dns"]
EXTERNAL_NS = "external-istiod"
ISTIO_SYSTEM = "istio-system"
SAMPLE_NS = "sample"
MESH_ID = "mesh1"
NETWORKS: dict[Role, str] = {"remote": "network1", "second": "network2"}
IOP_API = "install.istio.io/v1alpha1"
GATEWAY_SERVICE = "istio-ingressgateway"
INJECTOR_WEBHOOK = f"istio-sidecar-injector-{EXTERNAL_NS}"
VALIDATOR_WEBHOOK = f"istio-validator-{EXTERNAL_NS}"
DEFAULT_VALIDATOR_WEBHOOK = "istiod-default-validator"
# The default revision tag's injector istioctl install creates on a default-revision install
# (istioctl/pkg/tag: istio-revision-tag-<tag>-<istio namespace>).
REVISION_TAG_WEBHOOK = f"istio-revision-tag-default-{EXTERNAL_NS}"
CONFIG_SECRET_NAME = "istio-kubeconfig"  # what create-remote-secret --type=config names its Secret
# Where proxies find the mesh root: the istio-ca-root-cert ConfigMap mounted by the injection
# template (volume istiod-ca-cert at /var/run/secrets/istio), the default of the agent's
# FindRootCAForXDS/FindRootCAForCA (pkg/istio-agent/agent.go, CitadelCACertPath).
MOUNTED_MESH_ROOT = "/var/run/secrets/istio/root-cert.pem"
SYSTEM_ROOTS = "/etc/ssl/certs/ca-certificates.crt"  # seed 001: a publicly trusted certificate
GATEWAY_API_CRDS_SOURCE = "github.com/kubernetes-sigs/gateway-api/config/crd?ref={version}"
# The deadlines of the installer's waits, rendered into every plan: name -> (seconds, why).
# run/timeouts.py lists them as ``step.<name>``; ``--timeout step.<name>=S`` reaches the
# renderers as ``Facts.step_deadlines``.
STEP_DEADLINES: dict[str, tuple[int, str]] = {
    "lb-address": (
        300,
        "a LoadBalancer Service gets its address (cloud-provider-kind, a cloud's controller)",
    ),
    "rollout": (300, "a Deployment Available (image pulls on a cold node)"),
    "gateway": (300, "a Gateway API Gateway Programmed"),
    "hostname-precondition": (
        180,
        "the test hostname resolves and its certificate chain verifies from a pod (dns-tls)",
    ),
    "sail-istio-ready": (180, "an Istio resource of the Sail operator Ready (seed 004: --timeout=3m)"),
    "sail-remote-ready": (
        900,
        "the remote Istio Ready: only once its webhooks answer, after the external istiod and the "
        "gateway routes exist (Sail's e2e test waits 10 minutes here)",
    ),
}


def step_deadline(facts: Facts, name: str) -> int | float:
    """``name``'s deadline (``STEP_DEADLINES``), or its override; whole seconds print as such."""
    seconds = facts.step_deadlines.get(name, STEP_DEADLINES[name][0])
    return int(seconds) if float(seconds).is_integer() else seconds


GATEWAY_API_GO_MODULE = "sigs.k8s.io/gateway-api"  # its module zip holds config/crd (the same kustomization)


class ScenarioUnavailable(ValueError):
    """A scenario cannot be rendered for this release or these facts; the message says why."""


@dataclass(frozen=True)
class RenderContext:
    """The release and facts a scenario renders from, and the names derived from them."""

    release: IstioRelease
    facts: Facts

    @property
    def procedure(self) -> Procedure:
        """The procedure of the guide revision the release follows (versions.yaml, --guide-revision)."""
        return self.release.procedure

    @property
    def seed(self) -> str:
        """The guide revision whose text the steps cite (a seed number, or istio.io-<commit>)."""
        return self.procedure.guide

    def deadline(self, name: str) -> int | float:
        """The deadline of one of the installer's waits (``STEP_DEADLINES``), as overridden."""
        return step_deadline(self.facts, name)

    def cluster(self, role: Role) -> str:
        return self.facts.cluster_names.get(role) or placeholder(f"{role}_cluster_name")

    @staticmethod
    def network(role: Role) -> str:
        return NETWORKS[role]

    def injection_path(self, role: Role) -> str:
        return self.release.profile.injection_path(self.cluster(role), self.network(role))

    @property
    def addr(self) -> str:
        """The external gateway's LoadBalancer address (placeholder until learnt)."""
        return self.facts.addr

    def with_build(self, iop: Manifest) -> Manifest:
        """Pin the image hub in an IstioOperator: the release's own (docker.io/istio, where Istio
        keeps publishing; the 1.31 upgrade notes retire registry.istio.io and gcr.io/istio-release),
        never istioctl's built-in default, which source builds set to registry.istio.io/testing.
        A custom build's tag is pinned too, and an Istio source's (its version stamp, which its
        istioctl and pilot-discovery report); a release's tag stays istioctl's own version."""
        iop["spec"]["hub"] = self.release.hub
        if self.release.pins_build:
            iop["spec"]["tag"] = self.release.tag
        return iop


def iop(spec: dict[str, Any], namespace: str | None = None, *, name: str | None = None) -> Manifest:
    manifest: Manifest = {"apiVersion": IOP_API, "kind": "IstioOperator"}
    metadata = {"name": name} if name is not None else {}
    if namespace is not None:
        metadata["namespace"] = namespace
    if metadata:
        manifest["metadata"] = metadata
    manifest["spec"] = spec
    return manifest


def namespace_steps(
    role: Role,
    namespace: str,
    seed: str,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    name_prefix: str = "",
) -> list[Step]:
    prefix = name_prefix or role
    steps = [
        Step(
            f"{prefix}-namespace-{namespace}",
            role,
            Action.CREATE_NAMESPACE,
            seed,
            params={"namespace": namespace},
        )
    ]
    if annotations:
        steps.append(
            Step(
                f"{prefix}-annotate-{namespace}",
                role,
                Action.ANNOTATE_NAMESPACE,
                seed,
                params={"namespace": namespace, "annotations": annotations},
            )
        )
    if labels:
        steps.append(
            Step(
                f"{prefix}-label-{namespace}",
                role,
                Action.LABEL_NAMESPACE,
                seed,
                params={"namespace": namespace, "labels": labels},
            )
        )
    return steps


def delete_namespaces(role: Role, namespaces: Iterable[str], seed: str) -> list[Step]:
    return [
        Step(
            f"delete-{role}-namespace-{ns}", role, Action.DELETE, seed, params={"resource": f"namespace/{ns}"}
        )
        for ns in namespaces
    ]


def unique_names(steps: Iterable[Step]) -> None:
    """Step names identify steps in reports and in the installer's progress: they must be unique."""
    seen: set[str] = set()
    for step in steps:
        if step.name in seen:
            raise ValueError(f"duplicate step name {step.name!r}")
        seen.add(step.name)


@dataclass(frozen=True)
class RenderedScenario:
    """A scenario rendered for one release and set of facts: what to do and what to expect."""

    plan: ScenarioPlan
    expectations: ScenarioExpectations


def scenario_plan(
    scenario: str, release: IstioRelease, roles: tuple[Role, ...], steps: list[Step], uninstall: list[Step]
) -> ScenarioPlan:
    """The plan of a rendered scenario, its step names checked for uniqueness."""
    unique_names([*steps, *uninstall])
    return ScenarioPlan(scenario, release.version_text, roles, tuple(steps), tuple(uninstall))
