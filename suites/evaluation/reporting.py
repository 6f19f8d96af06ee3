"""Turning a verdict into a test outcome: facts recorded, evidence attached (redacted), failure raised."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import allure
import pytest

from programs.redaction import Redactor
from suites.evaluation.evaluators.verdict import Verdict

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


def attach_evidence(verdict: Verdict, redactor: Redactor) -> None:
    for name, value in verdict.evidence.items():
        if isinstance(value, str):
            allure.attach(redactor.redact(value), name=name, attachment_type=allure.attachment_type.TEXT)
            continue
        text = json.dumps(redacted(value, redactor), indent=2, sort_keys=True, default=str)
        allure.attach(redactor.redact(text), name=name, attachment_type=allure.attachment_type.JSON)


def judge(verdict: Verdict, redactor: Redactor, node: pytest.Item | None = None) -> None:
    """Record the verdict's facts; on failure attach its evidence and fail with its message."""
    for fact in verdict.facts:
        log.info("%s", fact)
        if node is not None:
            node.user_properties.append((verdict.check, fact))
    if verdict.facts:
        allure.attach(
            "\n".join(verdict.facts),
            name=f"{verdict.check} facts",
            attachment_type=allure.attachment_type.TEXT,
        )
    if verdict.ok:
        return
    attach_evidence(verdict, redactor)
    pytest.fail(redactor.redact(verdict.message), pytrace=False)
