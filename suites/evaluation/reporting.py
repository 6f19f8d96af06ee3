"""Turning a verdict into a test outcome: facts recorded, evidence attached (redacted), the outcome
raised: a failure, an expected failure carrying known-issue ids (suites/evaluation/known.py), or none."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import allure
import pytest

from programs.redaction import Redactor
from scenarios.expectations import ScenarioExpectations
from suites.evaluation.evaluators.verdict import Verdict
from suites.evaluation.known import KnownIssue, KnownIssueReproduced, judgement

log = logging.getLogger("eicp.checks")

# What a check calls with its verdict (the ``verdict_of`` fixture).
Judge = Callable[[Verdict], None]


def redacted(value: Any, redactor: Redactor) -> Any:
    """A copy fit for a report: Secret payloads and last-applied annotations dropped, secrets masked."""
    if isinstance(value, dict):
        if isinstance(value.get("items"), list):
            return {
                **redactor.redact_manifest({k: v for k, v in value.items() if k != "items"}),
                "items": [redacted(item, redactor) for item in value["items"]],
            }
        return redactor.redact_manifest(value)
    if isinstance(value, list):
        return [redacted(item, redactor) for item in value]
    if isinstance(value, str):
        return redactor.redact(value)
    return value


def attach_evidence(evidence: dict[str, Any], redactor: Redactor) -> None:
    for name, value in evidence.items():
        if isinstance(value, str):
            allure.attach(redactor.redact(value), name=name, attachment_type=allure.attachment_type.TEXT)
            continue
        text = json.dumps(redacted(value, redactor), indent=2, sort_keys=True, default=str)
        allure.attach(redactor.redact(text), name=name, attachment_type=allure.attachment_type.JSON)


def judge(
    verdict: Verdict,
    redactor: Redactor,
    node: pytest.Item | None = None,
    expected: tuple[KnownIssue, ...] = (),
    exp: ScenarioExpectations | None = None,
) -> None:
    """Record the verdict's facts and attach what it always shows; then fail with its message,
    raise ``KnownIssueReproduced`` when only the expected known issues went wrong (the check's
    strict xfail), or return."""
    facts = [redactor.redact(fact) for fact in verdict.facts]  # figures, but read from clusters
    for fact in facts:
        log.info("%s", fact)
        if node is not None:
            node.user_properties.append((verdict.check, fact))
    if facts:
        allure.attach(
            "\n".join(facts),
            name=f"{verdict.check} facts",
            attachment_type=allure.attachment_type.TEXT,
        )
    attach_evidence(verdict.evidence_always, redactor)
    outcome = judgement(verdict, expected, exp)
    if not outcome.problems and not outcome.known:
        return
    attach_evidence(verdict.evidence, redactor)
    message = redactor.redact(replace(verdict, problems=outcome.problems, findings=outcome.known).message)
    if outcome.expected_failure:
        ids = ", ".join(dict.fromkeys(finding.issue for finding in outcome.known))
        raise KnownIssueReproduced(f"known issue {ids} reproduces (an expected failure)\n{message}")
    pytest.fail(message, pytrace=False)
