"""Allure ``environment.properties``, written at session end (after allure-pytest cleaned the
directory), and the Allure Report 3 configuration. ``categories.json`` (Allure 2) lives with the
categories themselves, in reports/categories.py.

    python -m reports.allure_files allurerc.mjs && npx allure generate --config allurerc.mjs allure-results
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from programs.redaction import Redactor
from reports.categories import allure3_rules
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
        "istio.guide_revision": info.guide_revisions,
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


def _js(value: Any) -> str:
    """``value`` as a JavaScript literal; ``{"source", "flags"}`` dicts become RegExp objects."""
    if isinstance(value, dict) and set(value) == {"source", "flags"}:
        return f"new RegExp({json.dumps(value['source'])}, {json.dumps(value['flags'])})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(key)}: {_js(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_js(item) for item in value) + "]"
    return json.dumps(value)


def allure3_config(name: str) -> str:
    """An Allure Report 3 configuration (``allurerc.mjs``): report name and the categories that
    separate environment faults from product failures (Allure 3 ignores ``categories.json``)."""
    config = {"name": name, "categories": {"rules": allure3_rules()}}
    return f"// Written by reports/allure_files.py: regenerate, do not edit.\nexport default {_js(config)};\n"


def write_allure3_config(path: Path, name: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(allure3_config(name), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reports.allure_files",
        description="Write the Allure Report 3 configuration (allurerc.mjs) with the suite's categories.",
    )
    parser.add_argument("path", type=Path, help="where to write it, e.g. allurerc.mjs")
    parser.add_argument("--name", default="Istio external control plane conformance")
    args = parser.parse_args(argv)
    print(write_allure3_config(args.path, args.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
