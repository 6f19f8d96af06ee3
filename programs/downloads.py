"""Downloads of pinned tools and release archives: a total deadline, HTTPS only, the published
SHA-256 checked, and each download shown in the runner's command transcript like a command."""

from __future__ import annotations

import hashlib
import re
import shutil
import tarfile
import time
import urllib.request
from pathlib import Path

from programs.runner import CommandRunner
from run.timeouts import DOWNLOAD, DOWNLOAD_SOCKET


def one_line(error: object) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 300 else text[:297] + "..."


def download_file(url: str, destination: Path, deadline_s: float | None = None) -> None:
    """Fetch ``url`` within ``deadline_s`` in all (the socket timeout alone would let a slow
    trickle run for ever)."""
    deadline_s = DOWNLOAD.seconds() if deadline_s is None else deadline_s
    if not url.startswith("https://"):
        raise ValueError(f"refusing a non-HTTPS download URL: {url}")
    started = time.monotonic()
    with (
        urllib.request.urlopen(url, timeout=min(DOWNLOAD_SOCKET.seconds(), deadline_s)) as response,  # noqa: S310
        destination.open("wb") as out,
    ):
        while chunk := response.read(1 << 16):
            if time.monotonic() - started > deadline_s:
                raise TimeoutError(f"the download of {url} passed its deadline of {deadline_s:.0f} s")
            out.write(chunk)


def recorded_download(runner: CommandRunner | None, url: str, destination: Path) -> None:
    """``download_file``, shown in the runner's command transcript like a command."""
    started_wall, started = time.time(), time.monotonic()
    problem = ""
    try:
        download_file(url, destination)
    except BaseException as error:
        problem = one_line(error) or type(error).__name__
        raise
    finally:
        if runner is not None:
            runner.record(
                f"download {url}",
                ("download", url),
                started_at=started_wall,
                duration_s=time.monotonic() - started,
                returncode=1 if problem else 0,
                stderr=problem,
                timed_out="passed its deadline" in problem,
            )


def published_sha256(url: str, artifact_name: str, scratch: str, runner: CommandRunner | None = None) -> str:
    checksum_file = Path(scratch) / "checksums"
    recorded_download(runner, url, checksum_file)
    return sha256_in_checksums(checksum_file.read_text(), artifact_name, url)


def sha256_in_checksums(text: str, artifact_name: str, url: str) -> str:
    """The SHA-256 a published checksum file gives for ``artifact_name``: a ``sha256sum`` line
    naming it, or the file's one bare hash (``.sha256`` files of single artifacts)."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    for fields in lines:
        if len(fields) >= 2 and fields[-1].lstrip("*").endswith(artifact_name):
            return fields[0].lower()
    if len(lines) == 1 and re.fullmatch(r"[0-9a-fA-F]{64}", lines[0][0]):
        return lines[0][0].lower()
    raise ValueError(f"no SHA-256 for {artifact_name} in {url}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def extract_member(artifact: Path, member: str | None) -> Path:
    if member is None:
        return artifact
    with tarfile.open(artifact) as archive:
        archive.extract(member, artifact.parent, filter="data")
    return artifact.parent / member


def install_binary(binary: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    shutil.copyfile(binary, partial)
    partial.chmod(0o755)
    partial.replace(target)
