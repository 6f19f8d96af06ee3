"""Allure ``environment.properties``, written at session end (after allure-pytest cleaned the
directory). ``categories.json`` lives with the categories themselves, in reports/categories.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from programs.redaction import Redactor
from run.info import RunInfo


def _escape_property(text: str, *, key: bool = False) -> str:
    """Java .properties escaping: backslashes, line breaks, and separators in keys."""
    text = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    if key:
        for char in (" ", "=", ":"):
            text = text.replace(char, "\\" + char)
    return text


def environment_properties(info: RunInfo, scenarios: Iterable[str]) -> dict[str, str]:
    props = {
        "suite.version": info.suite_version,
        "istio.version": info.istio_version,
        "istio.build": info.istio_build,
        "kubernetes.version": info.kubernetes_version,
        "mode": info.mode,
        "date": info.date,
        "scenarios": ", ".join(scenarios) or ", ".join(info.selected_scenarios),
    }
    if info.upgrade_to:
        props["istio.upgrade_to"] = str(info.upgrade_to["build"])
    for role, version in sorted(info.kubernetes.items()):
        props[f"kubernetes.version.{role}"] = version
    for name, version in sorted(info.tools.items()):
        props[f"tool.{name}"] = version
    return props


def write_environment(alluredir: Path, props: Mapping[str, str], redactor: Redactor) -> Path:
    alluredir.mkdir(parents=True, exist_ok=True)
    path = alluredir / "environment.properties"
    lines = [
        f"{_escape_property(key, key=True)}={_escape_property(redactor.redact(value))}"
        for key, value in props.items()
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
