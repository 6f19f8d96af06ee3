"""``--istio-source`` and ``--upgrade-to-source``: the Istio sources a run certifies, checked
before any work (run/config.py calls this; a bad value is a ``ConfigError``, exit code 4).

The refusals that need no look at the source come first, so a run refused for them fetches
and creates nothing: a source with kind or existing clusters (they pull istiod and proxy
images; a source build makes none), a source together with a release option
(``--istio-version``, ``--istio-hub``, ``--istio-tag``, ``--istioctl``: the source's own
VERSION file, stamp and binaries take their place), both ``--upgrade-to`` and
``--upgrade-to-source``. Only then is each source looked at (``inspect``: the Go module
downloaded, or the checkout's git state read; programs/istio_sources.py) and turned into a
release by its VERSION file's profile; an upgrade target must be newer than where it starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from run.config_checks import ConfigError, fail
from scenarios.releases import IstioRelease, Pins, VersionError
from scenarios.sources import IstioSource

# What a source becomes in a run: raises ``ValueError`` naming the value and what is accepted.
Inspect = Callable[[str], IstioSource]
Option = Callable[[str], Any]
RELEASE_OPTIONS = ("--istio-version", "--istio-hub", "--istio-tag", "--istioctl")


def wants_sources(option: Option) -> bool:
    return bool(option("--istio-source") or option("--upgrade-to-source"))


def source_releases(
    option: Option,
    pins: Pins,
    mode: str,
    source_modes: tuple[str, ...],
    inspect: Inspect | None,
    guide: str | None = None,
) -> tuple[tuple[IstioRelease, ...] | None, IstioRelease | None]:
    """(releases from ``--istio-source``, or ``None`` when it is not given; the upgrade target
    from ``--upgrade-to-source``, or ``None``). ``source_modes``: the topology modes whose
    provider declares ``Capability.ISTIO_SOURCES`` (clusters/providers.py)."""
    text, target_text = option("--istio-source"), option("--upgrade-to-source")
    for flag, value in (("--istio-source", text), ("--upgrade-to-source", target_text)):
        if value and mode not in source_modes:
            fail(
                f"{flag} {value!r} needs --topology-mode {' or '.join(source_modes) or '(none here)'}: "
                f"--topology-mode {mode} clusters pull "
                "istiod and proxy images, and a source build makes none (only istioctl, pilot-discovery and "
                "the synthetic proxy, as host binaries)"
            )
    if text:
        for flag in RELEASE_OPTIONS:
            if option(flag):
                fail(
                    f"--istio-source {text!r} together with {flag}: a source is certified as itself (its VERSION "
                    "file chooses the release profile, its binaries and version stamp are built from it); "
                    f"give either --istio-source or the release options ({', '.join(RELEASE_OPTIONS)})"
                )
    if target_text and option("--upgrade-to"):
        fail(
            f"--upgrade-to {option('--upgrade-to')!r} and --upgrade-to-source {target_text!r}: an upgrade has "
            "one target; give one of them"
        )
    if inspect is None:
        fail("--istio-source and --upgrade-to-source are not available here (no source inspector)")
    releases = (_release(pins, inspect, "--istio-source", text, guide),) if text else None
    target = _release(pins, inspect, "--upgrade-to-source", target_text, guide) if target_text else None
    return releases, target


def check_upgrade_order(start: IstioRelease, target: IstioRelease) -> None:
    """The upgrade target must be newer: by version, then (sources of one minor) by commit date."""
    if target.is_newer_than(start):
        return
    if start.source is None and target.source is None:
        fail(f"--upgrade-to {target.version} is not newer than --istio-version {start.version}")
    fail(
        f"{_named(target, '--upgrade-to')} is not newer than {_named(start, '--istio-version')}: an upgrade "
        "goes from an older build to a newer one (sources of one minor are ordered by commit date)"
    )


def _named(release: IstioRelease, release_flag: str) -> str:
    if release.source is None:
        return f"{release_flag} {release.version}"
    flag = "--istio-source" if release_flag == "--istio-version" else "--upgrade-to-source"
    return f"{flag} {release.source.spec} (Istio {release.label})"


def _release(pins: Pins, inspect: Inspect, flag: str, text: str, guide: str | None) -> IstioRelease:
    try:
        source = inspect(text)
        return pins.source_release(source, guide)
    except (VersionError, ValueError) as error:
        raise ConfigError(f"{flag} {text!r}: {error}") from None
