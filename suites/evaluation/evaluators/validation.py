"""Validation: istiod's validating webhook rejects invalid Istio config and admits valid config.

Each probe is sent with a server-side dry run (nothing is stored). The invalid probes pass
the CRD's OpenAPI schema and CEL rules, so only istiod can reject them: a rejection by the
API server itself (schema) would prove nothing about the webhook and is reported as such.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from scenarios.steps import Role
from suites.evaluation.evaluators.k8s import Obj, items, join
from suites.evaluation.evaluators.verdict import Verdict

PROBE_PREFIX = "eicp-validation-probe"
REV_LABEL = "istio.io/rev"
# kubectl's rendering of an admission denial: 'admission webhook "<name>" denied the request: <msg>'
_DENIAL = re.compile(r'admission webhook "(?P<webhook>[^"]+)" denied the request: (?P<message>.*)')
ISTIOD_PREFIX = "configuration is invalid: "


@dataclass(frozen=True)
class Probe:
    """One object sent with a dry run; ``reason`` is what istiod's rejection must say."""

    key: str
    manifest: dict[str, Any]
    valid: bool
    reason: str | None = None

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])


def probes(namespace: str, labels: dict[str, str], host: str = "helloworld") -> tuple[Probe, ...]:
    """An invalid and a valid VirtualService and DestinationRule for ``host`` in ``namespace``."""

    def meta(key: str) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": f"{PROBE_PREFIX}-{key}", "namespace": namespace}
        if labels:
            meta["labels"] = dict(labels)
        return meta

    route = {"route": [{"destination": {"host": host}}]}
    return (
        Probe(
            "invalid-virtualservice",
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "VirtualService",
                "metadata": meta("invalid-vs"),
                # A route to "*" passes the CRD schema; istiod rejects it.
                "spec": {"hosts": [host], "http": [{"route": [{"destination": {"host": "*"}}]}]},
            },
            valid=False,
            reason="invalid destination host *",
        ),
        Probe(
            "invalid-destinationrule",
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "DestinationRule",
                "metadata": meta("invalid-dr"),
                # Subset names must be DNS-1123 labels; the schema only says "string".
                "spec": {"host": host, "subsets": [{"name": "Not_A_Subset", "labels": {"version": "v1"}}]},
            },
            valid=False,
            reason="subset name is invalid",
        ),
        Probe(
            "valid-virtualservice",
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "VirtualService",
                "metadata": meta("valid-vs"),
                "spec": {"hosts": [host], "http": [route]},
            },
            valid=True,
        ),
        Probe(
            "valid-destinationrule",
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "DestinationRule",
                "metadata": meta("valid-dr"),
                "spec": {"host": host, "subsets": [{"name": "v1", "labels": {"version": "v1"}}]},
            },
            valid=True,
        ),
    )


def selector_labels(webhook_config: Obj) -> dict[str, str]:
    """Labels that make an object match the ``objectSelector`` of every webhook in the configuration.

    Revision-specific validators (``istio-validator-<rev>-<ns>``) only see objects labelled
    with their revision; the default validator has no selector and sees everything.
    """
    labels: dict[str, str] = {}
    for webhook in webhook_config.get("webhooks") or []:
        selector = webhook.get("objectSelector") or {}
        labels.update(selector.get("matchLabels") or {})
        for expression in selector.get("matchExpressions") or []:
            if expression.get("operator") == "In" and expression.get("values"):
                labels.setdefault(str(expression["key"]), str(expression["values"][0]))
    return labels


@dataclass(frozen=True)
class ProbeOutcome:
    """What the API server answered to one dry-run probe."""

    probe: Probe
    labels: dict[str, str]
    returncode: int
    stdout: str
    stderr: str
    webhook_configuration: str = ""

    def describe(self) -> str:
        answer = "admitted" if self.returncode == 0 else f"rejected: {self.stderr.strip()}"
        via = f" (labels {self.labels})" if self.labels else ""
        return f"{self.probe.kind} {self.probe.name}{via}: {answer}"


@dataclass(frozen=True)
class Denial:
    webhook: str
    message: str


def parse_denial(stderr: str) -> Denial | None:
    match = _DENIAL.search(stderr)
    if match is None:
        return None
    return Denial(match.group("webhook"), match.group("message").strip())


def evaluate_validation(
    role: Role,
    outcomes: list[ProbeOutcome],
    validating: Obj | None,
    expected_configs: tuple[str, ...],
    leftovers: list[str],
    *,
    diagnostics: str,
) -> Verdict:
    """Invalid probes rejected by an expected validating webhook with istiod's message; valid ones admitted.

    ``validating`` is the cluster's ValidatingWebhookConfiguration list (to know the names of
    the webhooks in the expected configurations); ``leftovers`` are probe objects found after
    the dry runs (there must be none).
    """
    webhook_names = {
        str(hook.get("name"))
        for config in items(validating)
        if (config.get("metadata") or {}).get("name") in expected_configs
        for hook in config.get("webhooks") or []
    }
    problems: list[str] = []
    if not webhook_names:
        problems.append(
            f"{role}: none of the expected validating configurations {join(expected_configs)} exists"
        )
    if not outcomes:
        problems.append(f"{role}: no probe was sent")
    for outcome in outcomes:
        problems.extend(f"{role}: {problem}" for problem in _outcome_problems(outcome, webhook_names))
    problems.extend(f"{role}: dry run left {leftover} behind" for leftover in leftovers)
    return Verdict(
        f"validation[{role}]",
        f"{role}: invalid VirtualService/DestinationRule rejected by webhook {join(sorted(webhook_names))} "
        f"of {join(expected_configs)} with istiod's '{ISTIOD_PREFIX}<reason>'; valid ones admitted; "
        "nothing stored",
        f"{role}: " + join(outcome.describe() for outcome in outcomes),
        diagnostics,
        problems=tuple(problems),
        evidence={
            f"{role}-probes": [
                {
                    "probe": outcome.probe.manifest,
                    "returncode": outcome.returncode,
                    "stdout": outcome.stdout,
                    "stderr": outcome.stderr,
                }
                for outcome in outcomes
            ],
            f"{role}-validating-webhook-configurations": validating or {},
        },
    )


def _outcome_problems(outcome: ProbeOutcome, webhook_names: set[str]) -> list[str]:
    probe = outcome.probe
    label = f"{probe.kind} {probe.name}"
    if probe.valid:
        if outcome.returncode != 0:
            return [f"valid {label} was rejected: {outcome.stderr.strip()}"]
        return []
    if outcome.returncode == 0:
        return [f"invalid {label} was admitted (the validating webhook did not reject it)"]
    denial = parse_denial(outcome.stderr)
    if denial is None:
        return [f"invalid {label} was rejected, but not by an admission webhook: {outcome.stderr.strip()}"]
    problems = []
    if denial.webhook not in webhook_names:
        problems.append(
            f"invalid {label} was denied by webhook {denial.webhook!r}, not by {join(sorted(webhook_names))}"
        )
    if not denial.message.startswith(ISTIOD_PREFIX) or (probe.reason and probe.reason not in denial.message):
        problems.append(
            f"invalid {label} was denied with {denial.message!r}, expected istiod's "
            f"'{ISTIOD_PREFIX}...{probe.reason}...'"
        )
    return problems


@dataclass
class ProbePlan:
    """The probes for one config cluster: one set per distinct label set the validators select on."""

    label_sets: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def for_configs(cls, validating: Obj | None, expected_configs: tuple[str, ...]) -> ProbePlan:
        plan = cls()
        for config in items(validating):
            if (config.get("metadata") or {}).get("name") not in expected_configs:
                continue
            labels = selector_labels(config)
            if labels not in plan.label_sets:
                plan.label_sets.append(labels)
        if not plan.label_sets:
            plan.label_sets.append({})
        return plan
