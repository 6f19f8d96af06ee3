"""What the pins command finds (``Finding``), what ``update`` changes (``Change``), and where it
reads upstream (``Upstream``: one fetcher, cached releases, the day it checks for)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from programs.github_releases import GithubRelease, read_releases
from programs.https_fetch import Fetcher, FetchError


class Status(StrEnum):
    CURRENT = "current"
    STALE = "stale"  # upstream has newer, verified: update changes it
    END_OF_LIFE = "end-of-life"  # a supported minor past its end of life: update moves it
    UNVERIFIABLE = "unverifiable"  # upstream has (or the pin is) something this run cannot verify
    NOTE = "note"  # for a person to act on (a new minor needs its profile written by hand)


@dataclass(frozen=True)
class Change:
    """Set ``key`` of the mapping at ``path`` in versions.yaml to ``value`` (with an end-of-line
    comment naming the source, when given)."""

    path: tuple[str, ...]
    key: str
    value: Any
    comment: str | None = None

    @property
    def where(self) -> str:
        return ".".join((*self.path, self.key))


@dataclass(frozen=True)
class Finding:
    subject: str  # e.g. "Istio 1.31", "tool helm", "Sail Operator chart"
    status: Status
    current: str
    upstream: str
    source: str  # the URL(s) it was read from
    detail: str = ""
    changes: tuple[Change, ...] = ()

    def line(self) -> str:
        text = f"[{self.status.value}] {self.subject}: pinned {self.current}; upstream {self.upstream}"
        if self.detail:
            text += f" -- {self.detail}"
        return f"{text} (source: {self.source})"


@dataclass
class Upstream:
    """The upstream as one run of the command sees it."""

    fetcher: Fetcher
    today: date
    _releases: dict[str, list[GithubRelease] | FetchError | ValueError] = field(default_factory=dict)

    def releases(self, repo: str) -> list[GithubRelease]:
        """The GitHub releases of ``repo`` (read once); FetchError/ValueError when unreadable."""
        if repo not in self._releases:
            try:
                self._releases[repo] = read_releases(self.fetcher, repo)
            except (FetchError, ValueError) as error:
                self._releases[repo] = error
        found = self._releases[repo]
        if isinstance(found, Exception):
            raise found
        return found

    def get(self, url: str) -> bytes:
        return self.fetcher.get(url)


def checked(today: date, source: str) -> str:
    """The end-of-line comment ``update`` writes beside a value it changed (a GitHub API URL
    named by the page it serves)."""
    match = re.match(r"^https://api\.github\.com/repos/([^/]+/[^/]+)/releases", source)
    where = f"github.com/{match[1]}/releases" if match else source.removeprefix("https://")
    return f"{where} (python -m programs.pins, {today.isoformat()})"
