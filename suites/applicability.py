"""May this check run here? One decision, at collection and when the upgrade judges again.

Modelled on the Gateway API conformance suite: an implementation declares its
``SupportedFeatures`` and each test the features it needs, and tests are skipped (``SkipTests``)
or left out for what the implementation does not support. Here a topology mode's provider
declares what its clusters can do (``ProviderCapabilities``, clusters/providers.py), a scenario
what it needs of them and for which releases it can be installed (``ScenarioSpec``,
scenarios/registry.py), and a check what it needs through two marks:

    pytestmark = [pytest.mark.traffic, needs(Capability.REAL_DATA_PLANE, "real requests through Envoy")]
    @only_with(Capability.NODE_CONTAINERS, "it reads the nodes' own files")

``decide`` answers, in this order:

1. a check ``only_with`` a capability the clusters lack is not part of this topology's
   conformance at all: deselected and not required (Gateway API: a test of an unsupported
   extended feature);
2. a scenario whose clusters lack what it ``needs``, a scenario its release cannot install, and
   a check whose clusters lack what it ``needs``: skipped with the reason (the run is ``partial``);
3. otherwise it runs.

The scenario plugin applies it to every collected check (fixtures/scenario_plugin.py), the
check registry to its required set and to ``judge_again`` (suites/registry.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pytest

from clusters.capabilities import Capability, ProviderCapabilities
from scenarios.facts import Facts
from scenarios.registry import needs as scenario_needs
from scenarios.registry import optional_parts, scenario_spec
from scenarios.releases import IstioRelease

NEEDS_MARK = "needs"
ONLY_WITH_MARK = "only_with"
PART_MARK = "optional_part"
APPLICABILITY_MARKS = (NEEDS_MARK, ONLY_WITH_MARK, PART_MARK)


def needs(capability: Capability, why: str) -> pytest.MarkDecorator:
    """The check needs ``capability``; where the clusters lack it, it is skipped with the reason."""
    mark: pytest.MarkDecorator = pytest.mark.needs(capability, why)
    return mark


def only_with(capability: Capability, why: str) -> pytest.MarkDecorator:
    """The check exists only where the clusters have ``capability``; elsewhere it is left out
    and not required."""
    mark: pytest.MarkDecorator = pytest.mark.only_with(capability, why)
    return mark


def optional_part(part: str, why: str) -> pytest.MarkDecorator:
    """The check judges an optional part of the guide (scenarios/registry.py ``optional_parts``):
    where the scenario does not install it in this run, it is left out and not required."""
    mark: pytest.MarkDecorator = pytest.mark.optional_part(part, why)
    return mark


@dataclass(frozen=True)
class CheckNeeds:
    """What one check declared through its marks (module and function)."""

    check: str  # as the reports name it: ``traffic/test_mesh_traffic_from_each_client``
    needs: Mapping[Capability, str] = field(default_factory=dict)
    only_with: Mapping[Capability, str] = field(default_factory=dict)
    parts: Mapping[str, str] = field(default_factory=dict)  # optional parts of the guide it judges

    @classmethod
    def of(cls, check: str, marks: Iterable[pytest.Mark]) -> CheckNeeds:
        found: dict[str, dict[Capability, str]] = {NEEDS_MARK: {}, ONLY_WITH_MARK: {}}
        parts: dict[str, str] = {}
        for mark in marks:
            if mark.name in found:
                capability, why = mark.args
                found[mark.name][Capability(capability)] = str(why)
            elif mark.name == PART_MARK:
                part, why = mark.args
                parts[str(part)] = str(why)
        return cls(check, found[NEEDS_MARK], found[ONLY_WITH_MARK], parts)


@dataclass(frozen=True)
class Applicability:
    runs: bool
    reason: str = ""
    required: bool = True  # counts toward the scenario's result (False: left out, not skipped)


RUNS = Applicability(True)


def decide(
    check: CheckNeeds,
    scenario: str,
    facts: Facts,
    capabilities: ProviderCapabilities,
    release: IstioRelease | None = None,
) -> Applicability:
    """Whether ``check`` of ``scenario`` (rendered from ``facts``, on ``release``) runs on clusters
    with ``capabilities``; see the module docstring for the order of the answers."""
    for capability, why in check.only_with.items():
        if not capabilities.can(capability):
            return Applicability(
                False,
                f"{check.check} is part of the conformance only where clusters have {capability} "
                f"({why}), which {capabilities.mode} mode lacks: {capabilities.why_not(capability)}",
                required=False,
            )
    for part, why in check.parts.items():
        if part not in optional_parts(scenario, facts):
            return Applicability(
                False,
                f"{check.check} judges the guide's optional {part} ({why}), which {scenario} does not "
                "install in this run",
                required=False,
            )
    lacking = _lacking(f"scenario {scenario}", scenario_needs(scenario, facts), capabilities)
    if lacking:
        return Applicability(False, lacking)
    unavailable = scenario_spec(scenario).unavailable(release) if release is not None else None
    if unavailable is not None:
        return Applicability(False, unavailable)
    lacking = _lacking(check.check, check.needs, capabilities)
    return Applicability(False, lacking) if lacking else RUNS


def _lacking(who: str, wanted: Mapping[Capability, str], capabilities: ProviderCapabilities) -> str:
    for capability, why in wanted.items():
        if not capabilities.can(capability):
            return (
                f"not applicable in {capabilities.mode} mode: {who} needs {capability} ({why}); "
                f"{capabilities.why_not(capability)}"
            )
    return ""
