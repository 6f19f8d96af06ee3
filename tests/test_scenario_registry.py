"""The scenario table (scenarios/registry.py): one declared record per scenario, asked by everyone (pure)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from scenarios.capabilities import Capability
from scenarios.common import ScenarioUnavailable
from scenarios.facts import Facts
from scenarios.registry import (
    SCENARIO_IDS,
    needs,
    needs_suite_pki,
    publishes_hostname,
    roles_of,
    scenario_spec,
    tools_of,
)
from scenarios.releases import load_pins

BASE_DNS = Facts(second_remote_base="dns-tls")


def test_every_scenario_is_one_record_with_a_renderer_and_roles() -> None:
    assert SCENARIO_IDS == ("ip-passthrough", "dns-tls", "sail", "second-remote")
    for scenario in SCENARIO_IDS:
        spec = scenario_spec(scenario)
        assert spec.id == scenario and "external" in spec.roles and callable(spec.render)
    with pytest.raises(ScenarioUnavailable, match="accepted scenarios are ip-passthrough, dns-tls"):
        scenario_spec("nope")


def test_roles_and_tools_of_a_selection_come_from_the_records() -> None:
    assert roles_of(["ip-passthrough"]) == ("external", "remote")
    assert roles_of(["dns-tls", "second-remote"]) == ("external", "remote", "second")
    assert roles_of([]) == ("external", "remote")
    assert tools_of(["ip-passthrough", "dns-tls"]) == ()
    assert tools_of(["sail", "ip-passthrough"]) == ("helm",)


def test_the_hostname_and_the_pki_follow_the_choices_and_the_base() -> None:
    assert publishes_hostname("dns-tls", Facts()) and needs_suite_pki("dns-tls", Facts())
    assert not publishes_hostname("dns-tls", Facts(external_hostname="istiod.example.com"))
    assert not needs_suite_pki("dns-tls", Facts(suite_pki=False))
    assert not publishes_hostname("second-remote", Facts()) and not needs_suite_pki("second-remote", Facts())
    assert publishes_hostname("second-remote", BASE_DNS) and needs_suite_pki("second-remote", BASE_DNS)
    assert not publishes_hostname("ip-passthrough", Facts())


def test_needs_name_what_the_clusters_must_support_and_why() -> None:
    assert needs("ip-passthrough", Facts()) == {}
    assert needs("second-remote", Facts()) == {}
    dns = needs("dns-tls", Facts())
    assert set(dns) == {Capability.PUBLISHES_HOSTNAMES}  # its precondition runs where pods would
    assert "--external-hostname" in dns[Capability.PUBLISHES_HOSTNAMES]
    real_name = Facts(external_hostname="istiod.example.com")
    assert needs("dns-tls", real_name) == {}  # real DNS resolves it
    # Clusters without DNS (kwok) resolve even a real name only where the suite publishes it.
    assert set(needs("dns-tls", replace(real_name, clusters_have_dns=False))) == {
        Capability.PUBLISHES_HOSTNAMES
    }
    assert needs("second-remote", BASE_DNS) == dns  # what it builds on, it needs too
    assert "Sail operator" in needs("sail", Facts())[Capability.REAL_DATA_PLANE]


def test_release_availability_is_declared_not_compared() -> None:
    pins = load_pins()
    releases = [pins.resolve_release(minor) for minor in pins.supported]
    no_chart = next(m for m, profile in pins.profiles.items() if profile.sail_chart_version is None)
    candidate = pins.resolve_release(f"{no_chart}.0-alpha.1")
    sail = scenario_spec("sail")
    assert sail.unavailable(candidate) is not None
    assert sail.nightly_version(no_chart, pins.profiles[no_chart]) is None
    for scenario in ("ip-passthrough", "dns-tls", "second-remote"):
        spec = scenario_spec(scenario)
        assert all(spec.unavailable(release) is None for release in (*releases, candidate))
        assert spec.nightly_version("1.30", pins.profiles["1.30"]) == "1.30"
