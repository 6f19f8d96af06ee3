"""The data a scenario renders to: ordered, named steps with the manifests each applies.

A ``Step`` is pure data: the installer (install/installer.py) carries it out, ``--plan``
prints it, the offline tier feeds its manifests to the real tools, golden tests compare it
with the seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import yaml

# libyaml's emitter (PyYAML's C binding) writes the same text as the pure-Python one, about four
# times faster: --plan dumps every manifest of every step (ci/growth.py measures it).
_SAFE_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

Role = Literal["external", "remote", "second"]
ROLES: tuple[Role, ...] = ("external", "remote", "second")


class Action(StrEnum):
    """What the installer does with a step. Each maps to one installer method."""

    CREATE_NAMESPACE = "create-namespace"
    LABEL_NAMESPACE = "label-namespace"
    ANNOTATE_NAMESPACE = "annotate-namespace"
    APPLY = "apply"  # kubectl apply of the step's manifests (server-side)
    ISTIOCTL_INSTALL = "istioctl-install"  # istioctl install -f <IstioOperator>
    MANIFEST_GENERATE_APPLY = "manifest-generate-apply"  # istioctl manifest generate | kubectl apply
    CREATE_SERVICE_ACCOUNT = "create-service-account"
    REMOTE_SECRET = "remote-secret"  # istioctl create-remote-secret on one cluster, applied on another
    HELM_INSTALL = "helm-install"
    APPLY_SAMPLE = "apply-sample"  # a file from the release archive's samples/
    WAIT = "wait"
    PRECONDITION = "precondition"  # an environment check whose failure is an environment fault
    DELETE = "delete"
    # Added with the scenario renderers (params documented in PARAMS below).
    CREATE_SECRET = "create-secret"  # a Secret from the per-run PKI (by material name) or the user's file
    PUBLISH_HOSTNAME = "publish-hostname"  # make a test hostname resolve in a cluster (pods and node)
    INSTALL_GATEWAY_API_CRDS = "install-gateway-api-crds"  # only when the CRDs are missing
    MANIFEST_GENERATE_DELETE = "manifest-generate-delete"  # istioctl manifest generate | kubectl delete
    HELM_UNINSTALL = "helm-uninstall"
    ISTIOCTL_UNINSTALL = "istioctl-uninstall"  # istioctl uninstall -y [--purge] -f <IstioOperator>


# The params each action reads: required keys, then optional ones (after "|"). Renderers fill
# them, the installer reads them, tests/test_render_matrix.py holds both sides to this table.
PARAMS: dict[Action, str] = {
    Action.CREATE_NAMESPACE: "namespace",
    Action.LABEL_NAMESPACE: "namespace labels",
    Action.ANNOTATE_NAMESPACE: "namespace annotations",
    Action.APPLY: "| namespace",
    # uninstall="purge": the guide's cleanup is ``istioctl uninstall -y --purge -f <file>``,
    # which the ledger notes as the step's undo.
    Action.ISTIOCTL_INSTALL: "file | set uninstall",
    Action.MANIFEST_GENERATE_APPLY: "file | set uninstall",
    Action.CREATE_SERVICE_ACCOUNT: "namespace name",
    # source_role's credentials, applied on target_role; command is the profile's
    # remote_secret_command; server is the API server URL as reached from the target (kind:
    # the control-plane container IP); secret_name is what istioctl will name the Secret.
    Action.REMOTE_SECRET: (
        "source_role target_role command type namespace secret_name create_service_account"
        " | name service_account server"
    ),
    # source_chart: the chart's path in Istio's source tree, used instead of repo/chart/version
    # when the release under test is built from source (no published chart).
    Action.HELM_INSTALL: "release repo chart version namespace | create_namespace values source_chart",
    # path inside the release archive of the version under test; selector is kubectl's -l.
    Action.APPLY_SAMPLE: "path namespace | selector",
    # resource is kubectl's TYPE/NAME (a list of them for "deleted"); for is kubectl wait's
    # --for (condition=Ready, condition=Available, condition=Programmed, exists, deleted) or
    # "load-balancer-address", which also hands the address to the fact named by provides
    # (scenarios/facts.py).
    Action.WAIT: "resource for deadline_s | namespace provides",
    # check names what to verify; the others say how (see scenarios/dns_tls.py).
    Action.PRECONDITION: "check deadline_s | hostname ports ca namespace",
    # data_from_pki maps a Secret data key to a material name of scenarios/pki.py.
    # data_from_pki (data key -> PKI material name) or data_from_file (a Secret manifest's path).
    Action.CREATE_SECRET: "namespace name type | data_from_pki data_from_file",
    # remove=True undoes what an earlier publish did (uninstall).
    Action.PUBLISH_HOSTNAME: "hostname address scopes | remove",
    # go_module: where the same kustomization comes from when source (GitHub) cannot be fetched.
    Action.INSTALL_GATEWAY_API_CRDS: "version source skip_if_present | go_module",
    # Either manifests (deleted by kind/name) or resource (+ namespace); wait=False returns
    # once the deletion is accepted (the uninstall waits for everything gone at the end).
    Action.DELETE: "| resource namespace wait",
    Action.MANIFEST_GENERATE_DELETE: "file | set",
    Action.HELM_UNINSTALL: "release namespace",
    Action.ISTIOCTL_UNINSTALL: "file purge | set",
}


def param_keys(action: Action) -> tuple[frozenset[str], frozenset[str]]:
    """(required, optional) param keys of an action, from ``PARAMS``."""
    required, _, optional = PARAMS[action].partition("|")
    return frozenset(required.split()), frozenset(optional.split())


@dataclass(frozen=True)
class Step:
    """One named install step.

    ``seed`` names the seed file and section the step implements (e.g.
    ``"001 §Set up the external cluster, step 3"``) so every action is traceable.
    ``params`` carries action-specific arguments (namespace, sample path and selector,
    wait condition and deadline, helm chart and values, secret source/target roles...).
    """

    name: str
    role: Role
    action: Action
    seed: str
    manifests: tuple[dict[str, Any], ...] = ()
    params: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """A human-readable rendering for ``--plan``: the step line, its params and manifests."""
        head = f"[{self.role}] {self.name} ({self.action.value}) -- seed {self.seed}"
        lines = [head]
        if self.params:
            lines.append("  params: " + ", ".join(f"{key}={value!r}" for key, value in self.params.items()))
        for manifest in self.manifests:
            text = yaml.dump(manifest, Dumper=_SAFE_DUMPER, sort_keys=False).rstrip()
            lines.append("  ---")
            lines.extend("  " + line for line in text.splitlines())
        return "\n".join(lines)


@dataclass(frozen=True)
class ScenarioPlan:
    """A rendered scenario: its id, release and steps (install order) and uninstall steps."""

    scenario: str
    release: str
    roles: tuple[Role, ...]
    steps: tuple[Step, ...]
    uninstall: tuple[Step, ...] = ()

    def describe(self) -> str:
        header = f"# scenario {self.scenario} -- Istio {self.release} -- clusters: {', '.join(self.roles)}"
        body = [f"{index:02d}. {step.describe()}" for index, step in enumerate(self.steps, 1)]
        tail = [f"U{index:02d}. {step.describe()}" for index, step in enumerate(self.uninstall, 1)]
        return "\n".join([header, *body, *(["# uninstall", *tail] if tail else [])])
