"""The newest patch at run time (programs/release_index.py): ``--istio-version 1.31`` certifies
1.31's newest GA patch in the istio/istio release index; the pin is the floor and the fallback.

The index responses here are synthetic (written by these tests, in the GitHub API's shape): they
name patches newer than any pin so the choice can be seen. The recorded upstream index is used
by tests/test_pins_command.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from programs.release_index import INDEX_ENV, apply_resolved, resolve_newest_patches, resolved
from run.config import SuiteConfig
from scenarios.releases import PINNED_PATCH, IstioVersion, load_pins
from scenarios.versions import newest_ga_patch

PINS = load_pins()
REPO = Path(__file__).resolve().parent.parent
PIN_31 = IstioVersion.parse(PINS.profiles["1.31"].latest_patch or "")
PIN_30 = IstioVersion.parse(PINS.profiles["1.30"].latest_patch or "")

pytest_plugins = ["pytester"]


def bumped(version: IstioVersion, by: int) -> str:
    return f"{version.major}.{version.minor}.{(version.patch or 0) + by}"


def index_file(tmp_path: Path, *releases: tuple[str, bool]) -> Path:
    """A synthetic release index: (tag, prerelease) pairs, newest first as GitHub lists them."""
    path = tmp_path / "istio-releases.json"
    path.write_text(
        json.dumps(
            [{"tag_name": tag, "prerelease": pre, "draft": False, "assets": []} for tag, pre in releases]
        )
    )
    return path


def config(*versions: str, **changes: Any) -> SuiteConfig:
    base = SuiteConfig(
        releases=PINS.resolve_releases(list(versions)),
        upgrade_to=None,
        upgrade_min_success_ratio=0.995,
        scenarios=("ip-passthrough",),
        second_remote_base="ip-passthrough",
        ingress="istio",
        mode="kind",
        existing=None,
        keep_clusters=False,
        reuse_clusters=False,
        keep_on_failure=False,
        plan=False,
        tools_dir=Path("/nonexistent"),
        tool_paths={},
        allow_download=True,
        kind_node_image=None,
        cluster_prefix="eicp",
        report_dir=Path("/nonexistent"),
        external_hostname=None,
        external_tls_secret=None,
        image_archive_dir=None,
        preload_images=(),
    )
    return replace(base, **changes)


def test_the_newest_ga_patch_never_a_pre_release_never_below_the_pin() -> None:
    tags = [
        "1.32.0-beta.0",
        bumped(PIN_31, 2) + "-rc.0",
        bumped(PIN_31, 1),
        "1.31.0",
        "v1.30.99",
        "not-a-version",
    ]
    assert newest_ga_patch("1.31", tags, PIN_31) == IstioVersion.parse(bumped(PIN_31, 1))
    assert newest_ga_patch("1.31", ["1.31.0", "1.31.1"], PIN_31) == PIN_31  # the pin is the floor
    assert newest_ga_patch("1.30", tags, PIN_30) == IstioVersion.parse("1.30.99")  # a leading v is read


def test_a_minor_moves_to_the_newest_patch_and_says_how(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    newer = bumped(PIN_31, 1)
    index = index_file(tmp_path, (bumped(PIN_31, 2) + "-rc.0", True), (newer, False), (str(PIN_30), False))
    monkeypatch.setenv(INDEX_ENV, str(index))
    suite = resolve_newest_patches(config("1.31", "1.30", "1.29.9"))
    r31, r30, r29 = suite.releases
    assert str(r31.version) == newer and r31.tag == newer and r31.requested == "1.31"
    assert (
        r31.resolution.startswith("the newest GA patch in the istio/istio release index (")
        and str(index) in r31.resolution
    )
    assert r30.version == PIN_30 and "has no newer GA patch" in r30.resolution
    assert str(r29.version) == "1.29.9" and r29.resolution == "given in full"


@pytest.mark.parametrize(
    ("changes", "env", "reason"),
    [
        ({"plan": True}, None, "--plan renders the pins"),
        ({"allow_download": False}, None, "--no-download"),
        ({}, "off", f"{INDEX_ENV}=off"),
        ({}, "/nonexistent/istio-releases.json", "could not be read"),
    ],
)
def test_the_pin_when_the_index_is_not_read(
    changes: dict[str, Any], env: str | None, reason: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(INDEX_ENV, env or str(index_file(tmp_path, (bumped(PIN_31, 1), False))))
    (release,) = resolve_newest_patches(config("1.31", **changes)).releases
    assert release.version == PIN_31
    assert release.resolution.startswith(PINNED_PATCH) and reason in release.resolution


def test_a_malformed_index_keeps_the_pin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "index.json"
    broken.write_text('{"message": "API rate limit exceeded"}')
    monkeypatch.setenv(INDEX_ENV, str(broken))
    (release,) = resolve_newest_patches(config("1.31")).releases
    assert release.version == PIN_31 and "expected a list of releases" in release.resolution


def test_custom_builds_and_full_versions_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(INDEX_ENV, str(index_file(tmp_path, (bumped(PIN_31, 1), False))))
    custom = replace(
        config("1.31"), releases=(PINS.resolve_release("1.31", hub="localhost:5000/istio", tag="dev"),)
    )
    (kept,) = resolve_newest_patches(custom).releases
    assert kept == custom.releases[0] and kept.version == PIN_31 and "a custom build" in kept.resolution
    full = config(str(PIN_31))
    assert resolve_newest_patches(full) == full


def test_a_minor_and_the_patch_it_resolves_to_run_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    newer = bumped(PIN_31, 1)
    monkeypatch.setenv(INDEX_ENV, str(index_file(tmp_path, (newer, False))))
    suite = resolve_newest_patches(config("1.31", newer))
    assert [str(r.version) for r in suite.releases] == [newer]


def test_the_release_upgraded_from_stays_older_than_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--istio-version 1.30 --upgrade-to <the pin + 1>, with the pin + 2 released: A keeps its pin."""
    newer = bumped(PIN_30, 2)
    monkeypatch.setenv(INDEX_ENV, str(index_file(tmp_path, (newer, False))))
    suite = resolve_newest_patches(config("1.30", upgrade_to=PINS.resolve_release(bumped(PIN_30, 1))))
    assert suite.releases[0].version == PIN_30 and "--upgrade-to" in suite.releases[0].resolution
    # A target that is newer anyway leaves the choice alone.
    suite = resolve_newest_patches(config("1.30", upgrade_to=PINS.resolve_release("1.31")))
    assert str(suite.releases[0].version) == newer


def test_workers_run_the_patch_their_controller_chose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    newer = bumped(PIN_31, 1)
    monkeypatch.setenv(INDEX_ENV, str(index_file(tmp_path, (newer, False))))
    controller = resolve_newest_patches(config("1.31", "1.30"))
    handed = json.loads(json.dumps(resolved(controller)))  # what xdist carries to a worker
    monkeypatch.setenv(INDEX_ENV, "off")  # a worker never reads the index itself
    worker = apply_resolved(config("1.31", "1.30"), {k: tuple(v) for k, v in handed.items()})
    assert [(str(r.version), r.resolution) for r in worker.releases] == [
        (str(r.version), r.resolution) for r in controller.releases
    ]


def _collected(pytester: pytest.Pytester, *args: str) -> list[str]:
    result = pytester.runpytest_subprocess(
        "-c",
        str(REPO / "pyproject.toml"),
        f"--rootdir={REPO}",
        "--collect-only",
        "-q",
        "--report-dir",
        str(pytester.path / "report"),
        "--scenario",
        "ip-passthrough",
        "-m",
        "injection",
        *args,
        str(REPO / "suites"),
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    return sorted(set(re.findall(r"\[ip-passthrough-([0-9.]+)\]", result.stdout.str())))


def test_the_suite_collects_the_resolved_patch(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    newer = bumped(PIN_31, 1)
    monkeypatch.setenv(INDEX_ENV, str(index_file(tmp_path, (newer, False))))
    assert _collected(pytester, "--istio-version", "1.31") == [newer]
    assert _collected(pytester, "--istio-version", "1.31", "--no-download") == [str(PIN_31)]
    assert _collected(pytester) == [newer]  # the default is the newest supported minor's newest patch
