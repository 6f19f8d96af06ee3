"""The result of one evaluator: pass/fail, what was expected, what was observed, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Finding:
    """A problem a check recognises as one it knows by name: ``issue`` is its id in the
    known-issue table (suites/known_issues.yaml), ``text`` what was seen. Whether it is an
    expected failure or a plain one is the table's to say (suites/evaluation/known.py)."""

    issue: str
    text: str


@dataclass(frozen=True)
class Verdict:
    """What a check concluded.

    ``problems`` empty means the check passed, ``findings`` the problems it recognised as
    known issues. ``facts`` are figures worth reporting either way (request counts, p-values);
    ``evidence`` holds the observed objects a failing check attaches, ``evidence_always`` what it
    attaches whatever the outcome (already plain data; the test redacts before attaching).
    """

    check: str
    expected: str
    observed: str
    diagnostics: str
    problems: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict, compare=False)
    findings: tuple[Finding, ...] = ()
    evidence_always: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def ok(self) -> bool:
        """No problem, and no known issue either (a known issue is still a failure, expected)."""
        return not self.problems and not self.findings

    @property
    def message(self) -> str:
        status = "passed" if self.ok else f"FAILED ({len(self.problems) + len(self.findings)} problem(s))"
        lines = [f"[{self.check}] {status}"]
        lines.extend(f"  - {problem}" for problem in self.problems)
        lines.extend(f"  - known issue {finding.issue}: {finding.text}" for finding in self.findings)
        lines.append(f"expected: {self.expected}")
        lines.append(f"observed: {self.observed}")
        lines.extend(f"note: {fact}" for fact in self.facts)
        lines.append(f"diagnostics: {self.diagnostics}")
        return "\n".join(lines)


def diagnostics_hint(diagnostics_dir: Path | str | None) -> str:
    """Where a person looks next; said even when the directory is not known yet."""
    if diagnostics_dir is None:
        return "no diagnostics directory configured (see --report-dir)"
    return f"{diagnostics_dir} (pods, events, logs, webhook configurations, istiod debug output)"


def combine(check: str, verdicts: list[Verdict], diagnostics: str) -> Verdict:
    """One verdict for several clusters or vantage points: fails if any part fails."""
    problems = tuple(problem for verdict in verdicts for problem in verdict.problems)
    evidence: dict[str, Any] = {}
    always: dict[str, Any] = {}
    for verdict in verdicts:
        evidence.update(verdict.evidence)
        always.update(verdict.evidence_always)
    return Verdict(
        check=check,
        expected="; ".join(dict.fromkeys(verdict.expected for verdict in verdicts)),
        observed="; ".join(verdict.observed for verdict in verdicts),
        diagnostics=diagnostics,
        problems=problems,
        facts=tuple(fact for verdict in verdicts for fact in verdict.facts),
        evidence=evidence,
        findings=tuple(finding for verdict in verdicts for finding in verdict.findings),
        evidence_always=always,
    )
