"""Istio version numbers: parsing and semver ordering.

Istio tags its releases ``MAJOR.MINOR.PATCH`` and its pre-releases ``MAJOR.MINOR.PATCH-alpha.N``,
``-beta.N`` or ``-rc.N``. They order as semver 2.0.0 §11 says: a release sorts after its own
pre-releases (``1.31.0-rc.9 < 1.31.0``), pre-release identifiers compare numerically where
numeric (``rc.9 < rc.10``) and lexically otherwise (``alpha < beta < rc``). A minor-only version
(``1.31``, "its newest pinned patch") is not a point on that line: it is resolved to a full
version before anything compares it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import total_ordering

# ASCII digits only (``\d`` takes ``０``), at most six per number (``int`` refuses thousands),
# matched whole (``$`` lets a trailing newline through).
_NUMBER = r"(?:0|[1-9][0-9]{0,5})"
_VERSION_RE = re.compile(
    rf"v?(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})"
    rf"(?:\.(?P<patch>{_NUMBER})(?:-(?P<pre>(?:alpha|beta|rc)\.{_NUMBER}))?)?",
    re.ASCII,
)
_SHOWN_LIMIT = 60


class VersionError(ValueError):
    """A malformed or unsupported Istio version; the message names the value and what is accepted."""


def _prerelease_key(prerelease: str | None) -> tuple[int, tuple[tuple[int, int | str], ...]]:
    """Semver §11: no pre-release sorts last; identifiers numerically when numeric."""
    if prerelease is None:
        return (1, ())
    parts = tuple((0, int(part)) if part.isdigit() else (1, part) for part in prerelease.split("."))
    return (0, parts)


@total_ordering
@dataclass(frozen=True)
class IstioVersion:
    """A parsed Istio version: ``1.31``, ``1.31.2``, ``1.31.0-rc.0``."""

    major: int
    minor: int
    patch: int | None = None
    prerelease: str | None = None

    @classmethod
    def parse(cls, text: str) -> IstioVersion:
        match = _VERSION_RE.fullmatch(text)
        if not match:
            shown = (
                repr(text)
                if len(text) <= _SHOWN_LIMIT
                else f"{text[:_SHOWN_LIMIT]!r}... ({len(text)} characters)"
            )
            raise VersionError(
                f"malformed Istio version {shown}: expected MAJOR.MINOR, MAJOR.MINOR.PATCH or "
                "MAJOR.MINOR.PATCH-{alpha,beta,rc}.N in ASCII digits (for example 1.31, 1.31.2, 1.31.0-rc.0)"
            )
        patch = match.group("patch")
        return cls(
            major=int(match.group("major")),
            minor=int(match.group("minor")),
            patch=int(patch) if patch is not None else None,
            prerelease=match.group("pre"),
        )

    @property
    def minor_key(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def is_full(self) -> bool:
        return self.patch is not None

    @property
    def is_prerelease(self) -> bool:
        return self.prerelease is not None

    def sort_key(self) -> tuple[int, int, int, tuple[int, tuple[tuple[int, int | str], ...]]]:
        # A minor-only version sorts before every patch of its minor.
        patch = -1 if self.patch is None else self.patch
        return (self.major, self.minor, patch, _prerelease_key(self.prerelease))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, IstioVersion):
            return NotImplemented
        return self.sort_key() < other.sort_key()

    def __str__(self) -> str:
        text = self.minor_key
        if self.patch is not None:
            text += f".{self.patch}"
        if self.prerelease:
            text += f"-{self.prerelease}"
        return text


def newest_ga_patch(minor: str, tags: Iterable[str], floor: IstioVersion) -> IstioVersion:
    """The newest GA patch of ``minor`` among release ``tags`` (``1.31.3``, ``v1.31.3``), never
    older than ``floor`` (the pinned patch) and never a pre-release; tags that are no Istio
    version are ignored."""
    best = floor
    for tag in tags:
        try:
            version = IstioVersion.parse(tag)
        except VersionError:
            continue
        if version.minor_key == minor and version.is_full and not version.is_prerelease and version > best:
            best = version
    return best
