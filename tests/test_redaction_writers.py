"""Property-based proof that no generated secret survives a report writer or the terminal.

For each case of every family (tests/redaction_families.py) the text carrying the secret goes,
unredacted, into every writer of a run, as a careless caller could hand it over:

- the terminal, JUnit and Allure's status: a failing check's report (its message and captured
  output) after the reports plugin's ``redact_report``;
- Allure attachments: a check's evidence, as text and as a document (``attach_evidence``);
- YAML and JSON reports: the executed plan (``plan.yaml``), the check's outcome in
  ``conformance-report.yaml``/``.json``, a phase in ``timeline.json``;
- HTML: ``summary.html`` (outcome, timeline and slowest command);
- ``environment.properties`` of the Allure results.

Then every file written and every terminal text is searched (tests/redaction_families.leaks).
The runner's own outputs (log, transcript, Allure steps) are tests/test_redaction_property.py's.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import allure
import pytest
from hypothesis import HealthCheck, given, settings

from clusters.kubeconfig import register_secrets
from clusters.providers import MODES
from programs.redaction import Redactor
from programs.runner import CommandRecord
from reports.outcomes import PROP_CHECK, PROP_FAMILY, PROP_RELEASE, PROP_SCENARIO, OutcomeCollector
from reports.pytest_reports import redact_report
from reports.run_reports import ReportState, write_all
from run.config import build_config
from run.info import RunFacts
from run.timeline import Timeline
from suites.evaluation import reporting
from suites.evaluation.evaluators.verdict import Verdict
from tests.options_support import option_getter
from tests.redaction_families import FAMILY_NAMES, Case, leaks, mixed_cases

RUNS = 16  # per group of families
PER_RUN = 6  # cases, of as many families, in one run's reports
GROUPS = 5


class _Attachments:
    """Stands in for ``allure`` inside suites/evaluation/reporting.py: keeps every attachment."""

    attachment_type = allure.attachment_type

    def __init__(self) -> None:
        self.bodies: list[str] = []

    def attach(self, body: str, name: str | None = None, attachment_type: object = None) -> None:
        self.bodies.extend((body, str(name)))


def _failed_report(carried: str, index: int) -> pytest.TestReport:
    identity = {PROP_SCENARIO: "ip-passthrough", PROP_RELEASE: "1.30.5", PROP_FAMILY: "controlplane"}
    return pytest.TestReport(
        nodeid=f"suites/test_controlplane.py::test_istiod_{index}[ip-passthrough-1.30.5]",
        location=("suites/test_controlplane.py", 1, f"test_istiod_{index}"),
        keywords={},
        outcome="failed",
        # As pytest quotes an exception's message: "E   " before each of its lines.
        longrepr="\n".join(f"E   {line}" for line in f"AssertionError: istiod said:\n{carried}".split("\n")),
        when="call",
        sections=[("Captured stdout call", carried), ("Captured log call", f"INFO eicp: {carried}")],
        duration=1.0,
        start=1000.0 + index,
        stop=1001.0 + index,
        user_properties=[*identity.items(), (PROP_CHECK, f"test_istiod_{index}")],
    )


def _terminal_and_allure(
    redactor: Redactor, carried: str, document: Any, index: int
) -> tuple[pytest.TestReport, list[str]]:
    """A failing check's report after ``redact_report`` (what the terminal, JUnit and the
    outcome collector get) and the texts shown: the report's, and the check's message, facts
    and evidence as Allure gets them (``judge``)."""
    terminal = _failed_report(carried, index)
    call = pytest.CallInfo.from_call(lambda: (_ for _ in ()).throw(AssertionError(carried)), when="call")
    redact_report(terminal, call, redactor)
    evidence = {"said": carried, "object": document if document is not None else {"output": carried}}
    verdict = Verdict("test_istiod", "ok", carried, carried, (carried,), (carried,), evidence)
    with pytest.raises(pytest.fail.Exception) as failed:
        reporting.judge(verdict, redactor)
    shown = [terminal.longreprtext, *(text for _title, text in terminal.sections), str(call.excinfo)]
    return terminal, [*shown, str(failed.value)]


def _write_reports(
    root: Path, redactor: Redactor, carried: list[tuple[str, Any]], reports: list[pytest.TestReport]
) -> list[str]:
    """Every report writer fed every carried text (the checks' reports as the reports plugin
    hands them over, redacted; everything else raw); the files they wrote."""
    shutil.rmtree(root, ignore_errors=True)
    state = ReportState(report_dir=root / "report", outcomes=OutcomeCollector(), redactor=redactor)
    timeline = Timeline()
    facts = RunFacts()
    for index, (text, document) in enumerate(carried):
        state.outcomes.add(reports[index])
        state.commands(CommandRecord(f"kubectl get {text}", ("kubectl",), 1000.0, 30.0 + index, 1, False))
        state.plans[f"scenario-{index}"] = {
            "scenario": f"scenario-{index}",
            "steps": [{"title": text, "params": {"argv": ["istioctl", text]}, "error": text}],
            "facts": {"learnt": text, "document": document},
        }
        timeline.record("install", text, "external", "ip-passthrough-1.30.5", 1000.0 + index, 2.0, "failed")
        facts.note_tool(f"tool-{index}", text, "download")
    suite = build_config(
        option_getter("--report-dir", str(root / "report"), "--tools-dir", str(root / "tools")), modes=MODES
    )
    write_all(suite, state, timeline, facts, str(root / "allure"), {})
    assert state.problems == [], state.problems
    return [path.read_text(errors="replace") for path in root.rglob("*") if path.is_file()]


@pytest.mark.parametrize("group", range(GROUPS))
def test_no_generated_secret_survives_any_writer_or_the_terminal(
    group: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each run of the writers carries one case of each family of this group (a report per
    case would cost PER_RUN times more); the groups together hold every family."""
    families = list(range(group * PER_RUN, min((group + 1) * PER_RUN, len(FAMILY_NAMES))))
    counted: dict[str, int] = {}
    attachments = _Attachments()
    monkeypatch.setattr(reporting, "allure", attachments)
    scratch = tempfile.TemporaryDirectory(prefix="eicp-writers-")
    root = Path(scratch.name)

    @settings(
        max_examples=RUNS,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(batch=mixed_cases(families))
    def check(batch: list[tuple[tuple[str, Case], str, str]]) -> None:
        redactor = Redactor()
        carried: list[tuple[str, Any]] = []
        for (family, case), before, after in batch:
            counted[family] = counted.get(family, 0) + 1
            for value in case.register:
                redactor.register(value)
            if case.kubeconfig is not None:
                register_secrets(case.kubeconfig, redactor)
            text = f"{before}{case.text}{after}"
            if case.env_name is not None:  # a variable of the environment, as a tool prints it
                text = f"{before}{case.env_name}={case.forbidden[0]}{after}"
            carried.append((text, case.document))
        attachments.bodies.clear()
        reports, shown = [], []
        for index, (one, document) in enumerate(carried):
            report, texts = _terminal_and_allure(redactor, one, document, index)
            reports.append(report)
            shown.extend(texts)
        texts = [*_write_reports(root, redactor, carried, reports), *shown, *attachments.bodies]
        problems = [problem for (_family, case), _b, _a in batch for problem in leaks(case, texts)]
        assert problems == [], "\n".join(problems[:5])

    try:
        check()
    finally:
        scratch.cleanup()
    total = sum(counted.values())
    line = f"redaction property test (writers, group {group}): {total} generated cases, by family: {json.dumps(dict(sorted(counted.items())))}"
    with capsys.disabled():
        print(f"\n{line}", file=sys.stderr, flush=True)  # an xdist worker's stderr reaches the terminal
    assert total >= RUNS * PER_RUN
    assert set(counted) == {FAMILY_NAMES[family] for family in families}, "every family was generated"


def test_the_groups_hold_every_family() -> None:
    assert GROUPS * PER_RUN >= len(FAMILY_NAMES) > (GROUPS - 1) * PER_RUN
