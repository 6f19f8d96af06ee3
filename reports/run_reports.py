"""Everything the reports plugin writes at the end of a run, and what xdist workers send for it.

``ReportState`` is one run's: the outcome collector, the command log, the redactor, the
diagnostics directories, the executed plans. ``write_all`` writes ``conformance-report.yaml``/
``.json`` (schema-validated), ``summary.html``, ``plan.yaml`` and, with ``--alluredir``,
``environment.properties`` and ``categories.json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from programs.redaction import Redactor
from programs.runner import CommandRunner
from reports.allure_files import environment_properties, write_environment
from reports.categories import write_categories
from reports.commands import CommandLog
from reports.conformance import REPORT_STEM, ReportInvalid, build_report, write_report
from reports.html import render_summary
from reports.outcomes import OutcomeCollector
from run.config import SuiteConfig
from run.info import RunFacts, RunInfo, build_run_info
from run.state import RunState
from run.timeline import Timeline

PROP_DIAGNOSTICS = "eicp.diagnostics"
WORKER_KEY = "eicp_reports"
SLOW_FIXTURE_S = 1.0
PLAN_FILE = "plan.yaml"
PLAN_API_VERSION = "conformance.eicp.istio.io/v1"


@dataclass
class ReportState:
    report_dir: Path
    outcomes: OutcomeCollector
    commands: CommandLog = field(default_factory=CommandLog)
    redactor: Redactor = field(default_factory=Redactor)
    runner: CommandRunner | None = None
    diagnostics: dict[str, str] = field(default_factory=dict)  # scenario key -> dir, relative to report dir
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)  # scenario key -> executed plan
    written: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def learn(self, runner: CommandRunner) -> None:
        """The session's runner: its commands are logged, its redactor masks failure text."""
        if self.runner is not runner:
            runner.add_listener(self.commands)
        self.runner, self.redactor = runner, runner.redactor


def worker_payload(state: ReportState, timeline: Timeline, facts: RunFacts) -> str:
    return json.dumps(
        {
            "timeline": timeline.to_dicts(),
            "commands": state.commands.to_dict(),
            "runinfo": facts.export(),
            "plans": state.plans,
        }
    )


def merge_payload(state: ReportState, payload: str, timeline: Timeline, facts: RunFacts) -> None:
    data = json.loads(payload)
    timeline.extend_from_dicts(data.get("timeline", []))
    state.commands.merge(data.get("commands", {}))
    facts.merge(data.get("runinfo", {}))
    state.plans.update(data.get("plans", {}))


def write_plan(state: ReportState) -> None:
    """The executed plans (steps, facts, outcomes; secrets redacted) as ``plan.yaml``."""
    if not state.plans:
        return
    document = {
        "apiVersion": PLAN_API_VERSION,
        "kind": "ExecutedPlan",
        "scenarios": [state.plans[name] for name in sorted(state.plans)],
    }
    state.report_dir.mkdir(parents=True, exist_ok=True)
    path = state.report_dir / PLAN_FILE
    # Each string redacted before it is encoded (a YAML dump may fold or escape it), and the
    # encoded text once more.
    text = yaml.safe_dump(state.redactor.redact_document(document), sort_keys=False, allow_unicode=True)
    path.write_text(state.redactor.redact(text))
    state.written.append(path)


def write_all(
    suite: SuiteConfig,
    state: ReportState,
    timeline: Timeline,
    facts: RunFacts,
    alluredir: str | None,
    required: Mapping[tuple[str, str], Sequence[tuple[str, str]]],
) -> None:
    # What tools and clusters reported about themselves goes on every page: redacted too.
    info = RunInfo(**state.redactor.redact_document(asdict(build_run_info(suite, facts=facts))))
    write_plan(state)
    if state.outcomes.outcomes() and not suite.plan:
        state.outcomes.missing(required)
    outcomes = state.outcomes.outcomes()
    if alluredir:
        target = Path(alluredir).resolve()
        scenarios = sorted({outcome.identity.scenario_key for outcome in outcomes})
        state.written.append(
            write_environment(target, environment_properties(info, scenarios), state.redactor)
        )
        state.written.append(write_categories(target))
    if not outcomes or suite.plan:
        return  # no conformance check ran (self-tests, --collect-only, --plan): nothing to certify
    # Strings redacted before they are encoded (JSON escapes, YAML folds, HTML entities hide
    # shapes from a pass over the written text), then the written text once more.
    redactor = state.redactor
    report = redactor.redact_document(build_report(info, outcomes, state.diagnostics))
    try:
        state.written.extend(write_report(report, state.report_dir))
    except ReportInvalid as error:
        state.report_dir.mkdir(parents=True, exist_ok=True)
        invalid = state.report_dir / f"{REPORT_STEM}.invalid.json"
        invalid.write_text(json.dumps(report, indent=2) + "\n")
        state.problems.append(f"{error}\n(the report was written to {invalid} for inspection)")
    summary = state.report_dir / "summary.html"
    page = render_summary(
        info,
        report,
        [replace(outcome, message=redactor.redact(outcome.message)) for outcome in outcomes],
        [replace(record, name=redactor.redact(record.name)) for record in timeline.records()],
        [replace(command, title=redactor.redact(command.title)) for command in state.commands.slowest(15)],
        (state.commands.count, state.commands.total_s, state.commands.failed),
    )
    summary.write_text(redactor.redact(page), encoding="utf-8")
    state.written.append(summary)
    state.written.append(write_timeline(state, timeline))


def write_timeline(state: ReportState, timeline: Timeline) -> Path:
    """``timeline.json``: every phase, and the span of every command the run waited for (the
    input of ci/benchmark.py's per-phase figures and overhead ratio)."""
    path = state.report_dir / "timeline.json"
    document = {"phases": timeline.to_dicts(), "commandSpans": state.commands.to_dict()["spans"]}
    text = json.dumps(state.redactor.redact_document(document), indent=1)
    path.write_text(state.redactor.redact(text) + "\n", encoding="utf-8")
    return path


class RunRecorder:
    """The reports plugin's hooks without a ``config`` argument, bound to one run's state: every
    report into the outcome collector; on the controller, the checks into the timeline and the
    workers' payloads merged."""

    def __init__(self, state: ReportState, run: RunState, controller: bool) -> None:
        self.state, self.run, self.controller = state, run, controller

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = self.state.outcomes.add(report)
        start = getattr(report, "start", None)
        if outcome is None or not self.controller:
            return  # a worker's timeline travels whole; the controller records the checks
        key = outcome.identity.scenario_key
        for name, value in report.user_properties:
            if name == PROP_DIAGNOSTICS:
                self.state.diagnostics.setdefault(key, str(value))
        if start is None:
            return
        status = "passed" if report.passed else ("skipped" if report.skipped else "failed")
        if report.when == "call":
            self.run.timeline.record(
                "check", outcome.identity.check, None, key, start, report.duration, status
            )
        elif report.duration >= SLOW_FIXTURE_S:
            # Slow setup is cluster creation and installation; slow teardown is cleanup.
            kind = "setup" if report.when == "setup" else "cleanup"
            name = f"fixture {report.when} around {outcome.identity.check}"
            self.run.timeline.record(kind, name, None, key, start, report.duration, status)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist: merge what a worker sent from its ``pytest_sessionfinish``."""
        payload = getattr(node, "workeroutput", {}).get(WORKER_KEY)
        if payload:
            merge_payload(self.state, payload, self.run.timeline, self.run.facts)
