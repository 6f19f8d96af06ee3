"""Istio version parsing and the release profile table."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from programs.runner import CommandRunner
from scenarios.releases import IstioVersion, VersionError, load_pins

PINS = load_pins()
REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.31", IstioVersion(1, 31)),
        ("1.31.2", IstioVersion(1, 31, 2)),
        ("v1.30.3", IstioVersion(1, 30, 3)),
        ("1.31.0-rc.0", IstioVersion(1, 31, 0, "rc.0")),
        ("1.32.0-alpha.1", IstioVersion(1, 32, 0, "alpha.1")),
    ],
)
def test_parses_release_forms(text: str, expected: IstioVersion) -> None:
    assert IstioVersion.parse(text) == expected


@pytest.mark.parametrize("text", ["", "1", "one.two", "1.31.x", "1.31.0-foo.1", "1.31.0-rc", "01.30.1"])
def test_rejects_malformed_versions_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(VersionError, match=r"malformed Istio version .*expected MAJOR\.MINOR"):
        IstioVersion.parse(text)


def test_unsupported_release_names_the_supported_ones() -> None:
    with pytest.raises(
        VersionError,
        match=r"unsupported Istio version 9\.9\.9: supported releases are 1\.30, 1\.31 \(candidates: 1\.32\) "
        r"\(past their end of life, on request: 1\.29\)",
    ):
        load_pins().resolve_release("9.9.9")


def test_older_forms_exist_as_profiles_but_are_not_certifiable() -> None:
    pins = load_pins()
    assert pins.profiles["1.21"].injection_url_form == "env"
    with pytest.raises(VersionError, match="unsupported"):
        pins.resolve_release("1.21.6")


def test_minor_only_resolves_to_the_pinned_patch() -> None:
    release = load_pins().resolve_release("1.30")
    assert str(release.version) == "1.30.7" and release.tag == "1.30.7" and not release.custom
    assert (
        release.requested == "1.30" and release.resolution == "the pinned patch (versions.yaml latest_patch)"
    )
    assert load_pins().resolve_release("1.30.5").resolution == "given in full"
    assert release == load_pins().resolve_release("1.30.7")  # requested/resolution are not identity


def test_candidate_without_pinned_patch_needs_a_full_version() -> None:
    pins = load_pins()
    with pytest.raises(VersionError, match="give a full version"):
        pins.resolve_release("1.32")
    assert str(pins.resolve_release("1.32.0-alpha.0").version) == "1.32.0-alpha.0"


def test_custom_build_overrides_hub_and_tag() -> None:
    release = load_pins().resolve_release("1.31.0-rc.0", hub="localhost:5000/istio", tag="dev-123")
    assert release.custom and release.hub == "localhost:5000/istio" and release.tag == "dev-123"
    assert "custom" in release.label


@pytest.mark.parametrize("minor", [*PINS.supported, *PINS.candidates])
def test_every_supported_release_has_a_node_image_in_its_kubernetes_range(minor: str) -> None:
    pins = load_pins()
    profile = pins.profiles[minor]
    image = profile.kind_node_image(pins.kind_node_images)
    tag_minor = image.split(":v", 1)[1].rsplit(".", 1)[0]
    major, kminor = (int(part) for part in tag_minor.split("."))
    assert profile.kubernetes.allows((major, kminor))
    assert "@sha256:" in image


def test_injection_path_forms_follow_the_seeds() -> None:
    pins = load_pins()
    # Seed 001: path form, '/' in a cluster name spelt --slash--.
    assert (
        pins.profiles["1.31"].injection_path("cluster/1", "network1")
        == "/inject/cluster/cluster--slash--1/net/network1"
    )
    # Seeds 003/000: the :ENV: form.
    assert (
        pins.profiles["1.21"].injection_path("remote1", "network1")
        == "/inject/:ENV:cluster=remote1:ENV:net=network1"
    )


def test_release_differences_live_in_the_table() -> None:
    profiles = load_pins().profiles
    assert profiles["1.21"].remote_secret_command == ("x", "create-remote-secret")
    assert profiles["1.31"].remote_secret_command == ("create-remote-secret",)
    assert profiles["1.21"].sample_client == "sleep" and profiles["1.31"].sample_client == "curl"
    assert profiles["1.21"].procedure.guide == "000" and profiles["1.29"].procedure.guide == "001"
    assert profiles["1.31"].procedure.guide == "istio.io-6129086"
    assert profiles["1.21"].remote_profile == "external" and profiles["1.30"].remote_profile == "remote"


def test_guide_revisions_are_a_procedure_of_the_table_per_release() -> None:
    """The releases the current page documents follow it by default; the seeded revision stays
    selectable; the older procedure is the only one of 1.21."""
    pins = load_pins()
    current, seeded = "istio.io-6129086", "001"
    for minor in ("1.30", "1.31", "1.32"):
        assert pins.profiles[minor].guides.default == current
    assert pins.profiles["1.29"].guides.default == seeded
    for minor in ("1.29", "1.30", "1.31", "1.32"):
        assert pins.profiles[minor].guides.names == (seeded, current)
    assert pins.profiles["1.21"].guides.names == ("000",)
    assert pins.guide_revisions() == (seeded, current)
    today, then = pins.profiles["1.31"].guides.get(current), pins.profiles["1.31"].guides.get(seeded)
    # Each difference of the page from seed 001 is a named field.
    assert (today.remote_install, then.remote_install) == ("istioctl-install", "manifest-generate")
    assert today.config_cluster_revision_tag_webhook and not then.config_cluster_revision_tag_webhook
    assert not today.external_istiod_service_account_step and then.external_istiod_service_account_step
    assert today.external_istiod_value and not then.external_istiod_value
    assert today.routing_api_versions.destination_rule == "networking.istio.io/v1"
    assert then.routing_api_versions.destination_rule == "networking.istio.io/v1alpha3"
    assert (today.ingress_gateway_iop_name, then.ingress_gateway_iop_name) == ("ingress-install", None)
    assert today.eastwest_generator_argv(mesh="mesh1", cluster="c", network="n") == ["--network", "n"]
    assert then.eastwest_generator_argv(mesh="mesh1", cluster="c", network="n") == [
        "--mesh", "mesh1", "--cluster", "c", "--network", "n",
    ]  # fmt: skip
    assert (today.cleanup, then.cleanup) == ("uninstall-purge", "manifest-generate-delete")
    # Everything else is seed 001's.
    same = ("remote_default_revision", "remote_secret_service_account", "local_cluster_secret_watcher",
            "external_istiod_cluster_values", "ingress_gateway_istio_namespace_set",
            "eastwest_injection_template_set", "second_remote")  # fmt: skip
    assert all(getattr(today, name) == getattr(then, name) for name in same)


def test_a_release_refuses_a_guide_revision_it_does_not_offer() -> None:
    pins = load_pins()
    assert pins.resolve_release("1.30", guide="001").procedure.guide == "001"
    assert pins.resolve_release("1.30").procedure.guide == "istio.io-6129086"
    with pytest.raises(VersionError, match=r"cannot follow guide revision '000'.*001, istio\.io-6129086"):
        pins.resolve_release("1.30", guide="000")


def test_no_node_image_in_range_is_a_clear_error() -> None:
    profile = load_pins().profiles["1.21"]
    with pytest.raises(VersionError, match=r"supports Kubernetes 1\.26-1\.29.*--kind-node-image"):
        profile.kind_node_image(load_pins().kind_node_images)


# --- semver ordering -------------------------------------------------------


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("1.31.0-rc.0", "1.31.0"),  # a release sorts after its pre-releases
        ("1.31.0-rc.9", "1.31.0-rc.10"),  # numeric identifiers compare as numbers
        ("1.31.0-alpha.1", "1.31.0-beta.0"),
        ("1.31.0-beta.3", "1.31.0-rc.0"),
        ("1.31.0", "1.31.1-rc.0"),
        ("1.30.5", "1.31.0-alpha.0"),
        ("1.9.0", "1.10.0"),
        ("1.31", "1.31.0-alpha.0"),  # a bare minor sorts before every patch of it
    ],
)
def test_versions_order_as_semver(lower: str, higher: str) -> None:
    a, b = IstioVersion.parse(lower), IstioVersion.parse(higher)
    assert a < b and b > a and a <= b and not b <= a and a != b
    assert sorted([b, a]) == [a, b]


def test_equal_versions_compare_equal() -> None:
    assert IstioVersion.parse("v1.31.0-rc.1") == IstioVersion.parse("1.31.0-rc.1")
    assert IstioVersion.parse("1.31.0") <= IstioVersion.parse("1.31.0")


def test_a_pre_release_upgrades_to_its_release() -> None:
    """--istio-version 1.31.0-rc.0 --upgrade-to 1.31.0: the comparison used to raise TypeError."""
    old, new = PINS.resolve_release("1.31.0-rc.0"), PINS.resolve_release("1.31.0")
    assert old.version < new.version
    assert old.is_prerelease and not new.is_prerelease


def test_repeated_versions_naming_one_release_resolve_once() -> None:
    patch = PINS.profiles["1.30"].latest_patch
    assert patch is not None
    releases = PINS.resolve_releases(["1.30", patch, "v" + patch, "1.31", "1.30"])
    assert [str(r.version) for r in releases] == [patch, str(PINS.resolve_release("1.31").version)]


# --- pins, defaults and end of life ---------------------------------------


def test_the_default_is_the_newest_ga_patch_never_a_pre_release() -> None:
    default = PINS.default_version()
    assert not IstioVersion.parse(default).is_prerelease
    assert default == PINS.profiles[PINS.supported[-1]].latest_patch
    # A newest minor pinned only at a pre-release is skipped for the GA before it.
    pre = {**PINS.profiles, "1.31": replace(PINS.profiles["1.31"], latest_patch="1.31.0-rc.0")}
    assert replace(PINS, profiles=pre).default_version() == PINS.profiles["1.30"].latest_patch


def test_pre_releases_are_marked_in_the_label() -> None:
    assert PINS.resolve_release("1.31.0-rc.0").label == "1.31.0-rc.0 (pre-release)"
    assert PINS.resolve_release("1.31").label == str(PINS.resolve_release("1.31").version)


def test_pins_are_the_newest_patches_the_release_notes_show() -> None:
    """The Sail Operator 1.31.2 release notes (2026-11-02) add Istio 1.31.3, 1.30.7 and 1.29.10;
    its chart installs each (the chart the sail scenario pins for all three minors)."""
    assert [PINS.profiles[m].latest_patch for m in ("1.29", "1.30", "1.31")] == [
        "1.29.10",
        "1.30.7",
        "1.31.3",
    ]
    for minor in ("1.29", "1.30", "1.31"):
        profile = PINS.profiles[minor]
        assert (profile.sail_chart_version, profile.sail_istio_up_to) == ("1.31.2", profile.latest_patch)


def test_no_default_hub_is_a_registry_going_away() -> None:
    """The 1.31 upgrade notes retire registry.istio.io and gcr.io/istio-release."""
    for profile in PINS.profiles.values():
        assert profile.hub == "docker.io/istio", profile.minor


def test_end_of_life_minor_stays_selectable_with_a_warning_and_leaves_the_nightly() -> None:
    eol = PINS.profiles["1.29"].end_of_life
    assert eol == date(2026, 10, 12)  # news/support/announcing-1.29-eol
    before, after = date(2026, 10, 11), date(2026, 10, 12)
    release = PINS.resolve_release("1.29")
    assert PINS.end_of_life_warning(release, before) is None
    warning = PINS.end_of_life_warning(release, after)
    assert warning is not None and "2026-10-12" in warning and "nightly" in warning
    # Past its end of life, 1.29 is certifiable on request only: never nightly, never the default.
    assert PINS.past_end_of_life == ("1.29",) and "1.29" not in PINS.supported
    assert PINS.nightly(before) == PINS.nightly(after) == PINS.supported
    assert release.profile.past_end_of_life and not release.profile.supported


def test_native_sidecars_are_on_by_default_on_every_pinned_kind_node() -> None:
    """On by default since 1.28 where the kubelet is 1.33 or newer: istio-proxy is a
    restartable init container on kind (the injection check and readers read this)."""
    for minor in (*PINS.supported, *PINS.candidates):
        profile = PINS.profiles[minor]
        for node_minor in PINS.kind_node_images:
            major, kminor = (int(part) for part in node_minor.split("."))
            assert profile.native_sidecars((major, kminor)), (minor, node_minor)
        assert not profile.native_sidecars((1, 32))
    assert not PINS.profiles["1.21"].native_sidecars((1, 37))


# --- the nightly matrix (ci/matrix.py) -------------------------------------------------------


def _matrix_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "ci_matrix", Path(__file__).resolve().parent.parent / "ci" / "matrix.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_nightly_matrix_leaves_out_eol_minors_and_sail_without_a_chart() -> None:
    matrix = _matrix_module()
    rows = matrix.certification_matrix(PINS, date(2026, 12, 1))["include"]
    assert {row["istio"] for row in rows if row["scenario"] != "sail"} == {"1.30", "1.31"}
    # Sail runs at the newest patch chart 1.31.2 installs, in full (never a newer patch the
    # release index might name); 1.29 is past its end of life.
    assert [row["istio"] for row in rows if row["scenario"] == "sail"] == ["1.30.7", "1.31.3"]
    assert matrix.upgrade_matrix(PINS, date(2026, 12, 1)) == {"include": [{"from": "1.30", "to": "1.31"}]}
    # A sail chart behind the pinned patch: sail runs at the newest patch the chart installs.
    behind = replace(PINS.profiles["1.31"], sail_istio_up_to="1.31.1")
    rows = matrix.certification_matrix(
        replace(PINS, profiles={**PINS.profiles, "1.31": behind}), date(2026, 12, 1)
    )
    assert {"istio": "1.31.1", "scenario": "sail"} in rows["include"]
    # A supported minor whose end of life passes leaves the matrix that day.
    ending = replace(PINS.profiles["1.30"], end_of_life=date(2026, 12, 1))
    rows = matrix.certification_matrix(
        replace(PINS, profiles={**PINS.profiles, "1.30": ending}), date(2026, 12, 1)
    )
    assert {
        row["istio"].rsplit(".", 1)[0] if row["istio"].count(".") == 2 else row["istio"]
        for row in rows["include"]
    } == {"1.31"}


# --- the options read the table (pytest suites --plan, the real plugin chain) ----------------


def _plan(runner: CommandRunner, *args: str) -> tuple[int, str]:
    result = runner.run(
        [sys.executable, "-m", "pytest", "suites", "--plan", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        check=False,
        timeout_s=120,
    )
    return result.returncode, result.stdout + result.stderr


def test_a_pre_release_plans_its_upgrade_to_the_release(runner: CommandRunner) -> None:
    code, out = _plan(
        runner, "--scenario", "ip-passthrough", "--istio-version", "1.31.0-rc.0", "--upgrade-to", "1.31.0"
    )
    assert code == 0, out
    assert "# Istio 1.31.0-rc.0 (pre-release)" in out and "# upgrade target: Istio 1.31.0\n" in out
    assert "INTERNALERROR" not in out


def test_repeated_versions_plan_once_and_the_default_is_ga(runner: CommandRunner) -> None:
    patch = PINS.profiles["1.30"].latest_patch
    assert patch is not None
    code, out = _plan(
        runner, "--scenario", "ip-passthrough", "--istio-version", "1.30", "--istio-version", patch
    )
    assert code == 0, out
    assert out.count(f"# scenario ip-passthrough -- Istio {patch} --") == 1
    code, out = _plan(runner, "--scenario", "ip-passthrough")
    assert code == 0, out
    assert f"# Istio {PINS.default_version()}\n" in out and "pre-release" not in out


def test_an_end_of_life_minor_is_selectable_with_a_warning(runner: CommandRunner) -> None:
    code, out = _plan(runner, "--scenario", "ip-passthrough", "--istio-version", "1.29")
    assert code == 0, out
    assert "reached its end of life on 2026-10-12" in out
