"""Istio version parsing and the release profile table."""

from __future__ import annotations

import pytest

from scenarios.releases import IstioVersion, VersionError, load_pins


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
        VersionError, match=r"unsupported Istio version 9\.9\.9: supported releases are 1\.29, 1\.30"
    ):
        load_pins().resolve_release("9.9.9")


def test_older_forms_exist_as_profiles_but_are_not_certifiable() -> None:
    pins = load_pins()
    assert pins.profiles["1.21"].injection_url_form == "env"
    with pytest.raises(VersionError, match="unsupported"):
        pins.resolve_release("1.21.6")


def test_minor_only_resolves_to_the_pinned_patch() -> None:
    release = load_pins().resolve_release("1.30")
    assert str(release.version) == "1.30.3" and release.tag == "1.30.3" and not release.custom


def test_candidate_without_pinned_patch_needs_a_full_version() -> None:
    pins = load_pins()
    with pytest.raises(VersionError, match="give a full version"):
        pins.resolve_release("1.32")
    assert str(pins.resolve_release("1.32.0-alpha.0").version) == "1.32.0-alpha.0"


def test_custom_build_overrides_hub_and_tag() -> None:
    release = load_pins().resolve_release("1.31.0-rc.0", hub="localhost:5000/istio", tag="dev-123")
    assert release.custom and release.hub == "localhost:5000/istio" and release.tag == "dev-123"
    assert "custom" in release.label


@pytest.mark.parametrize("minor", ["1.29", "1.30", "1.31", "1.32"])
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
    assert profiles["1.29"].hub == "docker.io/istio" and profiles["1.30"].hub == "registry.istio.io/release"
    assert profiles["1.21"].remote_profile == "external" and profiles["1.30"].remote_profile == "remote"


def test_no_node_image_in_range_is_a_clear_error() -> None:
    profile = load_pins().profiles["1.21"]
    with pytest.raises(VersionError, match=r"supports Kubernetes 1\.26-1\.29.*--kind-node-image"):
        profile.kind_node_image(load_pins().kind_node_images)
