"""The tool resolver's fake world: a fake kind binary and its pins entry, a resolver over a
temporary cache, HTTPS downloads served from a dict, and a fake ``go`` that downloads the module
and builds the binary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from programs import downloads as downloads_module
from programs.runner import CommandRunner
from programs.tools import ToolResolver
from tests.fakeexec import FakeTools

FAKE_KIND = "#!/bin/sh\necho 'kind v0.33.0 go1.26 linux/amd64'\n"


def spec(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "version": "v0.33.0",
        "go_module": "sigs.k8s.io/kind",
        "go_package": ".",
        "go_version_ldflags": {"main.version": "{version}"},
        "download_url": "https://example.invalid/kind/{version}/kind-linux-{arch}",
        "checksum_url": "https://example.invalid/kind/{version}/kind-linux-{arch}.sha256sum",
        "version_args": ["version"],
        "version_pattern": "kind (v[0-9.]+)",
    }
    base.update(overrides)
    return base


def resolver(tmp_path: Path, runner: CommandRunner, **kwargs: Any) -> ToolResolver:
    return ToolResolver.from_pins(
        {"kind": spec(**kwargs.pop("spec", {}))}, tmp_path / "cache", runner, **kwargs
    )


def serve(monkeypatch: pytest.MonkeyPatch, files: dict[str, bytes]) -> list[str]:
    """Replace the HTTPS download with a lookup in ``files``; unknown URLs fail like no network."""
    fetched: list[str] = []

    def download(url: str, destination: Path) -> None:
        fetched.append(url)
        if url not in files:
            raise OSError(f"[Errno -2] Name or service not known: {url}")
        destination.write_bytes(files[url])

    monkeypatch.setattr(downloads_module, "download_file", download)
    return fetched


def write_fake_go(fake_tools: FakeTools, tmp_path: Path, binary: str = FAKE_KIND) -> Path:
    module_dir = tmp_path / "modcache" / "kind@v0.33.0"
    module_dir.mkdir(parents=True)
    go = fake_tools.install("go")
    go.on(r"^mod download -json sigs.k8s.io/kind@v0.33.0$", stdout=json.dumps({"Dir": str(module_dir)}))
    # `go build ... -o <target>` writes the binary the way the real one would.
    go.on(r"^build .* -o (\S+) \.$", write_file=(r"\1", binary))
    return module_dir
