"""Reading upstream release data: one small HTTPS GET with a total deadline, or a recorded response.

``HttpsFetcher`` is the network (HTTPS only, a deadline for the whole read, a size cap; a
``GITHUB_TOKEN`` from the environment is sent to api.github.com only, and never printed).
``RecordedFetcher`` answers from a directory of recorded responses, for the self-tests and for
machines without the internet: its ``manifest.yaml`` maps each URL to a file (or to the status
the upstream answered, such as 404) and says where and when each response was recorded.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import yaml

from run.timeouts import HTTPS_FETCH

MAX_BYTES = 32 << 20
USER_AGENT = "istio-external-control-plane-conformance (pins)"


class FetchError(RuntimeError):
    """An upstream response could not be had; ``status`` is the HTTP status when one came."""

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        self.url = url
        self.status = status
        super().__init__(f"{url}: {reason}")


class Fetcher(Protocol):
    def get(self, url: str) -> bytes:
        """The body of ``url``; ``FetchError`` when it cannot be had (``status`` 404: absent)."""
        ...


@dataclass
class HttpsFetcher:
    deadline_s: float = field(default_factory=HTTPS_FETCH.seconds)
    max_bytes: int = MAX_BYTES
    token: str | None = field(default_factory=lambda: os.environ.get("GITHUB_TOKEN") or None, repr=False)

    def get(self, url: str) -> bytes:
        if not url.startswith("https://"):
            raise FetchError(url, "refusing a non-HTTPS URL")
        request = urllib.request.Request(url, headers=self._headers(url))  # noqa: S310 (HTTPS only)
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=self.deadline_s) as response:  # noqa: S310
                chunks: list[bytes] = []
                size = 0
                while chunk := response.read(1 << 16):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise FetchError(url, f"larger than {self.max_bytes} bytes")
                    if time.monotonic() - started > self.deadline_s:
                        raise FetchError(url, f"not read within its deadline of {self.deadline_s:.0f} s")
                    chunks.append(chunk)
                return b"".join(chunks)
        except urllib.error.HTTPError as error:
            raise FetchError(url, f"HTTP {error.code} {error.reason}", error.code) from None
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            reason = getattr(error, "reason", error)
            raise FetchError(url, " ".join(str(reason).split())[:300]) from None

    def _headers(self, url: str) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT}
        if urlparse(url).hostname == "api.github.com":
            headers["Accept"] = "application/vnd.github+json"
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
        return headers


@dataclass(frozen=True)
class RecordedResponse:
    url: str
    file: Path | None
    status: int
    how: str  # "live" (an HTTP capture) or "reconstructed" (from a stored copy of the page)
    source: str


@dataclass
class RecordedFetcher:
    """Answers from ``root/manifest.yaml`` (see the module doc); an unrecorded URL is a FetchError."""

    root: Path
    responses: dict[str, RecordedResponse] = field(init=False)
    recorded_on: str = field(init=False)

    def __post_init__(self) -> None:
        manifest = self.root / "manifest.yaml"
        try:
            data: dict[str, Any] = yaml.safe_load(manifest.read_text(encoding="utf-8"))
            self.recorded_on = str(data["recorded_on"])
            self.responses = {}
            for entry in data["responses"]:
                file = self.root / entry["file"] if entry.get("file") else None
                status = int(entry.get("status", 200))
                self.responses[entry["url"]] = RecordedResponse(
                    entry["url"], file, status, entry["how"], " ".join(str(entry["source"]).split())
                )
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{manifest}: not a manifest of recorded responses ({error})") from None

    def get(self, url: str) -> bytes:
        response = self.responses.get(url)
        if response is None:
            raise FetchError(url, f"not among the responses recorded in {self.root}")
        if response.file is None or response.status != 200:
            raise FetchError(url, f"HTTP {response.status} (recorded)", response.status)
        return response.file.read_bytes()

    def provenance(self, url: str) -> str:
        response = self.responses.get(url)
        if response is None:
            return "not recorded"
        return f"{response.how}: {response.source}"
