"""The executed plan of one scenario: every step as it ran, facts filled in, secrets redacted.

``PlanRecorder`` listens to the installers of one ``ScenarioSession`` (release A's and, in the
pre-upgrade mode, release B's) and keeps the latest rendered plan; ``as_dict`` is the stable
artifact the reports write to ``plan.yaml``: per phase (install, upgrade, uninstall) each step's
name, role, action, seed, params and manifests (redacted), outcome (``passed``, ``failed``,
``environment-fault`` or ``not-run``), duration and error.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable
from typing import Any

from install.installer import StepRecord
from programs.redaction import Redactor
from scenarios.facts import Facts
from scenarios.steps import ScenarioPlan, Step

PHASES: tuple[str, ...] = ("install", "upgrade", "uninstall")
NOT_RUN = "not-run"


def phase_of(record: StepRecord, label: str) -> str:
    """Release B's installer labels its records ``<label>-to-<B>``: those are upgrade steps
    (its uninstall steps, at teardown, are uninstall steps like A's)."""
    if record.phase == "uninstall":
        return "uninstall"
    return "install" if record.scenario == label else "upgrade"


class PlanRecorder:
    """What ran, per phase, in order; thread-safe (installer listeners may run anywhere)."""

    def __init__(
        self, label: str, scenario: str, release: str, redactor: Redactor, guide: str | None = None
    ) -> None:
        self.label = label
        self.scenario = scenario
        self.release = release
        self.guide = guide  # the guide revision the steps follow
        self.redactor = redactor
        self.plan: ScenarioPlan | None = None
        self.upgrade_steps: tuple[Step, ...] = ()
        self._lock = threading.Lock()
        self._records: dict[str, list[StepRecord]] = {phase: [] for phase in PHASES}

    def planned(self, plan: ScenarioPlan) -> None:
        self.plan = plan

    def record(self, record: StepRecord) -> tuple[int, int]:
        """Keep ``record``; return its position (1-based) and the phase's planned length."""
        phase = phase_of(record, self.label)
        with self._lock:
            records = self._records[phase]
            records.append(record)
            index = len(records)
        planned = self._planned_length(phase)
        return index, max(index, planned) if planned else 0

    def records(self, phase: str) -> list[StepRecord]:
        with self._lock:
            return list(self._records[phase])

    def _planned_length(self, phase: str) -> int:
        if phase == "upgrade":
            return len(self.upgrade_steps)
        if self.plan is None or phase == "uninstall":
            return 0  # the ledger decides the uninstall steps as it goes
        return len(self.plan.steps)

    def as_dict(self, facts: Facts | None, teardown_error: str | None) -> dict[str, Any]:
        plan = self.plan
        phases = {
            "install": _steps(plan.steps if plan else (), self.records("install"), self.redactor),
            "upgrade": _steps(self.upgrade_steps, self.records("upgrade"), self.redactor),
            # Uninstall is driven by the ledger (what the install created): its records are the plan.
            "uninstall": _steps((), self.records("uninstall"), self.redactor),
        }
        return {
            "name": self.label,
            "scenario": self.scenario,
            "istioVersion": self.release,
            # Every step's seed names it too; here once for a reader of the whole plan.
            **({"guideRevision": self.guide} if self.guide else {}),
            "clusters": list(plan.roles) if plan else [],
            "facts": _redacted(dataclasses.asdict(facts), self.redactor) if facts is not None else {},
            **{phase: steps for phase, steps in phases.items() if steps or phase != "upgrade"},
            "teardown": {"result": "failed" if teardown_error else "passed", "error": teardown_error},
        }


def _steps(planned: Iterable[Step], records: list[StepRecord], redactor: Redactor) -> list[dict[str, Any]]:
    """Planned steps with their outcomes; a record of a step the plan no longer names is kept too."""
    by_name: dict[str, list[StepRecord]] = {}
    for record in records:
        by_name.setdefault(record.step, []).append(record)
    rows = []
    for index, step in enumerate(planned, 1):
        ran = by_name.get(step.name, [])
        rows.append(_row(index, step, ran.pop(0) if ran else None, redactor))
    leftovers = [record for pending in by_name.values() for record in pending]
    for record in sorted(leftovers, key=lambda entry: entry.started_at):
        row = {"index": len(rows) + 1, "name": record.step, "role": record.role, "action": record.action}
        if record.seed:
            row["seed"] = record.seed
        rows.append(row | _outcome(record))
    return rows


def _row(index: int, step: Step, record: StepRecord | None, redactor: Redactor) -> dict[str, Any]:
    row: dict[str, Any] = {
        "index": index,
        "name": step.name,
        "role": step.role,
        "action": step.action.value,
        "seed": step.seed,
    }
    if step.params:
        row["params"] = _redacted(dict(step.params), redactor)
    if step.manifests:
        row["manifests"] = [_redacted(redactor.redact_manifest(dict(m)), redactor) for m in step.manifests]
    return row | _outcome(record)


def _outcome(record: StepRecord | None) -> dict[str, Any]:
    if record is None:
        return {"outcome": NOT_RUN}
    entry: dict[str, Any] = {"outcome": record.outcome, "durationSeconds": round(record.duration_s, 3)}
    if record.error:
        entry["error"] = record.error  # the installer redacted it
    return entry


def _redacted(value: Any, redactor: Redactor) -> Any:
    """Plain YAML-safe data with every string redacted."""
    if isinstance(value, dict):
        return {str(key): _redacted(item, redactor) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_redacted(item, redactor) for item in items]
    if isinstance(value, str):
        return redactor.redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return redactor.redact(str(value))
