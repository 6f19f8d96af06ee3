"""What the reports plugin does to pytest's own reports: redaction and the Allure labels."""

from __future__ import annotations

import contextlib
from typing import Any

import allure
import pytest

from programs.redaction import Redactor
from programs.visible import visible
from reports.outcomes import CheckIdentity

# allure's dynamic API is untyped; one Any-typed handle keeps mypy --strict quiet about it.
_dynamic: Any = allure.dynamic


def redact_report(report: pytest.TestReport, call: pytest.CallInfo[None], redactor: Redactor) -> None:
    """Failure text, captured output and the exception Allure reads, with every secret masked
    and every control byte of a tool's output made visible (programs/visible.py): this is what
    the terminal, JUnit and Allure show."""

    def clean(text: str) -> str:
        return visible(redactor.redact(text))

    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        report.longrepr = (longrepr[0], longrepr[1], clean(str(longrepr[2])))
    elif longrepr is not None:
        text = report.longreprtext
        cleaned = clean(text)
        if cleaned != text:
            report.longrepr = cleaned  # plain text loses colour, keeps the secret out
    report.sections = [(title, clean(content)) for title, content in report.sections]
    if call.excinfo is not None:
        # Allure builds its status message from the exception itself.
        error = call.excinfo.value
        message = str(error)
        cleaned = clean(message)
        if cleaned != message:
            with contextlib.suppress(AttributeError, TypeError):
                error.args = (cleaned,)


def release_build(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    release = callspec.params.get("release") if callspec is not None else None
    label = getattr(release, "label", None)
    return str(label) if label is not None else None


def set_allure_labels(item: pytest.Item, identity: CheckIdentity, kubernetes: str, unknown: str) -> None:
    """Allure labels of a conformance check (a no-op without --alluredir)."""
    build = release_build(item) or identity.release
    _dynamic.parent_suite(f"Istio {build}" if build else "Istio")
    _dynamic.suite(identity.scenario)
    _dynamic.sub_suite(identity.family)
    _dynamic.label("scenario", identity.scenario)
    _dynamic.label("istio_version", identity.release or unknown)
    _dynamic.label("istio_build", build or unknown)
    _dynamic.label("kubernetes_version", kubernetes)
    _dynamic.label("check_family", identity.family)
    _dynamic.tag(identity.scenario)  # the family marker already is a tag
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "release" in callspec.params:
        # The release's repr is a page long; the build label is what a reader needs.
        _dynamic.parameter("release", build)
