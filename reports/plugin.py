"""The reporting plugin: outcomes, timeline, redaction of failure output, diagnostics, reports.

During the run it
- tags every conformance check (``scenario_id``/``release`` parametrization + family marker)
  with its identity in ``user_properties`` (these travel to the xdist controller and JUnit);
- subscribes to the session ``CommandRunner`` and learns the session ``Redactor``;
- redacts failure text (longrepr, captured output, the exception message Allure reads);
- on the first failing check of a scenario collects diagnostics before any cleanup, attaches
  a summary to the test and names the directory in the failure output;
- sets Allure labels (scenario, Istio version/build, Kubernetes version, check family).

At session end (the controller under xdist, after merging what the workers sent) it writes
``conformance-report.yaml``/``.json`` (schema-validated), ``summary.html`` and, with
``--alluredir``, ``environment.properties`` and ``categories.json``. JUnit XML goes to
``<report-dir>/junit.xml`` unless ``--junitxml`` says otherwise.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import allure
import pytest

from fixtures.options import DEFAULT_REPORT_DIR, SUITE_CONFIG
from fixtures.redaction import Redactor
from fixtures.runner import CommandRunner
from reports import runinfo
from reports.allure_files import environment_properties, write_environment
from reports.categories import write_categories
from reports.commands import CommandLog
from reports.conformance import REPORT_STEM, ReportInvalid, build_report, write_report
from reports.diagnostics import (
    SUMMARY_FILE,
    DiagnosticsResult,
    collect_diagnostics,
    namespaces_from_plan,
    safe_name,
)
from reports.html import render_summary
from reports.outcomes import CheckIdentity, OutcomeCollector, identify, store_identity
from reports.timeline import Timeline, current_timeline

log = logging.getLogger("eicp.reports")

DIAGNOSTICS_DEADLINE_S = 300.0
PROP_DIAGNOSTICS = "eicp.diagnostics"
_WORKER_KEY = "eicp_reports"
_SLOW_FIXTURE_S = 1.0


@dataclass
class ReportState:
    report_dir: Path
    outcomes: OutcomeCollector = field(default_factory=OutcomeCollector)
    commands: CommandLog = field(default_factory=CommandLog)
    redactor: Redactor = field(default_factory=Redactor)
    runner: CommandRunner | None = None
    subscribed: set[int] = field(default_factory=set)
    diagnostics: dict[str, str] = field(default_factory=dict)  # scenario key -> dir, relative to report dir
    written: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


STATE = pytest.StashKey[ReportState]()
# allure's dynamic API is untyped; one Any-typed handle keeps mypy --strict quiet about it.
_dynamic: Any = allure.dynamic


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _report_dir(config: pytest.Config) -> Path:
    chosen = config.getoption("--report-dir", default=None)
    return Path(chosen or DEFAULT_REPORT_DIR).resolve()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    report_dir = _report_dir(config)
    config.stash[STATE] = ReportState(report_dir=report_dir)
    # junitxml reads config.option.xmlpath in its own pytest_configure, which runs after this one.
    wants_junit = not _is_worker(config) and not config.getoption("--plan", default=False)
    if wants_junit and getattr(config.option, "xmlpath", "absent") is None:
        config.option.xmlpath = str(report_dir / "junit.xml")
    # In-process pytest runs (self-tests) must not inherit an earlier run's records.
    current_timeline().clear()
    runinfo.reset()
    if not _is_worker(config):
        # Under xdist the controller gets every worker's reports; workers only send their extras.
        config.pluginmanager.register(_Recorder(config.stash[STATE]), "eicp-report-recorder")


def _state(config: pytest.Config) -> ReportState | None:
    return config.stash.get(STATE, None)


@pytest.fixture(scope="session")
def timeline() -> Timeline:
    """The run's timeline: ``timeline.record(...)`` or ``with timeline.phase(...)``."""
    return current_timeline()


# --- learning the session's runner and redactor -------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, Any, Any]:
    value = yield
    state = _state(request.config)
    if state is not None and fixturedef.scope == "session":
        if isinstance(value, CommandRunner):
            if id(value) not in state.subscribed:
                value.add_listener(state.commands)
                state.subscribed.add(id(value))
            state.runner = value
            state.redactor = value.redactor
        elif isinstance(value, Redactor):
            state.redactor = value
    return value


# --- identities and Allure labels ----------------------------------------------------------


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        identity = identify(item)
        if identity is not None:
            store_identity(item, identity)


def _release_build(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    release = callspec.params.get("release") if callspec is not None else None
    label = getattr(release, "label", None)
    return str(label) if label is not None else None


@pytest.fixture(autouse=True)
def _eicp_allure_labels(request: pytest.FixtureRequest) -> None:
    """Allure labels of a conformance check; a no-op for any other test or without --alluredir."""
    identity = identify(request.node) if isinstance(request.node, pytest.Item) else None
    if identity is None:
        return
    info = runinfo.export()
    kubernetes = (
        ", ".join(f"{role}={version}" for role, version in sorted(info["kubernetes"].items()))
        or runinfo.UNKNOWN
    )
    build = _release_build(request.node) or identity.release
    _dynamic.parent_suite(f"Istio {identity.release}" if identity.release else "Istio")
    _dynamic.suite(identity.scenario)
    _dynamic.sub_suite(identity.family)
    _dynamic.label("scenario", identity.scenario)
    _dynamic.label("istio_version", identity.release or runinfo.UNKNOWN)
    _dynamic.label("istio_build", build or runinfo.UNKNOWN)
    _dynamic.label("kubernetes_version", kubernetes)
    _dynamic.label("check_family", identity.family)
    _dynamic.tag(identity.scenario)  # the family marker already is a tag
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and "release" in callspec.params:
        # The release's repr is a page long; the build label is what a reader needs.
        _dynamic.parameter("release", build)


# --- redaction of failure output, diagnostics ----------------------------------------------


def _redact_report(report: pytest.TestReport, call: pytest.CallInfo[None], redactor: Redactor) -> None:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        report.longrepr = (longrepr[0], longrepr[1], redactor.redact(str(longrepr[2])))
    elif longrepr is not None:
        text = report.longreprtext
        cleaned = redactor.redact(text)
        if cleaned != text:
            report.longrepr = cleaned  # plain text loses colour, keeps the secret out
    report.sections = [(title, redactor.redact(content)) for title, content in report.sections]
    if call.excinfo is not None:
        # Allure builds its status message from the exception itself.
        error = call.excinfo.value
        message = str(error)
        cleaned = redactor.redact(message)
        if cleaned != message:
            with contextlib.suppress(AttributeError, TypeError):
                error.args = (cleaned,)


def _fixture_value(item: pytest.Item, name: str) -> Any:
    """A fixture's value for this item if it was set up (even when a later fixture failed)."""
    funcargs = getattr(item, "funcargs", {})
    if name in funcargs:
        return funcargs[name]
    info = getattr(item, "_fixtureinfo", None)
    for fixturedef in reversed(getattr(info, "name2fixturedefs", {}).get(name, ())):
        cached = getattr(fixturedef, "cached_result", None)
        if cached is not None and cached[2] is None:
            return cached[0]
    return None


def _kind_binary(item: pytest.Item) -> str | None:
    tools = _fixture_value(item, "tools")
    if tools is None:
        return None
    try:
        return str(tools.resolve("kind").path)
    except Exception:  # no kind at hand: diagnostics go on without `kind export logs`
        return None


def _diagnose(
    item: pytest.Item, identity: CheckIdentity, state: ReportState
) -> tuple[str, DiagnosticsResult | None, str]:
    """Collect the scenario's diagnostics once; return (directory relative to the report dir,
    result, note)."""
    key = identity.scenario_key
    if key in state.diagnostics:
        return state.diagnostics[key], None, "already collected for this scenario at its first failure"
    installed = _fixture_value(item, "installed_scenario")
    topology = getattr(installed, "topology", None) or _fixture_value(item, "topology")
    out_dir = Path(
        getattr(installed, "diagnostics_dir", None) or state.report_dir / "diagnostics" / safe_name(key)
    )
    relative = (
        str(out_dir.relative_to(state.report_dir))
        if out_dir.is_relative_to(state.report_dir)
        else str(out_dir)
    )
    if (out_dir / SUMMARY_FILE).exists():
        # The scenario fixture collects when an install fails, before it uninstalls.
        state.diagnostics[key] = relative
        return relative, None, "collected when the scenario's installation failed, before its uninstall"
    if topology is None or not hasattr(topology, "clusters"):
        return "", None, "no cluster topology was set up for this scenario: nothing to collect"
    namespaces = getattr(installed, "namespaces_by_role", None)
    plan = getattr(installed, "plan", None)
    if namespaces is None:
        namespaces = namespaces_from_plan(plan) if plan is not None and hasattr(plan, "steps") else {}
    runner = state.runner or next(iter(topology.clusters.values())).runner
    state.diagnostics[key] = relative
    deadline = float(item.config.getoption("--diagnostics-timeout", default=None) or DIAGNOSTICS_DEADLINE_S)
    with current_timeline().phase("diagnostics", f"collect diagnostics of {key}", scenario=key):
        result = collect_diagnostics(
            topology,
            namespaces,
            out_dir,
            runner,
            deadline,
            kind_bin=_kind_binary(item),
            extra_logs=sorted(state.report_dir.glob("logs/*cloud-provider-kind*")),
        )
    return relative, result, ""


def _attach_diagnostics(
    item: pytest.Item, report: pytest.TestReport, identity: CheckIdentity, state: ReportState
) -> None:
    try:
        relative, result, note = _diagnose(item, identity, state)
    except Exception as error:  # never let diagnostics hide the failure they are about
        relative, result, note = "", None, f"diagnostics collection failed: {type(error).__name__}: {error}"
    text = note
    if relative:
        where = state.report_dir / relative
        text = f"diagnostics of {identity.scenario_key}: {where}" + (f" ({note})" if note else "")
        summary = where / SUMMARY_FILE
        if result is not None:
            text += "\n" + result.summary()
        elif summary.is_file():
            text += "\n" + summary.read_text(encoding="utf-8", errors="replace")
        # On the report for the controller; on the item so later reports (JUnit reads teardown's) carry it.
        report.user_properties.append((PROP_DIAGNOSTICS, relative))
        item.user_properties.append((PROP_DIAGNOSTICS, relative))
    text = state.redactor.redact(text)
    report.sections.append(("eicp diagnostics", text))
    allure.attach(text, name="diagnostics", attachment_type=allure.attachment_type.TEXT)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # trylast: the innermost wrapper, so JUnit and Allure only ever see the redacted report.
    report = yield
    state = _state(item.config)
    if state is None:
        return report
    _redact_report(report, call, state.redactor)
    identity = identify(item)
    if identity is not None and report.failed and report.when in ("setup", "call"):
        _attach_diagnostics(item, report, identity, state)
    return report


# --- collecting outcomes (controller side) -------------------------------------------------


class _Recorder:
    """Hooks without a ``config`` argument, bound to this session's state."""

    def __init__(self, state: ReportState) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = self.state.outcomes.add(report)
        if outcome is None:
            return
        key = outcome.identity.scenario_key
        for name, value in report.user_properties:
            if name == PROP_DIAGNOSTICS:
                self.state.diagnostics.setdefault(key, str(value))
        start = getattr(report, "start", None)
        if start is None:
            return
        status = "passed" if report.passed else ("skipped" if report.skipped else "failed")
        if report.when == "call":
            current_timeline().record(
                "check", outcome.identity.check, None, key, start, report.duration, status
            )
        elif report.duration >= _SLOW_FIXTURE_S:
            # Slow setup is cluster creation and installation; slow teardown is cleanup.
            kind = "setup" if report.when == "setup" else "cleanup"
            name = f"fixture {report.when} around {outcome.identity.check}"
            current_timeline().record(kind, name, None, key, start, report.duration, status)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist: merge what a worker sent from its ``pytest_sessionfinish``."""
        payload = getattr(node, "workeroutput", {}).get(_WORKER_KEY)
        if not payload:
            return
        data = json.loads(payload)
        current_timeline().extend_from_dicts(data.get("timeline", []))
        self.state.commands.merge(data.get("commands", {}))
        runinfo.merge(data.get("runinfo", {}))


def _worker_payload(state: ReportState) -> str:
    return json.dumps(
        {
            "timeline": current_timeline().to_dicts(),
            "commands": state.commands.to_dict(),
            "runinfo": runinfo.export(),
        }
    )


# --- writing the reports --------------------------------------------------------------------


def _write_reports(config: pytest.Config, state: ReportState) -> None:
    suite = config.stash.get(SUITE_CONFIG, None)
    if suite is None:
        return
    info = runinfo.build_run_info(suite)
    outcomes = state.outcomes.outcomes()
    alluredir = getattr(config.option, "allure_report_dir", None)
    if alluredir:
        target = Path(alluredir).resolve()
        scenarios = sorted({outcome.identity.scenario_key for outcome in outcomes})
        state.written.append(
            write_environment(target, environment_properties(info, scenarios), state.redactor)
        )
        state.written.append(write_categories(target))
    if not outcomes or suite.plan:
        return  # no conformance check ran (self-tests, --collect-only, --plan): nothing to certify
    report = build_report(info, outcomes, state.diagnostics)
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
        outcomes,
        current_timeline().records(),
        state.commands.slowest(15),
        (state.commands.count, state.commands.total_s, state.commands.failed),
    )
    summary.write_text(state.redactor.redact(page), encoding="utf-8")
    state.written.append(summary)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = _state(config)
    if state is None:
        return
    if _is_worker(config):
        config.workeroutput[_WORKER_KEY] = _worker_payload(state)  # type: ignore[attr-defined]
        return
    _write_reports(config, state)
    if state.problems:
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = _state(config)
    if state is None or _is_worker(config) or not (state.written or state.problems):
        return
    terminalreporter.section("eicp reports")
    for path in state.written:
        terminalreporter.line(str(path))
    for problem in state.problems:
        terminalreporter.line(problem, red=True)
