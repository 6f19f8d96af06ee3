"""Per-check outcomes of the conformance checks, gathered from pytest's test reports.

A conformance check is a test parametrized with ``scenario_id`` (and usually ``release``)
and marked with its check family. Its identity is stored in the item's ``user_properties`` at
collection, so it travels with every report from an xdist worker to the controller (and
shows up as JUnit ``<properties>``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from reports.categories import classify

CHECK_FAMILIES: tuple[str, ...] = ("controlplane", "injection", "validation", "traffic", "upgrade")
PROP_SCENARIO = "eicp.scenario"
PROP_RELEASE = "eicp.release"
PROP_FAMILY = "eicp.family"
PROP_CHECK = "eicp.check"
_MESSAGE_LIMIT = 600


@dataclass(frozen=True)
class CheckIdentity:
    scenario: str
    release: str
    family: str
    check: str

    @property
    def scenario_key(self) -> str:
        """How the reports name a scenario run: ``ip-passthrough-1.30.3``."""
        return f"{self.scenario}-{self.release}" if self.release else self.scenario


def release_text(value: Any) -> str:
    """A release parameter as text: an ``IstioRelease``'s version (``-custom`` for a custom build,
    as the scenario plugin labels it), else ``str(value)``."""
    version = getattr(value, "version", None)
    if version is None:
        return str(value)
    return f"{version}-custom" if getattr(value, "custom", False) else str(version)


def identify(item: pytest.Item) -> CheckIdentity | None:
    """The check identity of a conformance test item, or ``None`` for any other test."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or "scenario_id" not in callspec.params:
        return None
    params: dict[str, Any] = callspec.params
    family = next((mark.name for mark in item.iter_markers() if mark.name in CHECK_FAMILIES), "other")
    base = getattr(item, "originalname", item.name)
    extra = [f"{value}" for key, value in params.items() if key not in ("scenario_id", "release")]
    check = base + (f"[{'-'.join(extra)}]" if extra else "")
    release = release_text(params["release"]) if "release" in params else ""
    return CheckIdentity(str(params["scenario_id"]), release, family, check)


def store_identity(item: pytest.Item, identity: CheckIdentity) -> None:
    existing = {name for name, _ in item.user_properties}
    for name, value in (
        (PROP_SCENARIO, identity.scenario),
        (PROP_RELEASE, identity.release),
        (PROP_FAMILY, identity.family),
        (PROP_CHECK, identity.check),
    ):
        if name not in existing:
            item.user_properties.append((name, value))


def identity_from_report(report: pytest.TestReport) -> CheckIdentity | None:
    props = {name: str(value) for name, value in report.user_properties}
    if PROP_SCENARIO not in props:
        return None
    return CheckIdentity(
        props[PROP_SCENARIO], props.get(PROP_RELEASE, ""), props.get(PROP_FAMILY, "other"), props[PROP_CHECK]
    )


@dataclass
class CheckOutcome:
    identity: CheckIdentity
    nodeid: str
    outcome: str = "passed"  # passed | failed | skipped | error
    call_duration: float = 0.0
    total_duration: float = 0.0
    start: float | None = None
    stop: float | None = None
    message: str = ""
    category: str | None = None
    phases: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.identity.scenario,
            "release": self.identity.release,
            "family": self.identity.family,
            "check": self.identity.check,
            "nodeid": self.nodeid,
            "outcome": self.outcome,
            "callDuration": self.call_duration,
            "totalDuration": self.total_duration,
            "message": self.message,
            "category": self.category,
        }


def failure_message(report: pytest.TestReport) -> str:
    """The one-line reason of a failed or skipped report (already redacted by the plugin)."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # skip: (path, line, reason)
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    message = getattr(crash, "message", None)
    if not message:
        text = report.longreprtext
        error_lines = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
        message = "\n".join(error_lines) if error_lines else (text.strip().splitlines() or [""])[-1]
    return str(message)[:_MESSAGE_LIMIT]


class OutcomeCollector:
    """Folds setup/call/teardown reports into one outcome per conformance check."""

    def __init__(self) -> None:
        self._outcomes: dict[str, CheckOutcome] = {}

    def add(self, report: pytest.TestReport) -> CheckOutcome | None:
        identity = identity_from_report(report)
        if identity is None:
            return None
        entry = self._outcomes.setdefault(report.nodeid, CheckOutcome(identity, report.nodeid))
        entry.phases.append(report.when or "")
        entry.total_duration += report.duration
        start = getattr(report, "start", None)
        stop = getattr(report, "stop", None)
        if start is not None:
            entry.start = start if entry.start is None else min(entry.start, start)
        if stop is not None:
            entry.stop = stop if entry.stop is None else max(entry.stop, stop)
        if report.when == "call":
            entry.call_duration = report.duration
        new = _phase_outcome(report)
        if new is not None and _SEVERITY[new] > _SEVERITY[entry.outcome]:
            entry.outcome = new
            entry.message = failure_message(report)
            if new in ("failed", "error"):
                entry.category = classify(entry.message, report.longreprtext)
        return entry

    def outcomes(self) -> list[CheckOutcome]:
        return list(self._outcomes.values())


_SEVERITY = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


def _phase_outcome(report: pytest.TestReport) -> str | None:
    if report.passed:
        return None
    if report.skipped:
        return "skipped"
    # A failing fixture (setup) or finaliser (teardown) is an error, not a failed check.
    return "failed" if report.when == "call" else "error"


def group_by_scenario(outcomes: Iterable[CheckOutcome]) -> dict[tuple[str, str], list[CheckOutcome]]:
    groups: dict[tuple[str, str], list[CheckOutcome]] = {}
    for outcome in outcomes:
        groups.setdefault((outcome.identity.scenario, outcome.identity.release), []).append(outcome)
    return groups


def ordered_checks(outcomes: Sequence[CheckOutcome]) -> list[tuple[str, str]]:
    """Distinct (family, check) pairs, by family order then first appearance."""
    seen: dict[tuple[str, str], int] = {}
    for index, outcome in enumerate(outcomes):
        seen.setdefault((outcome.identity.family, outcome.identity.check), index)
    family_rank = {family: rank for rank, family in enumerate((*CHECK_FAMILIES, "other"))}
    return sorted(seen, key=lambda pair: (family_rank.get(pair[0], len(family_rank)), seen[pair]))
