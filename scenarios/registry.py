"""The scenarios, as one table of declared records (``ScenarioSpec``): the only place a scenario id
is known. Everything else asks this table: the options (accepted ids), the topology (roles), the
installers (tools, per-run PKI), the applicability decision (what its clusters must support),
the nightly matrix (releases it can be certified at), the reports (checks it need not run).

    render(id, release, facts)      # the plan and expectations; ScenarioUnavailable with the reason
    scenario_spec(id)               # the record
    needs(id, facts)                # Capability -> why, for these choices (--second-remote-base ...)
    optional_parts(id, facts)       # the guide's optional parts it installs with these choices

Adding a scenario is its renderer module and one ``ScenarioSpec`` in ``SCENARIOS`` (plus its
goldens under tests/); see ARCHITECTURE.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from scenarios import dns_tls, ip_passthrough, sail, sail_support, second_remote
from scenarios.capabilities import Capability
from scenarios.common import RenderedScenario, ScenarioUnavailable
from scenarios.default_tag import with_unlisted_tag_expectation
from scenarios.facts import Facts
from scenarios.releases import IstioRelease, ReleaseProfile
from scenarios.steps import ROLES, Role

Renderer = Callable[[IstioRelease, Facts], RenderedScenario]

__all__ = [
    "EGRESS_GATEWAY",
    "SCENARIOS",
    "SCENARIO_IDS",
    "RenderedScenario",
    "ScenarioSpec",
    "ScenarioUnavailable",
    "guide_of",
    "needs",
    "needs_suite_pki",
    "optional_parts",
    "publishes_hostname",
    "render",
    "roles_for",
    "roles_of",
    "scenario_spec",
    "tools_of",
]


# The guide's optional parts a scenario can install when the user asks: the egress gateway
# (--egress-gateway) is seed 001's, so the istioctl scenarios have it; seed 004 (sail) not.
EGRESS_GATEWAY = "egress-gateway"


def _always_available(release: IstioRelease) -> str | None:
    return None


def _the_minor(minor: str, profile: ReleaseProfile) -> str | None:
    return minor


@dataclass(frozen=True)
class ScenarioSpec:
    """One scenario, declared: what it is made of and what it asks of its clusters."""

    id: str
    roles: tuple[Role, ...]  # the clusters it installs on
    render: Renderer  # (release profile, facts) -> plan and expectations; pure
    # Tools its installer needs besides istioctl, resolved before any cluster exists.
    tools: tuple[str, ...] = ()
    # What its clusters must support (scenarios/capabilities.py), and why; a topology mode that
    # lacks one skips every check of the scenario with both reasons (suites/applicability.py).
    needs: Mapping[Capability, str] = field(default_factory=dict)
    # The remotes reach istiod by a DNS name: the suite publishes its own test name (unless
    # --external-hostname names a real one) and certifies it with the per-run PKI (unless
    # --external-tls-secret brings a real certificate).
    reaches_istiod_by_name: bool = False
    # Builds on another scenario, chosen by the facts (second-remote: --second-remote-base).
    base: Callable[[Facts], str] | None = None
    # Why it cannot be installed for a release (None: it can); checked before any install.
    unavailable: Callable[[IstioRelease], str | None] = _always_available
    # The --istio-version the nightly gives it for a supported minor (ci/matrix.py): the minor
    # itself (its newest GA patch at run time), a full patch, or None (not at all).
    nightly_version: Callable[[str, ReleaseProfile], str | None] = _the_minor
    # Checks ("family/check") it need not run for a ``success`` result (none today).
    excused_checks: frozenset[str] = frozenset()
    # The guide's optional parts it renders when the user asks for them (``EGRESS_GATEWAY``).
    optional_parts: frozenset[str] = frozenset()
    # The guide its steps follow when not istio.io's external control plane page (whose
    # revision is the release's, --guide-revision); None: that page.
    own_guide: str | None = None


_HOSTNAME_NEED = (
    "the remotes reach istiod by the suite's test hostname, which the suite must make resolvable "
    "in the remote clusters' pods, nodes and API servers (a real name: --external-hostname)"
)

SCENARIOS: tuple[ScenarioSpec, ...] = (
    ScenarioSpec(
        ip_passthrough.SCENARIO,
        ip_passthrough.ROLES,
        ip_passthrough.render,
        optional_parts=frozenset({EGRESS_GATEWAY}),
    ),
    ScenarioSpec(
        dns_tls.SCENARIO,
        dns_tls.ROLES,
        dns_tls.render,
        reaches_istiod_by_name=True,
        optional_parts=frozenset({EGRESS_GATEWAY}),
    ),
    ScenarioSpec(
        sail.SCENARIO,
        sail.ROLES,
        sail.render,
        tools=("helm",),
        needs={
            Capability.REAL_DATA_PLANE: (
                "the Sail operator runs as an image in the cluster and installs Istio through its "
                "controllers (its Go module github.com/istio-ecosystem/sail-operator is not served by "
                "this Go module proxy, so it cannot be built as a host process)"
            )
        },
        unavailable=sail_support.unavailable_reason,
        own_guide=sail.GUIDE,
        # The newest patch the pinned chart installs, in full (a newer patch it does not know
        # would make it not applicable); none where no chart installs the minor.
        nightly_version=lambda minor, profile: sail_support.newest_installable(profile),
    ),
    ScenarioSpec(
        second_remote.SCENARIO,
        second_remote.ROLES,
        second_remote.render,
        base=lambda facts: facts.second_remote_base,
        optional_parts=frozenset({EGRESS_GATEWAY}),
    ),
)
SCENARIO_IDS: tuple[str, ...] = tuple(spec.id for spec in SCENARIOS)
_BY_ID = {spec.id: spec for spec in SCENARIOS}
assert len(_BY_ID) == len(SCENARIOS), "scenario ids are unique"


def scenario_spec(scenario_id: str) -> ScenarioSpec:
    """The record of ``scenario_id``; ``ScenarioUnavailable`` naming the accepted ids if unknown."""
    try:
        return _BY_ID[scenario_id]
    except KeyError:
        raise ScenarioUnavailable(
            f"unknown scenario {scenario_id!r}: accepted scenarios are {', '.join(SCENARIO_IDS)}"
        ) from None


def render(scenario_id: str, release: IstioRelease, facts: Facts) -> RenderedScenario:
    """Render a scenario's steps and expectations; raises ScenarioUnavailable with the reason."""
    return with_unlisted_tag_expectation(scenario_spec(scenario_id).render(release, facts))


def guide_of(scenario_id: str, release: IstioRelease) -> str:
    """The guide revision a scenario's steps follow for ``release``: the release's istio.io
    guide revision (``--guide-revision``), or the scenario's own guide (sail: seed 004)."""
    return scenario_spec(scenario_id).own_guide or release.procedure.guide


def roles_for(scenario_id: str) -> tuple[Role, ...]:
    """The clusters a scenario needs."""
    return scenario_spec(scenario_id).roles


def roles_of(scenario_ids: Iterable[str]) -> tuple[Role, ...]:
    """The clusters a selection of scenarios needs, in role order (external and remote always)."""
    wanted = {"external", "remote"}.union(*(roles_for(scenario) for scenario in scenario_ids))
    return tuple(role for role in ROLES if role in wanted)


def tools_of(scenario_ids: Iterable[str]) -> tuple[str, ...]:
    """The installers' tools (besides istioctl) a selection of scenarios needs."""
    return tuple(dict.fromkeys(tool for scenario in scenario_ids for tool in scenario_spec(scenario).tools))


def _chain(scenario_id: str, facts: Facts) -> list[ScenarioSpec]:
    """The scenario and what it builds on with these facts, itself first."""
    spec = scenario_spec(scenario_id)
    return [spec, *(_chain(spec.base(facts), facts) if spec.base is not None else [])]


def reaches_istiod_by_name(scenario_id: str, facts: Facts) -> bool:
    return any(spec.reaches_istiod_by_name for spec in _chain(scenario_id, facts))


def publishes_hostname(scenario_id: str, facts: Facts) -> bool:
    """Whether the suite makes its test hostname resolvable for this scenario (scenarios/dns_tls.py
    ``publishes_hostname``: its own name, or a real one in clusters without DNS)."""
    return reaches_istiod_by_name(scenario_id, facts) and dns_tls.publishes_hostname(facts)


def needs_suite_pki(scenario_id: str, facts: Facts) -> bool:
    """Whether the scenario needs the suite's per-run PKI: its gateway certificate, or istiod's
    plug-in CA that the gateway verifies istiod with (scenarios/dns_tls.py, uses_suite_pki)."""
    return reaches_istiod_by_name(scenario_id, facts) and dns_tls.uses_suite_pki(facts)


def needs(scenario_id: str, facts: Facts) -> dict[Capability, str]:
    """What the clusters must support for ``scenario_id`` with these choices, and why."""
    found: dict[Capability, str] = {}
    for spec in reversed(_chain(scenario_id, facts)):
        found.update(spec.needs)
    if publishes_hostname(scenario_id, facts):
        found[Capability.PUBLISHES_HOSTNAMES] = _HOSTNAME_NEED
    return found


def optional_parts(scenario_id: str, facts: Facts) -> frozenset[str]:
    """The guide's optional parts ``scenario_id`` installs with the user's choices in ``facts``."""
    chosen = {EGRESS_GATEWAY} if facts.egress_gateway != "none" else set()
    return scenario_spec(scenario_id).optional_parts & chosen
