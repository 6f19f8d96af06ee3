"""A Go module's source tree, through the Go module proxy: ``go mod download -json MODULE@VERSION``.

Where nothing can be fetched from GitHub but the Go module proxy answers (this project's own
CI), upstream files the procedures use come from the module zip of the same version: the
Gateway API CRDs (``sigs.k8s.io/gateway-api``'s ``config/crd``), the Istio charts of a source
build (``istio.io/istio``'s ``manifests/charts``). The module cache is read-only: read, never write.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from programs.runner import CommandError, CommandRunner
from run.timeouts import GO_MODULE_DOWNLOAD


class GoModuleUnavailable(RuntimeError):
    """The module could not be had; the message says which, and why."""


def module_dir(
    runner: CommandRunner, module: str, version: str, *, go: str = "go", timeout_s: float | None = None
) -> Path:
    """The directory of ``module@version`` in the Go module cache, downloaded first if needed."""
    how = f"go mod download {module}@{version}"
    binary = shutil.which(go)
    if binary is None:
        raise GoModuleUnavailable(f"{how}: {go!r} is not on PATH")
    try:
        with tempfile.TemporaryDirectory() as outside_any_module:
            result = runner.run(
                [binary, "mod", "download", "-json", f"{module}@{version}"],
                timeout_s=GO_MODULE_DOWNLOAD.seconds() if timeout_s is None else timeout_s,
                title=how,
                check=False,
                cwd=Path(outside_any_module),
                env={"GOFLAGS": "-mod=mod"},
            )
        info = json.loads(result.stdout or "{}")
    except (CommandError, OSError, ValueError) as error:
        raise GoModuleUnavailable(f"{how}: {_one_line(error)}") from None
    if result.returncode != 0 or "Dir" not in info:
        raise GoModuleUnavailable(
            f"{how}: {_one_line(info.get('Error') or result.stderr or 'no module directory')}"
        )
    return Path(info["Dir"])


def _one_line(error: object) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 300 else text[:297] + "..."
