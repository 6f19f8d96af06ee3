"""The ``samples/`` directory of the Istio release under test, as the docs use it.

Seed 001 applies ``samples/helloworld/helloworld.yaml``, ``samples/sleep|curl/...`` and runs
``samples/multicluster/gen-eastwest-gateway.sh`` from the release archive of the version being
installed; so does the suite, instead of keeping copies that drift. Sources, in order:

1. the tools cache (``<tools dir>/istio-samples/<key>/samples``), filled once per host under a
   file lock shared by all xdist workers;
2. the release archive (``istio-release-archive`` in versions.yaml), verified by SHA-256;
3. the Istio Go module of the same tag (or an explicit Go revision), whose source tree holds
   ``samples/`` too: ``go mod download -json istio.io/istio@<tag>`` through the runner.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import tarfile
import tempfile
import urllib.error
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from programs.downloads import (  # download_file: self-tests replace it there
    published_sha256,
    recorded_download,
    sha256_of,
)
from programs.runner import CommandError, CommandRunner
from programs.tools import expand_template
from run.timeouts import SAMPLES_DOWNLOAD

log = logging.getLogger("eicp.samples")

_COMPLETE = ".complete"
# Files the scenarios read; a cache entry or source lacking one of them is not the samples tree.
REQUIRED = ("helloworld/helloworld.yaml", "multicluster/gen-eastwest-gateway.sh")


class SamplesUnavailable(RuntimeError):
    """No source gave the samples; the message lists what was tried and why it failed."""

    def __init__(self, version: str, attempts: list[tuple[str, str]]) -> None:
        self.attempts = attempts
        lines = [f"the samples/ of Istio {version} could not be had; tried:"]
        lines += [f"  - {how}: {why}" for how, why in attempts]
        lines.append(
            "Fix: allow downloads, make the Go module proxy reachable, or place the release's "
            "samples/ in the cache directory named above."
        )
        super().__init__("\n".join(lines))


@dataclass
class SamplesProvider:
    """Finds or fetches ``samples/`` per Istio version; safe across threads and xdist workers."""

    cache_dir: Path
    runner: CommandRunner
    archive: dict[str, Any]  # versions.yaml tools["istio-release-archive"]
    allow_download: bool = True
    go_binary: str = "go"

    def samples_dir(self, version: str, *, go_revision: str | None = None) -> Path:
        """The samples/ directory of ``version``; ``go_revision`` names the Go module revision
        to use instead of the tag (source snapshots the proxy serves under a pseudo-version)."""
        key = version if go_revision is None else f"{version}@{go_revision}"
        entry = self.cache_dir / "istio-samples" / _safe(key)
        samples = entry / "samples"
        attempts: list[tuple[str, str]] = []
        if (entry / _COMPLETE).exists():
            return samples
        entry.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(entry.parent / f".{_safe(key)}.lock"), timeout=SAMPLES_DOWNLOAD.seconds() + 300.0):
            if (entry / _COMPLETE).exists():  # another worker filled it while we waited
                return samples
            attempts.append(("cache", f"{entry} is not filled"))
            if self.allow_download and go_revision is None:
                if self._from_archive(version, entry, attempts):
                    return samples
            elif go_revision is None:
                attempts.append(("release archive", "downloads are disabled"))
            if self._from_go_module(go_revision or version, entry, attempts):
                return samples
        raise SamplesUnavailable(version, attempts)

    def samples_from_tree(self, key: str, source: Path) -> Path:
        """The samples/ of a local Istio checkout (``--istio-source DIR``), copied into the cache
        under ``key`` (its revision and the digest of its uncommitted changes)."""
        entry = self.cache_dir / "istio-samples" / _safe(f"source-{key}")
        if not (entry / _COMPLETE).exists():
            entry.parent.mkdir(parents=True, exist_ok=True)
            with FileLock(
                str(entry.parent / f".{entry.name}.lock"), timeout=SAMPLES_DOWNLOAD.seconds() + 300.0
            ):
                if not (entry / _COMPLETE).exists():
                    try:
                        self._install(source, entry, f"checkout {source.parent}")
                    except (OSError, ValueError) as error:
                        raise SamplesUnavailable(key, [(f"copy {source}", _one_line(error))]) from None
        return entry / "samples"

    def _from_archive(self, version: str, entry: Path, attempts: list[tuple[str, str]]) -> bool:
        url = expand_template(str(self.archive["download_url"]), version)
        how = f"release archive {url}"
        checksum_url = self.archive.get("checksum_url")
        if not checksum_url:
            attempts.append((how, "no checksum URL pinned; refusing an unverified archive"))
            return False
        try:
            with tempfile.TemporaryDirectory(dir=entry.parent) as scratch:
                artifact = Path(scratch) / url.rsplit("/", 1)[-1]
                log.info("downloading %s", url)
                recorded_download(self.runner, url, artifact)
                expected = published_sha256(
                    expand_template(str(checksum_url), version), artifact.name, scratch, self.runner
                )
                actual = sha256_of(artifact)
                if actual != expected:
                    attempts.append((how, f"SHA-256 mismatch: got {actual}, published {expected}"))
                    return False
                unpacked = Path(scratch) / "unpacked"
                _extract_samples(artifact, unpacked)
                self._install(_single_samples_dir(unpacked), entry, f"{url} sha256:{actual}")
        except (urllib.error.URLError, OSError, TimeoutError, ValueError, tarfile.TarError) as error:
            attempts.append((how, _one_line(error)))
            return False
        return True

    def _from_go_module(self, revision: str, entry: Path, attempts: list[tuple[str, str]]) -> bool:
        module = str(self.archive.get("go_module", "istio.io/istio"))
        how = f"go mod download {module}@{revision}"
        go = shutil.which(self.go_binary)
        if go is None:
            attempts.append((how, f"{self.go_binary!r} is not on PATH"))
            return False
        try:
            with tempfile.TemporaryDirectory() as outside_any_module:
                result = self.runner.run(
                    [go, "mod", "download", "-json", f"{module}@{revision}"],
                    timeout_s=SAMPLES_DOWNLOAD.seconds(),
                    title=how,
                    check=False,
                    cwd=Path(outside_any_module),
                    env={"GOFLAGS": "-mod=mod"},
                )
            info = json.loads(result.stdout or "{}")
            if result.returncode != 0 or "Dir" not in info:
                attempts.append((how, _one_line(info.get("Error") or result.stderr or "no module directory")))
                return False
            source = Path(info["Dir"]) / "samples"
            self._install(source, entry, f"go module {module}@{info.get('Version', revision)}")
        except (CommandError, OSError, ValueError) as error:
            attempts.append((how, _one_line(error)))
            return False
        return True

    def _install(self, source: Path, entry: Path, origin: str) -> None:
        """Copy ``source`` into the cache entry atomically; check it holds what scenarios read."""
        missing = [name for name in REQUIRED if not (source / name).is_file()]
        if missing:
            raise ValueError(f"{source} lacks {', '.join(missing)}: not an Istio samples/ tree")
        partial = entry.with_name(entry.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        # copyfile, not copy2: the Go module cache is read-only and its modes must not follow.
        shutil.copytree(source, partial / "samples", copy_function=shutil.copyfile)
        _make_writable(partial)
        (partial / _COMPLETE).write_text(origin + "\n", encoding="utf-8")
        shutil.rmtree(entry, ignore_errors=True)
        partial.replace(entry)
        log.info("Istio samples cached at %s (from %s)", entry, origin)


def _extract_samples(archive: Path, destination: Path) -> None:
    """Extract only ``istio-<version>/samples/`` members of a release archive."""
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.split("/")[1:2] == ["samples"]]
        if not members:
            raise ValueError(f"{archive.name} holds no <top>/samples/ directory")
        tar.extractall(destination, members=members, filter="data")


def _single_samples_dir(unpacked: Path) -> Path:
    found = sorted(unpacked.glob("*/samples"))
    if len(found) != 1:
        raise ValueError(f"expected one <top>/samples in the archive, found {len(found)}")
    return found[0]


def _make_writable(root: Path) -> None:
    for directory, _subdirs, files in os.walk(root):
        Path(directory).chmod(0o755)
        for name in files:
            path = Path(directory) / name
            path.chmod(path.stat().st_mode | stat.S_IWUSR | stat.S_IRUSR)


def _safe(key: str) -> str:
    return "".join(char if char.isalnum() or char in "._-+@" else "_" for char in key)


def _one_line(error: object) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 300 else text[:297] + "..."
