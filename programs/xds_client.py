"""The suite's own synthetic proxy (programs/xdsclient/main.go), built against an Istio source.

kwok pods run no containers, so no Envoy asks istiod for configuration. The Go program in
programs/xdsclient stands in for the sidecar on the control-plane side: it uses Istio's own
``pkg/adsc`` and Citadel client, at the same Istio source as the ``pilot-discovery`` under test,
to get a workload certificate and hold an ADS stream as the injected pod would.

The build generates a throwaway wrapper module (in a temporary directory) whose ``go.mod`` is
Istio's own with ``replace istio.io/istio => <that source in the Go module cache>``, and whose
``go.sum`` is Istio's: so the program builds with exactly Istio's dependency versions, with
``-mod=readonly`` (no checksum-database lookups for modules Istio already pins). The binary is
cached in the tools cache keyed by the Istio revision and a hash of the program's source.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from programs.runner import CommandError, CommandRunner
from run.timeouts import GO_MOD_DOWNLOAD, XDS_CLIENT_BUILD

SOURCE_DIR = Path(__file__).resolve().parent / "xdsclient"
ISTIO_MODULE = "istio.io/istio"


class XdsClientUnavailable(RuntimeError):
    """The synthetic proxy could not be built; the message says which step failed and why."""


@dataclass(frozen=True)
class XdsClientBuild:
    istio_revision: str  # a Go module version of istio.io/istio, e.g. v0.0.0-2026...-b01690e6db7d
    tools_dir: Path
    runner: CommandRunner
    go_binary: str = "go"
    # An Istio source tree to build against instead of downloading ``istio_revision`` (an
    # --istio-source checkout or module directory, programs/source_builds.py).
    istio_dir: Path | None = None
    cache_key: str | None = None  # the cache directory's name prefix (default: the revision)

    def target(self) -> Path:
        key = self.cache_key or self.istio_revision
        return self.tools_dir / "xdsclient" / f"{key}-{source_digest()[:12]}" / "xdsclient"

    def resolve(self) -> Path:
        """The cached binary, built first if needed (one build per host: a file lock)."""
        target = self.target()
        target.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(target.parent / ".build.lock"), timeout=XDS_CLIENT_BUILD.seconds() + 60):
            if target.exists():
                return target
            self._build(target)
        return target

    def _download(self) -> Path:
        download = self.runner.run(
            [self.go_binary, "mod", "download", "-json", f"{ISTIO_MODULE}@{self.istio_revision}"],
            timeout_s=GO_MOD_DOWNLOAD.seconds(),
            title=f"go mod download {ISTIO_MODULE}@{self.istio_revision}",
        )
        return Path(json.loads(download.stdout)["Dir"])

    def _build(self, target: Path) -> None:
        try:
            module_dir = self.istio_dir or self._download()
            with tempfile.TemporaryDirectory(prefix="eicp-xdsclient-") as scratch:
                work = Path(scratch)
                write_wrapper_module(work, module_dir, self.istio_revision)
                partial = target.with_suffix(".partial")
                self.runner.run(
                    [
                        self.go_binary,
                        "build",
                        "-mod=readonly",
                        "-trimpath",
                        "-ldflags",
                        "-s -w",
                        "-o",
                        str(partial),
                        ".",
                    ],
                    cwd=work,
                    env={"CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"},
                    timeout_s=XDS_CLIENT_BUILD.seconds(),
                    title="go build the synthetic proxy (programs/xdsclient)",
                )
                partial.chmod(0o755)
                partial.replace(target)
        except (CommandError, KeyError, json.JSONDecodeError) as error:
            raise XdsClientUnavailable(
                f"the synthetic proxy (programs/xdsclient) could not be built against "
                f"{self.istio_dir or f'{ISTIO_MODULE}@{self.istio_revision}'}: {error}"
            ) from None


def source_digest() -> str:
    """SHA-256 over the program's sources: a changed program is rebuilt, never served stale."""
    digest = hashlib.sha256()
    for path in sorted(SOURCE_DIR.glob("*.go")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def write_wrapper_module(work: Path, istio_dir: Path, revision: str) -> None:
    """go.mod = Istio's requirements + a replace to the Istio source; go.sum = Istio's."""
    istio_mod = (istio_dir / "go.mod").read_text()
    body = re.sub(r"^module .*$", "module eicp.local/xdsclient", istio_mod, count=1, flags=re.MULTILINE)
    body += f"\nrequire {ISTIO_MODULE} {revision}\n\nreplace {ISTIO_MODULE} => {istio_dir}\n"
    (work / "go.mod").write_text(body)
    shutil.copyfile(istio_dir / "go.sum", work / "go.sum")
    for source in SOURCE_DIR.glob("*.go"):
        shutil.copyfile(source, work / source.name)
