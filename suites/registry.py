"""The one registry of conformance checks: every ``test_*`` function of the check modules, by family.

- ``checks()``: each check with its family (the module's marker) and its function. Every check
  takes the same four arguments (``installed_scenario``, ``observer``, ``diagnostics``,
  ``verdict_of``), so one check can be judged again against any view of a scenario.
- ``required_checks(scenario, upgrade)``: what a scenario must run for a ``success`` result, in
  the manner of the Gateway API conformance profiles. A run narrowed with ``-k``/``-m`` (or a
  check deselected) reports the missing ones as skipped: ``partial``, never ``success``.
- ``judge_again(view, observer, diagnostics)``: every non-upgrade check, against ``view`` (the
  pre-upgrade mode judges release B with it, and release A when no other check ran). A check
  that skips (no ingress gateway in the scenario) gives no verdict.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from clusters.cluster import Topology
from scenarios.expectations import ScenarioExpectations
from scenarios.registry import scenario_spec
from scenarios.releases import IstioRelease
from suites.evaluation.evaluators.verdict import Verdict
from suites.evaluation.known import as_facts
from suites.evaluation.readers import Observer

# In report order; the upgrade family only runs (and is only required) with --upgrade-to.
CHECK_MODULES: tuple[str, ...] = (
    "suites.test_controlplane",
    "suites.test_injection",
    "suites.test_validation",
    "suites.test_traffic",
    "suites.test_traffic_xds",
)
UPGRADE_CHECK = ("upgrade", "test_upgrade_external_control_plane_in_place")
# Checks only one --topology-mode runs: in other modes they are deselected and not required
# (none today: the xDS-level traffic check runs in every mode).
MODE_ONLY: dict[tuple[str, str], str] = {}

CheckFunction = Callable[..., None]


@dataclass(frozen=True)
class Check:
    family: str
    name: str
    function: CheckFunction

    @property
    def id(self) -> str:
        """As the reports name it: ``controlplane/test_external_gateway_has_address``."""
        return f"{self.family}/{self.name}"


@dataclass(frozen=True)
class ScenarioView:
    """A scenario as the checks see it (``InstalledScenarioLike``), e.g. after its upgrade."""

    scenario: str
    release: IstioRelease
    topology: Topology
    expectations: ScenarioExpectations
    diagnostics_dir: Path


def _family(module: ModuleType) -> str:
    marks = getattr(module, "pytestmark", None)
    marks = marks if isinstance(marks, list) else [marks]
    names = [mark.name for mark in marks if isinstance(mark, pytest.MarkDecorator | pytest.Mark)]
    if not names:
        raise LookupError(f"{module.__name__} has no check-family marker (pytestmark)")
    return names[0]


@cache
def checks() -> tuple[Check, ...]:
    found = []
    for name in CHECK_MODULES:
        module = importlib.import_module(name)
        family = _family(module)
        for attribute, value in vars(module).items():
            if attribute.startswith("test_") and callable(value):
                found.append(Check(family, attribute, value))
    return tuple(found)


def required_checks(scenario: str, upgrade: bool, mode: str | None = None) -> list[tuple[str, str]]:
    """(family, check) pairs a run of ``scenario`` (in topology ``mode``) must have for ``success``."""
    wanted = [(check.family, check.name) for check in checks()] + ([UPGRADE_CHECK] if upgrade else [])
    excused = scenario_spec(scenario).excused_checks
    return [pair for pair in wanted if "/".join(pair) not in excused and not other_mode_only(pair, mode)]


def other_mode_only(pair: tuple[str, str], mode: str | None) -> bool:
    """Whether the (family, check) pair runs only in a topology mode other than ``mode``."""
    only = MODE_ONLY.get(pair)
    return only is not None and mode is not None and only != mode


def check_id(name: str) -> str:
    """``family/test_name`` of a check function, as the reports and the known-issue table name it."""
    for check in checks():
        if check.name == name:
            return check.id
    if name == UPGRADE_CHECK[1]:
        return "/".join(UPGRADE_CHECK)
    return f"other/{name}"


def judge_again(view: ScenarioView, observer: Observer, diagnostics: str) -> list[Verdict]:
    """Every registered check's verdicts against ``view``; a check that fails outright (no
    verdict: ``pytest.fail``) gives a failed verdict naming it, one that skips gives none. Known
    issues a check finds are told as facts: the check that owns them reports them."""
    verdicts: list[Verdict] = []
    for check in checks():
        seen: list[Verdict] = []
        try:
            check.function(
                installed_scenario=view, observer=observer, diagnostics=diagnostics, verdict_of=seen.append
            )
        except pytest.skip.Exception:
            continue
        except pytest.fail.Exception as failure:
            seen.append(
                Verdict(
                    check.id, "the check runs", "it failed outright", diagnostics, problems=(str(failure),)
                )
            )
        verdicts.extend(as_facts(verdict) for verdict in seen)
    return verdicts
