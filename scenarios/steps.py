"""The data a scenario renders to: ordered, named steps with the manifests each applies.

A ``Step`` is pure data: the installer (fixtures/installer.py) carries it out, ``--plan``
prints it, the offline tier feeds its manifests to the real tools, golden tests compare it
with the seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import yaml

Role = Literal["external", "remote", "second"]
ROLES: tuple[Role, ...] = ("external", "remote", "second")

SCENARIO_IDS: tuple[str, ...] = ("ip-passthrough", "dns-tls", "sail", "second-remote")


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
            text = yaml.safe_dump(manifest, sort_keys=False).rstrip()
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
