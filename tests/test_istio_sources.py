"""``--istio-source``: what a value names (programs/istio_sources.py, scenarios/sources.py) and
the release it is certified as (scenarios/releases.py ``source_release``)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from programs.istio_sources import SourceError, inspect_source
from programs.runner import CommandRunner
from scenarios.releases import VersionError, load_pins
from scenarios.sources import LABEL_VALUE, pseudo_version_date, pseudo_version_revision
from tests.fakeexec import FakeTools
from tests.istio_sources_data import MASTER_SOURCE, RELEASE_SOURCE, checkout_source

RELEASE_VERSION = "v0.0.0-20260827124520-eed52ebb66ad"


def git(path: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "PATH": "/usr/bin:/bin", "HOME": str(path)}  # fmt: skip
    return subprocess.run(
        ["git", "-C", str(path), *args], check=True, capture_output=True, text=True, env=env
    ).stdout


def checkout(tmp_path: Path, version: str = "1.31") -> Path:
    root = tmp_path / "istio"
    (root / "samples").mkdir(parents=True)
    (root / "go.mod").write_text("module istio.io/istio\n\ngo 1.25\n")
    (root / "VERSION").write_text(f"{version}\n")
    (root / ".gitignore").write_text("out/\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "source")
    return root


def test_the_names_of_a_source() -> None:
    assert RELEASE_SOURCE.label == "1.31 source eed52ebb (release-1.31), 2026-08-27"
    assert MASTER_SOURCE.label == "1.31 source b01690e6 (master), 2026-04-23"
    assert RELEASE_SOURCE.stamp == "1.31-dev.eed52ebb66ad"
    assert RELEASE_SOURCE.slug == "1.31-source-eed52ebb"
    assert RELEASE_SOURCE.spec == f"istio.io/istio@{RELEASE_VERSION}"
    assert RELEASE_SOURCE.cache_key == RELEASE_VERSION
    dirty = checkout_source(Path("istio-checkout"), dirty="ab" * 32)
    assert dirty.label == "1.31 source 01234567+dirty, local"
    assert dirty.stamp == "1.31-dev.0123456789ab-dirty.abababab"
    assert dirty.cache_key == "0123456789abcdef0123456789abcdef01234567-dirty-abababababababab"
    assert checkout_source(Path("istio-checkout")).label == "1.31 source 01234567, local"
    for source in (RELEASE_SOURCE, MASTER_SOURCE, dirty):
        assert LABEL_VALUE.match(source.stamp), source.stamp  # istioctl writes it into label values


def test_pseudo_versions() -> None:
    assert pseudo_version_revision(RELEASE_VERSION) == "eed52ebb66ad"
    assert pseudo_version_date(RELEASE_VERSION) == date(2026, 8, 27)
    assert pseudo_version_revision("v1.2.3") is None
    assert pseudo_version_revision("v1.2.4-0.20260101000000-0123456789ab") == "0123456789ab"


def test_pinned_sources_are_what_inspection_finds() -> None:
    pins = load_pins()
    assert pins.sources[pins.tier_source("1.31")].as_source() == RELEASE_SOURCE
    assert pins.upgrade_from_source is not None
    assert pins.sources[pins.upgrade_from_source].as_source() == MASTER_SOURCE


def test_a_source_is_certified_with_its_version_files_profile_and_never_as_a_release() -> None:
    pins = load_pins()
    release = pins.source_release(RELEASE_SOURCE)
    assert (str(release.version), release.profile.minor, release.tag) == (
        "1.31",
        "1.31",
        "1.31-dev.eed52ebb66ad",
    )
    assert (release.label, release.slug, release.reported_version) == (
        RELEASE_SOURCE.label,
        "1.31-source-eed52ebb",
        "1.31-dev.eed52ebb66ad",
    )
    assert release.pins_build and not release.custom
    assert "1.31.1" not in release.label
    master = pins.source_release(MASTER_SOURCE)
    assert release.is_newer_than(master) and not master.is_newer_than(release)
    # A source of a minor sorts before every patch of that minor.
    assert pins.resolve_release("1.31.1").is_newer_than(release)
    assert release.is_newer_than(pins.resolve_release("1.30.5"))


def test_a_version_file_without_a_profile_is_refused_with_the_list() -> None:
    with pytest.raises(
        VersionError,
        match=r"its VERSION file says 1.40, which has no release profile .*supported releases are 1.30, 1.31",
    ):
        load_pins().source_release(replace(checkout_source(Path("istio-checkout")), version_file="1.40"))


def test_a_clean_checkout_is_its_head_revision(tmp_path: Path, runner: CommandRunner) -> None:
    root = checkout(tmp_path)
    head = git(root, "rev-parse", "HEAD").strip()
    source = inspect_source(str(root), load_pins(), runner)
    assert (source.kind, source.revision, source.dirty_digest, source.version_file) == (
        "directory",
        head,
        None,
        "1.31",
    )
    assert source.label == f"1.31 source {head[:8]}, local"
    (root / "out").mkdir()
    (root / "out" / "binary").write_text("ignored files are not part of the source")
    assert inspect_source(str(root), load_pins(), runner).dirty_digest is None


def test_every_uncommitted_change_is_a_new_source(tmp_path: Path, runner: CommandRunner) -> None:
    root = checkout(tmp_path)
    pins = load_pins()
    (root / "samples" / "new.yaml").write_text("a: 1\n")  # untracked
    first = inspect_source(str(root), pins, runner)
    assert first.dirty_digest is not None and first.short.endswith("+dirty")
    (root / "samples" / "new.yaml").write_text("a: 2\n")  # the same file, changed again
    second = inspect_source(str(root), pins, runner)
    assert second.dirty_digest not in (None, first.dirty_digest)
    (root / "samples" / "new.yaml").unlink()
    (root / "VERSION").write_text("1.31\n\n")  # a tracked file
    third = inspect_source(str(root), pins, runner)
    assert third.dirty_digest not in (None, first.dirty_digest, second.dirty_digest)
    assert len({first.cache_key, second.cache_key, third.cache_key}) == 3


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda root: (root / "go.mod").write_text("module example.com/other\n"), "not an Istio checkout"),
        (lambda root: (root / "VERSION").unlink(), "has no VERSION file"),
    ],
)
def test_a_directory_that_is_not_an_istio_checkout_is_refused(
    tmp_path: Path, runner: CommandRunner, setup: object, message: str
) -> None:
    root = checkout(tmp_path)
    setup(root)  # type: ignore[operator]
    with pytest.raises(SourceError, match=message):
        inspect_source(str(root), load_pins(), runner)


def test_a_directory_without_git_or_inside_a_checkout_is_refused(
    tmp_path: Path, runner: CommandRunner
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "go.mod").write_text("module istio.io/istio\n")
    (plain / "VERSION").write_text("1.31\n")
    with pytest.raises(SourceError, match="not a usable git checkout"):
        inspect_source(str(plain), load_pins(), runner)
    root = checkout(tmp_path)
    nested = root / "samples"
    (nested / "go.mod").write_text("module istio.io/istio\n")
    (nested / "VERSION").write_text("1.31\n")
    with pytest.raises(SourceError, match=f"is inside the git checkout {root}"):
        inspect_source(str(nested), load_pins(), runner)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("istio.io/istio@latest", "'latest' is not an exact Go module version"),
        ("example.com/istio@v1.0.0", "is not a module of Istio"),
        ("/no/such/checkout", "neither istio.io/istio@VERSION nor an existing directory"),
    ],
)
def test_values_that_name_no_source(runner: CommandRunner, value: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        inspect_source(value, load_pins(), runner)


def test_a_module_version_is_fetched_and_read(
    fake_tools: FakeTools, tmp_path: Path, runner: CommandRunner
) -> None:
    module = tmp_path / "mod"
    module.mkdir()
    (module / "VERSION").write_text("1.31\n")
    info = tmp_path / "v.info"
    info.write_text(json.dumps({"Version": RELEASE_VERSION, "Time": "2026-08-27T12:45:20Z"}))
    fake_tools.install("go").on(
        r"^mod download -json istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad$",
        stdout=json.dumps({"Dir": str(module), "Info": str(info)}),
        expand=False,
    ).on(r"^mod download", exit=1, stdout=json.dumps({"Error": "not found: 403 Forbidden"}), expand=False)
    assert inspect_source(f"istio.io/istio@{RELEASE_VERSION}", load_pins(), runner) == RELEASE_SOURCE
    with pytest.raises(SourceError, match="the Go module proxy does not serve it: not found: 403 Forbidden"):
        inspect_source("istio.io/istio@v0.0.0-20260826214018-9739e10eb9d7", load_pins(), runner)
