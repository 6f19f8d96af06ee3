"""The two Istio sources versions.yaml knows, as programs/istio_sources.py finds them (for
self-tests that need an ``IstioSource`` without fetching one)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from scenarios.sources import IstioSource

RELEASE_SOURCE = IstioSource(
    kind="module",
    location="v0.0.0-20260827124520-eed52ebb66ad",
    revision="eed52ebb66ad",
    version_file="1.31",
    committed=date(2026, 8, 27),
    branch="release-1.31",
)
MASTER_SOURCE = IstioSource(
    kind="module",
    location="v0.0.0-20260423205519-b01690e6db7d",
    revision="b01690e6db7d",
    version_file="1.31",
    committed=date(2026, 4, 23),
    branch="master",
)


def checkout_source(path: Path, dirty: str | None = None) -> IstioSource:
    """A local checkout at a made-up commit, dirty when ``dirty`` (a hex digest) is given."""
    return IstioSource(
        kind="directory",
        location=str(path),
        revision="0123456789abcdef0123456789abcdef01234567",
        version_file="1.31",
        committed=date(2026, 9, 1),
        dirty_digest=dirty,
    )
