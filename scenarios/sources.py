"""An Istio source under test (``--istio-source``): a Go module version of istio.io/istio, or a
local checkout, with what the suite knows about it. Pure data: finding these facts (``go mod
download``, ``git``) is programs/istio_sources.py's job, building from them programs/source_builds.py's.

A source is never a release: it is reported as ``Istio 1.31 source eed52ebb (release-1.31),
2026-08-27`` or ``Istio 1.31 source 1a2b3c4d+dirty, local``. Its release profile is the one of
its own ``VERSION`` file (scenarios/releases.py), and everything built from it carries one
version stamp (``1.31-dev.eed52ebb66ad``): what istioctl and pilot-discovery report, the image
tag the install pins, and so the tag that maps an istiod Deployment to its pilot-discovery.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

ISTIO_MODULE = "istio.io/istio"
# What a version stamp may hold: istioctl writes it into label values
# (operator.istio.io/version, app.kubernetes.io/version), which allow at most 63 characters of
# [A-Za-z0-9._-], starting and ending with one of [A-Za-z0-9] ("1.31-dev+b01690e6db7d" made the
# real API server refuse every CRD of `istioctl install`, found on the kwok tier's first run).
LABEL_VALUE = re.compile(r"^(?=.{1,63}$)[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_PSEUDO_REVISION = re.compile(r"-(?:0\.)?(?:\d{14})-([0-9a-f]{12})$")

SourceKind = Literal["module", "directory"]


@dataclass(frozen=True)
class IstioSource:
    """One Istio source tree and how the reports name it."""

    kind: SourceKind
    # The Go module version (``v0.0.0-20260827124520-eed52ebb66ad``) or the checkout's path.
    location: str
    revision: str  # the commit (at least 12 hex digits when known)
    version_file: str  # the tree's VERSION file: "1.31"
    committed: date | None  # the commit's date
    branch: str | None = None  # the branch versions.yaml names for it ("release-1.31", "master")
    # sha256 (hex) of a checkout's uncommitted changes; None: clean (or a module).
    dirty_digest: str | None = None

    @property
    def short(self) -> str:
        """The revision as reports show it: 8 hex digits (and ``+dirty`` for uncommitted changes)."""
        return self.revision[:8] + ("+dirty" if self.dirty_digest else "")

    @property
    def label(self) -> str:
        """``1.31 source eed52ebb (release-1.31), 2026-08-27`` / ``1.31 source 1a2b3c4d+dirty, local``:
        what follows "Istio " wherever a release's version would stand."""
        branch = f" ({self.branch})" if self.branch else ""
        where = (
            "local" if self.kind == "directory" else (self.committed.isoformat() if self.committed else "")
        )
        return f"{self.version_file} source {self.short}{branch}" + (f", {where}" if where else "")

    @property
    def stamp(self) -> str:
        """The version the binaries built from it report, and the image tag the install pins:
        a valid label value (see ``LABEL_VALUE``)."""
        text = f"{self.version_file}-dev.{self.revision[:12]}"
        if self.dirty_digest:
            text += f"-dirty.{self.dirty_digest[:8]}"
        return text

    @property
    def slug(self) -> str:
        """How run labels, diagnostics directories and test ids name it: ``1.31-source-eed52ebb``."""
        return f"{self.version_file}-source-{self.revision[:8]}" + ("-dirty" if self.dirty_digest else "")

    @property
    def cache_key(self) -> str:
        """What its builds are cached under: the module version, or the checkout's revision plus
        the digest of its uncommitted changes (a changed file is a new key, never a stale build)."""
        if self.kind == "module":
            return self.location
        return self.revision + (f"-dirty-{self.dirty_digest[:16]}" if self.dirty_digest else "")

    @property
    def spec(self) -> str:
        """The ``--istio-source`` value that names it again."""
        return f"{ISTIO_MODULE}@{self.location}" if self.kind == "module" else self.location

    @property
    def directory(self) -> Path | None:
        return Path(self.location) if self.kind == "directory" else None

    def order_key(self) -> tuple[str, str]:
        """Sources of one minor order by commit date (an unknown date sorts first)."""
        return (self.committed.isoformat() if self.committed else "", self.revision)


def pseudo_version_revision(version: str) -> str | None:
    """The commit of a Go pseudo-version (``v0.0.0-20260827124520-eed52ebb66ad`` -> ``eed52ebb66ad``)."""
    match = _PSEUDO_REVISION.search(version)
    return match.group(1) if match else None


def pseudo_version_date(version: str) -> date | None:
    """The commit date of a Go pseudo-version (its UTC timestamp), if it is one."""
    match = re.search(r"-(?:0\.)?(\d{4})(\d{2})(\d{2})\d{6}-[0-9a-f]{12}$", version)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


@dataclass(frozen=True)
class SourcePin:
    """An Istio source versions.yaml knows (``istio_sources.known``): what reports call it."""

    module_version: str
    branch: str
    version_file: str
    committed: date

    def as_source(self) -> IstioSource:
        """The source as programs/istio_sources.py finds it (without fetching it)."""
        return IstioSource(
            kind="module",
            location=self.module_version,
            revision=pseudo_version_revision(self.module_version) or self.module_version,
            version_file=self.version_file,
            committed=self.committed,
            branch=self.branch,
        )


def parse_sources(raw: Mapping[str, Any]) -> tuple[dict[str, SourcePin], dict[str, str], str | None]:
    """versions.yaml ``istio_sources``: (known sources by module version, the tiers' source per
    minor, the older source their upgrade starts from)."""
    known = {
        version: SourcePin(
            module_version=version,
            branch=str(entry["branch"]),
            version_file=str(entry["version_file"]),
            committed=date.fromisoformat(str(entry["committed"])),
        )
        for version, entry in (raw.get("known") or {}).items()
    }
    tier = {str(minor): str(version) for minor, version in (raw.get("tier") or {}).items()}
    upgrade_from = str(raw["upgrade_from"]) if raw.get("upgrade_from") else None
    unknown = [v for v in (*tier.values(), *([upgrade_from] if upgrade_from else [])) if v not in known]
    if unknown:
        raise ValueError(f"versions.yaml: istio_sources names sources not in istio_sources.known: {unknown}")
    return known, tier, upgrade_from
