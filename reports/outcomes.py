"""Per-check outcomes of the conformance checks, gathered from pytest's test reports.

A conformance check is a test parametrized with ``scenario_id`` (and usually ``release``)
and marked with its check family. Its identity is stored in the item's ``user_properties`` at
collection, so it travels with every report from an xdist worker to the controller (and
shows up as JUnit ``<properties>``).

``OutcomeCollector`` is the run's one record of outcomes (each pytest process has one; under
xdist the controller's sees every worker's reports). Two things it keeps apart from the checks:

- a scenario's teardown (uninstall, proof of restore): a teardown report carrying
  ``PROP_SCENARIO_TEARDOWN`` is the scenario's ``teardown/scenario-uninstall-and-restore``
  outcome, never the outcome of the check pytest happened to run last;
- required checks that did not run (``-k``/``-m``, deselection): ``missing`` adds them as
  skipped, "required check not run", so such a run is ``partial``, never ``success``.

A check that failed only with the known issues it was expected to show (a strict ``xfail``
carrying ``PROP_KNOWN_ISSUE`` properties: suites/known_issues.yaml) is ``known-issue``, with
those issues; it counts apart from passed, failed and skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from reports.categories import classify

CHECK_FAMILIES: tuple[str, ...] = (
    "controlplane",
    "injection",
    "validation",
    "traffic",
    "upgrade",
    "teardown",
)
TEARDOWN_CHECK = "scenario-uninstall-and-restore"
NOT_RUN = "required check not run (not selected: -k/-m, or deselected)"
PROP_SCENARIO_TEARDOWN = "eicp.scenario_teardown"
PROP_SCENARIO = "eicp.scenario"
PROP_RELEASE = "eicp.release"
PROP_FAMILY = "eicp.family"
PROP_CHECK = "eicp.check"
# One expected known issue of a check, as JSON (written by the checks: suites/conftest.py uses the
# same name, as suites and reports do not import each other).
PROP_KNOWN_ISSUE = "eicp.known_issue"
KNOWN_ISSUE = "known-issue"  # the outcome of a check that failed only with its expected known issues
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
    """A release parameter as text: an ``IstioRelease``'s slug (``1.30.5``, ``1.30.5-custom``,
    ``1.31-source-eed52ebb``, as the scenario plugin labels it), else ``str(value)``."""
    slug = getattr(value, "slug", None)
    return str(slug) if slug is not None else str(value)


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
    outcome: str = "passed"  # passed | known-issue | skipped | failed | error
    call_duration: float = 0.0
    total_duration: float = 0.0
    start: float | None = None
    stop: float | None = None
    message: str = ""
    category: str | None = None
    phases: list[str] = field(default_factory=list)
    known_issues: list[dict[str, Any]] = field(default_factory=list)  # the table's entries, when known-issue

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
            "knownIssues": self.known_issues,
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
        if report.when == "teardown" and any(
            name == PROP_SCENARIO_TEARDOWN for name, _ in report.user_properties
        ):
            return self._teardown(identity, report)
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
            if new == KNOWN_ISSUE:
                entry.known_issues = known_issues_of(report)
        return entry

    def _teardown(self, check: CheckIdentity, report: pytest.TestReport) -> CheckOutcome:
        identity = CheckIdentity(check.scenario, check.release, "teardown", TEARDOWN_CHECK)
        key = f"{identity.scenario_key}::teardown"
        entry = CheckOutcome(identity, key, outcome="error", total_duration=report.duration)
        entry.start, entry.stop = getattr(report, "start", None), getattr(report, "stop", None)
        entry.message = failure_message(report)
        entry.category = classify(entry.message, report.longreprtext)
        entry.phases.append("teardown")
        self._outcomes[key] = entry
        return entry

    def outcomes(self) -> list[CheckOutcome]:
        return list(self._outcomes.values())

    def of_scenario(self, scenario_key: str, exclude: Iterable[str] = ("upgrade",)) -> dict[str, str]:
        """nodeid -> outcome (``passed``, ``skipped``, ``failed (call)``...) of the checks of one
        scenario run that reported so far; its teardown and the ``exclude`` families left out."""
        left_out = {"teardown", *exclude}
        found = {}
        for entry in self._outcomes.values():
            if entry.identity.scenario_key != scenario_key or entry.identity.family in left_out:
                continue
            if entry.outcome in ("failed", "error"):
                when = next((phase for phase in entry.phases if phase != "teardown"), "teardown")
                found[entry.nodeid] = f"failed ({when})"
            else:
                found[entry.nodeid] = entry.outcome
        return found

    def missing(self, required: Mapping[tuple[str, str], Iterable[tuple[str, str]]]) -> list[CheckOutcome]:
        """Outcomes of the required checks that never reported: ``(scenario, release)`` ->
        ``(family, check)`` pairs. Returned (and kept) as skipped with ``NOT_RUN``."""
        seen = {
            (o.identity.scenario, o.identity.release, o.identity.family, o.identity.check)
            for o in self.outcomes()
        }
        added = []
        for (scenario, release), checks in required.items():
            for family, check in checks:
                if (scenario, release, family, check) in seen:
                    continue
                identity = CheckIdentity(scenario, release, family, check)
                entry = CheckOutcome(
                    identity, f"{identity.scenario_key}::{family}/{check}", "skipped", message=NOT_RUN
                )
                self._outcomes[entry.nodeid] = entry
                added.append(entry)
        return added


_SEVERITY = {"passed": 0, KNOWN_ISSUE: 1, "skipped": 2, "failed": 3, "error": 4}
_COLLECTOR = pytest.StashKey[OutcomeCollector]()


def outcome_collector(config: pytest.Config) -> OutcomeCollector:
    """The run's one collector (the reports plugin feeds it from ``pytest_runtest_logreport``)."""
    return config.stash.setdefault(_COLLECTOR, OutcomeCollector())


def known_issues_of(report: pytest.TestReport) -> list[dict[str, Any]]:
    """The known-issue entries a check's report carries (``PROP_KNOWN_ISSUE``), each once."""
    found: dict[str, dict[str, Any]] = {}
    for name, value in report.user_properties:
        if name == PROP_KNOWN_ISSUE:
            entry = json.loads(str(value))
            found.setdefault(str(entry.get("id")), entry)
    return list(found.values())


def _phase_outcome(report: pytest.TestReport) -> str | None:
    if report.passed:
        return None
    if report.skipped and hasattr(report, "wasxfail"):
        return KNOWN_ISSUE
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
