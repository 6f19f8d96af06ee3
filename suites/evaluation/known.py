"""Known upstream issues as results: the table (suites/known_issues.yaml) and what it says of a verdict.

A check's verdict may carry ``findings``: problems the check recognised as a listed issue. For
each check, the table says which issues reproduce for the scenario under test
(``reproduces_when``: fields of its expectations; ``fixed_in``: the first release without it).
``judgement`` then sorts a verdict out:

- a finding the table does not list, or lists but not as reproducing here: a plain problem;
- an issue the table expects here that the verdict did not find, while nothing else failed:
  "known issue X no longer reproduces: retire it", a plain problem;
- otherwise, the expected findings alone: an expected failure carrying their ids.

The plugin side (suites/conftest.py) marks a check whose issues are expected with a strict
``xfail`` that only ``KnownIssueReproduced`` satisfies: any other failure stays a failure, and a
pass where a failure was expected fails the check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from scenarios.expectations import ScenarioExpectations
from scenarios.versions import IstioVersion
from suites.evaluation.evaluators.verdict import Finding, Verdict

TABLE = Path(__file__).resolve().parent.parent / "known_issues.yaml"
PROP_KNOWN_ISSUE = "eicp.known_issue"  # user property: one expected issue of a check, as JSON


class KnownIssueReproduced(Exception):
    """Raised by a check whose only problems are the known issues the table expects."""


class KnownIssueTableError(ValueError):
    """The table is malformed; the message names the entry and the field."""


@dataclass(frozen=True)
class KnownIssue:
    id: str
    title: str
    affected: str
    check: str
    detection: str
    consequence: str
    workaround: str
    workaround_option: str | None
    upstream: str | None
    reproduces_when: Mapping[str, Any]
    fixed_in: str | None

    def reproduces(self, exp: ScenarioExpectations, version: IstioVersion) -> bool:
        if self.fixed_in is not None and version >= IstioVersion.parse(self.fixed_in):
            return False
        return all(getattr(exp, name) == value for name, value in self.reproduces_when.items())

    def why_not(self, exp: ScenarioExpectations) -> str:
        differing = [
            f"{name} is {getattr(exp, name)!r}, not {value!r}"
            for name, value in self.reproduces_when.items()
            if getattr(exp, name) != value
        ]
        return "; ".join(differing) or f"fixed in {self.fixed_in}"

    def report(self) -> dict[str, Any]:
        """The entry as the reports show it."""
        entry = asdict(self)
        entry["reproduces_when"] = dict(self.reproduces_when)
        return entry


_EXPECTATION_FIELDS = {f.name for f in fields(ScenarioExpectations)}
_REQUIRED = ("id", "title", "affected", "check", "detection", "consequence", "workaround")


def _parse(raw: Mapping[str, Any], index: int) -> KnownIssue:
    where = f"{TABLE.name} entry {index} ({raw.get('id', 'no id')})"
    for name in _REQUIRED:
        if not isinstance(raw.get(name), str) or not raw[name].strip():
            raise KnownIssueTableError(f"{where}: {name} must be a non-empty string")
    conditions = raw.get("reproduces_when") or {}
    unknown = sorted(set(conditions) - _EXPECTATION_FIELDS)
    if unknown:
        raise KnownIssueTableError(
            f"{where}: reproduces_when names {', '.join(unknown)}, not fields of ScenarioExpectations"
        )
    extra = sorted(set(raw) - {f.name for f in fields(KnownIssue)})
    if extra:
        raise KnownIssueTableError(f"{where}: unknown field(s) {', '.join(extra)}")
    return KnownIssue(
        id=raw["id"],
        title=" ".join(raw["title"].split()),
        affected=" ".join(raw["affected"].split()),
        check=raw["check"],
        detection=" ".join(raw["detection"].split()),
        consequence=" ".join(raw["consequence"].split()),
        workaround=" ".join(raw["workaround"].split()),
        workaround_option=raw.get("workaround_option"),
        upstream=raw.get("upstream"),
        reproduces_when=dict(conditions),
        fixed_in=raw.get("fixed_in"),
    )


@cache
def table(path: Path = TABLE) -> dict[str, KnownIssue]:
    """The table by id (read once); ``KnownIssueTableError`` names a malformed entry."""
    raw = yaml.safe_load(path.read_text()) or []
    issues = [_parse(entry, index) for index, entry in enumerate(raw)]
    by_id = {issue.id: issue for issue in issues}
    if len(by_id) != len(issues):
        raise KnownIssueTableError(f"{path.name}: an id is listed twice")
    return by_id


def expected_issues(
    check: str,
    exp: ScenarioExpectations,
    version: IstioVersion,
    issues: Mapping[str, KnownIssue] | None = None,
) -> tuple[KnownIssue, ...]:
    """The listed issues ``check`` (``family/test_name``) detects that reproduce for ``exp``."""
    listed = table() if issues is None else issues
    return tuple(
        issue for issue in listed.values() if issue.check == check and issue.reproduces(exp, version)
    )


@dataclass(frozen=True)
class Judgement:
    problems: tuple[str, ...]  # plain failures
    known: tuple[Finding, ...]  # listed issues expected here, as found

    @property
    def expected_failure(self) -> bool:
        """Only expected known issues went wrong: the check fails as expected, with their ids."""
        return not self.problems and bool(self.known)


def judgement(
    verdict: Verdict,
    expected: tuple[KnownIssue, ...],
    exp: ScenarioExpectations | None = None,
    issues: Mapping[str, KnownIssue] | None = None,
) -> Judgement:
    listed = table() if issues is None else issues
    wanted = {issue.id for issue in expected}
    problems = list(verdict.problems)
    known: list[Finding] = []
    for finding in verdict.findings:
        issue = listed.get(finding.issue)
        if issue is None:
            problems.append(f"{finding.text} (detected as {finding.issue}, which {TABLE.name} does not list)")
        elif finding.issue not in wanted:
            why = issue.why_not(exp) if exp is not None else "not expected for this check"
            problems.append(
                f"{finding.text} (known issue {finding.issue}, seen where {TABLE.name} says it does not reproduce: {why})"
            )
        else:
            known.append(finding)
    if not problems:
        found = {finding.issue for finding in known}
        problems += [
            f"known issue {issue.id} no longer reproduces: retire it ({issue.title}; {TABLE.name})"
            for issue in expected
            if issue.id not in found
        ]
    return Judgement(tuple(problems), tuple(known))


def as_facts(verdict: Verdict) -> Verdict:
    """The verdict with its findings told as facts (when another check re-judges this one, as the
    upgrade does: the issue is reported by the check that owns it)."""
    if not verdict.findings:
        return verdict
    facts = tuple(f"known issue {f.issue} reproduces: {f.text}" for f in verdict.findings)
    return Verdict(
        verdict.check,
        verdict.expected,
        verdict.observed,
        verdict.diagnostics,
        problems=verdict.problems,
        facts=(*verdict.facts, *facts),
        evidence=verdict.evidence,
        evidence_always=verdict.evidence_always,
    )
