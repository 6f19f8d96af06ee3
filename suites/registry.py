"""The one registry of conformance checks: every ``test_*`` function of the check modules, by family.

- ``checks()``: each check with its family (the module's marker) and its function. Every check
  takes the same four arguments (``installed_scenario``, ``observer``, ``diagnostics``,
  ``verdict_of``), so one check can be judged again against any view of a scenario.
- ``required_checks(scenario, upgrade, capabilities)``: what a scenario must run for a
  ``success`` result, in the manner of the Gateway API conformance profiles: every check but
  those it is excused from (``ScenarioSpec.excused_checks``) and those that are no part of the
  conformance on these clusters (suites/applicability.py). A run narrowed with ``-k``/``-m``
  (or a check deselected) reports the missing ones as skipped: ``partial``, never ``success``.
- ``judge_again(view, observer, diagnostics)``: every non-upgrade check that may run there
  (the same decision as at collection, suites/applicability.py), against ``view`` (the
  pre-upgrade mode judges release B with it, and release A when no other check ran). A check
  that may not, or that skips (no ingress gateway in the scenario), gives no verdict.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from clusters.capabilities import ProviderCapabilities
from clusters.cluster import Topology
from scenarios.expectations import ScenarioExpectations
from scenarios.facts import Facts
from scenarios.registry import optional_parts, scenario_spec
from scenarios.releases import IstioRelease
from suites.applicability import APPLICABILITY_MARKS, CheckNeeds, decide
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

CheckFunction = Callable[..., None]


@dataclass(frozen=True)
class Check:
    family: str
    name: str
    function: CheckFunction
    marks: tuple[pytest.Mark, ...] = ()  # its module's and its own

    @property
    def id(self) -> str:
        """As the reports name it: ``controlplane/test_external_gateway_has_address``."""
        return f"{self.family}/{self.name}"

    @property
    def needs(self) -> CheckNeeds:
        return CheckNeeds.of(self.id, self.marks)


@dataclass(frozen=True)
class ScenarioView:
    """A scenario as the checks see it (``InstalledScenarioLike``), e.g. after its upgrade."""

    scenario: str
    release: IstioRelease
    topology: Topology
    expectations: ScenarioExpectations
    diagnostics_dir: Path
    facts: Facts  # the facts it was rendered from (what the scenario needs depends on them)


def _marks(holder: object) -> list[pytest.Mark]:
    marks = getattr(holder, "pytestmark", None) or []
    marks = marks if isinstance(marks, list) else [marks]
    return [mark.mark if isinstance(mark, pytest.MarkDecorator) else mark for mark in marks]


def _family(module: ModuleType) -> str:
    names = [mark.name for mark in _marks(module) if mark.name not in APPLICABILITY_MARKS]
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
                found.append(Check(family, attribute, value, (*_marks(module), *_marks(value))))
    return tuple(found)


def required_checks(
    scenario: str,
    upgrade: bool,
    capabilities: ProviderCapabilities | None = None,
    facts: Facts | None = None,
) -> list[tuple[str, str]]:
    """(family, check) pairs a run of ``scenario`` (on clusters with ``capabilities``, with the
    user's choices in ``facts``) must have for ``success``: not those it is excused from, nor those
    that are no part of the conformance there (suites/applicability.py), nor those of an optional
    part of the guide the run does not install."""
    chosen = facts if facts is not None else Facts()
    excused = scenario_spec(scenario).excused_checks
    required = [
        (check.family, check.name)
        for check in checks()
        if check.id not in excused and _required_here(check, scenario, chosen, capabilities)
    ]
    return required + ([UPGRADE_CHECK] if upgrade and "/".join(UPGRADE_CHECK) not in excused else [])


def _required_here(
    check: Check, scenario: str, facts: Facts, capabilities: ProviderCapabilities | None
) -> bool:
    if capabilities is not None:
        return decide(check.needs, scenario, facts, capabilities).required
    return all(part in optional_parts(scenario, facts) for part in check.needs.parts)


def check_id(name: str) -> str:
    """``family/test_name`` of a check function, as the reports and the known-issue table name it."""
    for check in checks():
        if check.name == name:
            return check.id
    if name == UPGRADE_CHECK[1]:
        return "/".join(UPGRADE_CHECK)
    return f"other/{name}"


def judge_again(view: ScenarioView, observer: Observer, diagnostics: str) -> list[Verdict]:
    """Every registered check's verdicts against ``view``; a check that may not run there (the
    collection's decision) or that skips gives none, one that fails outright (no verdict:
    ``pytest.fail``) gives a failed verdict naming it. Known issues a check finds are told as
    facts: the check that owns them reports them."""
    verdicts: list[Verdict] = []
    for check in checks():
        capabilities = view.topology.capabilities
        if not decide(check.needs, view.scenario, view.facts, capabilities, view.release).runs:
            continue
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
