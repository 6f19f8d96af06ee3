"""Golden comparison of ``--plan``: every scenario x release of the table renders byte for byte
what tests/goldens/plan/ holds.

The blocks are formatted as fixtures/plan.py prints them (``# Istio <label>`` then the plan),
from the facts ``--plan`` knows before any cluster exists, once per guide revision the release
offers (``--guide-revision``): ``<scenario>-<minor>.txt`` with the seeded revision (seed 001,
or 000/003 for the older procedure), ``<scenario>-<minor>-<revision>.txt`` with any other
(istio.io's page today). A renderer refactoring must leave them unchanged; a deliberate change
regenerates them (``EICP_UPDATE_GOLDENS=1``) and the commit says why. The first goldens were
checked against ``pytest suites --plan`` output captured before the scenarios were split into
modules.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from scenarios import sail_support
from scenarios.facts import Facts
from scenarios.registry import SCENARIO_IDS, ScenarioUnavailable, render
from scenarios.releases import IstioRelease, IstioVersion, load_pins

GOLDENS = Path(__file__).resolve().parent / "goldens" / "plan"
UPDATE = os.environ.get("EICP_UPDATE_GOLDENS") == "1"
# Every profile of the table: the supported releases as --plan renders them, and the candidate
# and the older-procedure profile (1.21) so the table's every behaviour switch is covered.
PROFILES = tuple(load_pins().profiles)
# The revisions that are seeds: their goldens keep the names they had before the table offered
# guide revisions.
SEEDED_REVISIONS = ("001", "000")
# (minor, revision) of every guide revision of every profile.
REVISIONS = tuple((minor, name) for minor, p in load_pins().profiles.items() for name in p.guides.names)
ISTIOCTL_SCENARIOS = tuple(s for s in SCENARIO_IDS if s != "sail")
# sail at the newest version of each minor its published chart installs (the pinned patches
# may be newer than that, and then render as not applicable).
SAIL_VERSIONS = tuple(
    v for v in (sail_support.newest_installable(p) for p in load_pins().profiles.values()) if v is not None
)

# Facts --plan has: the defaults, plus the real-certificate dns-tls path (--external-tls-secret).
VARIANTS: dict[str, Facts] = {
    "": Facts(),
    "-real-cert": replace(
        Facts(), external_hostname="istiod.example.com", external_tls_secret="my-cert", suite_pki=False
    ),
    # istio.io's doc test for the page, Gateway API variant (gtwapi_test.sh): the Gateway API
    # ingress and the optional egress gateway installed by helm
    # (--ingress gateway-api --egress-gateway helm).
    "-doctest-gateway-api": replace(Facts(), ingress="gateway-api", egress_gateway="helm"),
}
# The scenarios the doc-test variant is pinned for: the guide's two paths (the egress gateway is
# rendered the same on second-remote's base).
DOCTEST_SCENARIOS = ("ip-passthrough", "dns-tls")


def plan_block(scenario: str, release: IstioRelease, facts: Facts) -> str:
    """One block of ``--plan`` output, as fixtures/plan.py prints it."""
    try:
        rendered = render(scenario, release, facts)
    except ScenarioUnavailable as reason:
        return f"# scenario {scenario} -- Istio {release.label}: NOT AVAILABLE: {reason}\n"
    return f"# Istio {release.label}\n{rendered.plan.describe()}\n"


def table_release(minor: str, revision: str | None = None) -> IstioRelease:
    """The release ``--istio-version <minor> [--guide-revision <revision>]`` selects; a full
    version where none is pinned, and for the older-procedure profile, which the options refuse
    to certify."""
    pins = load_pins()
    profile = pins.profiles[minor]
    if profile.supported:
        return pins.resolve_release(minor, guide=revision)
    version = IstioVersion.parse(profile.latest_patch or f"{minor}.0-alpha.0")
    return IstioRelease(version=version, profile=profile, hub=profile.hub, tag=str(version), guide=revision)


def golden_name(scenario: str, minor: str, revision: str, variant: str = "") -> str:
    suffix = "" if revision in SEEDED_REVISIONS else f"-{revision}"
    return f"{scenario}-{minor}{suffix}{variant}"


def check(name: str, text: str) -> None:
    golden = GOLDENS / f"{name}.txt"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"no golden {golden.name}: run with EICP_UPDATE_GOLDENS=1 and review it"
    assert text == golden.read_text(encoding="utf-8"), (
        f"--plan output for {name} changed; if deliberate, regenerate with EICP_UPDATE_GOLDENS=1"
    )


@pytest.mark.parametrize(("minor", "revision"), REVISIONS)
@pytest.mark.parametrize("scenario", ISTIOCTL_SCENARIOS)
def test_plan_is_the_golden(scenario: str, minor: str, revision: str) -> None:
    block = plan_block(scenario, table_release(minor, revision), VARIANTS[""])
    check(golden_name(scenario, minor, revision), block)


@pytest.mark.parametrize("minor", PROFILES)
def test_plan_without_a_guide_revision_is_the_releases_default(minor: str) -> None:
    default = load_pins().profiles[minor].guides.default
    for scenario in ISTIOCTL_SCENARIOS:
        assert plan_block(scenario, table_release(minor), VARIANTS[""]) == plan_block(
            scenario, table_release(minor, default), VARIANTS[""]
        )


@pytest.mark.parametrize("minor", PROFILES)
def test_sail_follows_its_own_guide_whatever_the_revision(minor: str) -> None:
    """Seed 004 (the Sail guide) is the same for every istio.io guide revision."""
    blocks = {
        plan_block("sail", table_release(minor, name), VARIANTS[""])
        for name in load_pins().profiles[minor].guides.names
    }
    assert len(blocks) == 1
    check(f"sail-{minor}", blocks.pop())


@pytest.mark.parametrize(("minor", "revision"), REVISIONS)
def test_dns_tls_with_a_real_certificate_is_the_golden(minor: str, revision: str) -> None:
    block = plan_block("dns-tls", table_release(minor, revision), VARIANTS["-real-cert"])
    check(golden_name("dns-tls", minor, revision, "-real-cert"), block)


@pytest.mark.parametrize("minor", PROFILES)
@pytest.mark.parametrize("scenario", DOCTEST_SCENARIOS)
def test_the_doc_test_gateway_api_variant_is_the_golden(scenario: str, minor: str) -> None:
    # Pinned on seed 001 where the release offers it (the goldens predate guide revisions; today's
    # page is pinned by the ordinary istio.io-6129086 goldens).
    variant, seeded = (
        "-doctest-gateway-api",
        "001" if "001" in load_pins().profiles[minor].guides.names else None,
    )
    check(
        f"{scenario}-{minor}{variant}", plan_block(scenario, table_release(minor, seeded), VARIANTS[variant])
    )


@pytest.mark.parametrize("version", SAIL_VERSIONS)
def test_sail_plan_at_its_newest_installable_version_is_the_golden(version: str) -> None:
    check(f"sail-{version}", plan_block("sail", load_pins().resolve_release(version), VARIANTS[""]))


def test_every_golden_is_compared() -> None:
    """A golden for a release that left the table is stale; one that no test reads is noise."""
    expected = {f"{golden_name(s, m, r)}.txt" for s in ISTIOCTL_SCENARIOS for m, r in REVISIONS}
    expected |= {f"sail-{m}.txt" for m in PROFILES}
    expected |= {f"{golden_name('dns-tls', m, r, '-real-cert')}.txt" for m, r in REVISIONS}
    expected |= {f"sail-{v}.txt" for v in SAIL_VERSIONS}
    expected |= {f"{s}-{m}-doctest-gateway-api.txt" for s in DOCTEST_SCENARIOS for m in PROFILES}
    if UPDATE:
        for stale in {p.name for p in GOLDENS.glob("*.txt")} - expected:
            (GOLDENS / stale).unlink()
    assert {p.name for p in GOLDENS.glob("*.txt")} == expected
