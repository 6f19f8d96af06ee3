"""The one entry point to the scenarios: ``render(id, release, facts)`` and ``roles_for(id)``."""

from __future__ import annotations

from collections.abc import Callable

from scenarios import dns_tls, ip_passthrough, sail, second_remote
from scenarios.common import RenderedScenario, ScenarioUnavailable
from scenarios.facts import Facts
from scenarios.releases import IstioRelease
from scenarios.steps import SCENARIO_IDS, Role

Renderer = Callable[[IstioRelease, Facts], RenderedScenario]

_RENDERERS: dict[str, tuple[Renderer, tuple[Role, ...]]] = {
    ip_passthrough.SCENARIO: (ip_passthrough.render, ip_passthrough.ROLES),
    dns_tls.SCENARIO: (dns_tls.render, dns_tls.ROLES),
    sail.SCENARIO: (sail.render, sail.ROLES),
    second_remote.SCENARIO: (second_remote.render, second_remote.ROLES),
}
assert tuple(_RENDERERS) == SCENARIO_IDS, "every scenario id needs a renderer"

__all__ = ["RenderedScenario", "ScenarioUnavailable", "render", "roles_for"]


def _entry(scenario_id: str) -> tuple[Renderer, tuple[Role, ...]]:
    try:
        return _RENDERERS[scenario_id]
    except KeyError:
        raise ScenarioUnavailable(
            f"unknown scenario {scenario_id!r}: accepted scenarios are {', '.join(SCENARIO_IDS)}"
        ) from None


def render(scenario_id: str, release: IstioRelease, facts: Facts) -> RenderedScenario:
    """Render a scenario's steps and expectations; raises ScenarioUnavailable with the reason."""
    renderer, _ = _entry(scenario_id)
    return renderer(release, facts)


def roles_for(scenario_id: str) -> tuple[Role, ...]:
    """The clusters a scenario needs."""
    return _entry(scenario_id)[1]
