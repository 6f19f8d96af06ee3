"""GitHub releases of a repository, as its REST API lists them (``/repos/OWNER/NAME/releases``).

Only what the suite reads: the tag, whether it is a draft or a pre-release, when it was
published, the release notes (kind lists its node images there) and the assets with the
SHA-256 GitHub computed for each (``digest``, ``sha256:...``; absent on older releases).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from programs.https_fetch import Fetcher

API = "https://api.github.com/repos/{repo}/releases?per_page=100"


@dataclass(frozen=True)
class GithubRelease:
    tag: str
    draft: bool = False
    prerelease: bool = False
    published_at: str | None = None
    body: str = ""
    assets: dict[str, str | None] = field(default_factory=dict)  # name -> sha256 hex, if known

    @property
    def is_ga(self) -> bool:
        return not (self.draft or self.prerelease)


def releases_url(repo: str) -> str:
    return API.format(repo=repo)


def parse_releases(body: bytes) -> list[GithubRelease]:
    """The releases of an API response; ``ValueError`` naming what is wrong with it."""
    try:
        data: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"not JSON ({error})") from None
    if not isinstance(data, list):
        raise ValueError(f"expected a list of releases, got {type(data).__name__}")
    releases = []
    for entry in data:
        if not isinstance(entry, dict) or not isinstance(entry.get("tag_name"), str):
            raise ValueError(f"a release without a tag_name: {str(entry)[:120]}")
        assets: dict[str, str | None] = {}
        for asset in entry.get("assets") or []:
            digest = asset.get("digest")
            sha = (
                digest.removeprefix("sha256:")
                if isinstance(digest, str) and digest.startswith("sha256:")
                else None
            )
            assets[str(asset["name"])] = sha
        releases.append(
            GithubRelease(
                tag=entry["tag_name"],
                draft=bool(entry.get("draft", False)),
                prerelease=bool(entry.get("prerelease", False)),
                published_at=entry.get("published_at"),
                body=str(entry.get("body") or ""),
                assets=assets,
            )
        )
    return releases


def read_releases(fetcher: Fetcher, repo: str) -> list[GithubRelease]:
    return parse_releases(fetcher.get(releases_url(repo)))
