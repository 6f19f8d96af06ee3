"""A kwok-tier child run of the suite (layer 3: real API servers, the real istiod, HAProxy for
its gateway) with an identity of its own, and what it may leave on the host: nothing.

``KwokChild`` is ``pytest suites --topology-mode kwok --scenario <scenario>`` on the offline
tier's istioctl and pilot-discovery, the way tests/test_kwok_tier.py runs it, with a run id,
a cluster prefix and a runs directory of its own. ``left_behind`` lists what the run left:
tests/kwok_leftovers.py's network namespaces, ``/etc/netns`` files, bridges and processes
under the runs directory, plus every live process carrying the run id in its environment
(kwokctl and what it starts inherit it, wherever their files are) and the run's directory
(its kubeconfigs and keys).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from programs.tool_policy import KWOK_MODE_TOOLS
from programs.tools import ResolvedTool
from scenarios.releases import load_pins
from tests.kwok_leftovers import leftovers
from tests.test_kwok_netns import kwok_host_usable

ROOT = Path(__file__).resolve().parent.parent


def _run_id() -> str:
    """A run id of the suite's shape (clusters/names.py), unique to this child."""
    return "".join(secrets.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(12))


class KwokChild:
    """One child suite run; ``start`` it with extra pytest arguments and environment."""

    def __init__(self, real_tool: Callable[[str], ResolvedTool], tmp_path: Path, scenario: str) -> None:
        reason = kwok_host_usable()
        if reason:
            pytest.skip(reason)
        for built in ("istioctl-offline", "pilot-discovery-offline", "xdsclient-offline"):
            real_tool(built)  # built (or found cached) here, so the child run finds them cached
        self.run_id = _run_id()
        self.prefix = "eicpt" + uuid.uuid4().hex[:6]
        self.runs_dir = tmp_path / "runs"
        self.report = tmp_path / "report"
        tool_paths = [
            arg for name in KWOK_MODE_TOOLS for arg in ("--tool-path", f"{name}={real_tool(name).path}")
        ]
        self.argv = [
            sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", "-n", "0",
            "--topology-mode", "kwok", "--scenario", scenario, "--cluster-prefix", self.prefix,
            "--istio-source", f"istio.io/istio@{load_pins().tier_source()}", *tool_paths,
            "--report-dir", str(self.report),
        ]  # fmt: skip

    def env(self, **extra: str) -> dict[str, str]:
        """This environment with the child's own run identity (not the parent's, not an xdist worker)."""
        env = {
            key: value
            for key, value in os.environ.items()
            if key != "EICP_RUN_ID" and not key.startswith("PYTEST_XDIST")
        }
        return {**env, "EICP_RUN_ID": self.run_id, "EICP_RUNS_DIR": str(self.runs_dir), **extra}

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*self.argv, *args],
            cwd=ROOT,
            env=self.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def left_behind(self) -> list[str]:
        found = leftovers(self.prefix, self.runs_dir) + processes_with_run_id(self.run_id)
        run_dir = self.runs_dir / self.run_id
        if run_dir.exists():
            found.append(f"the run directory {run_dir}: {sorted(p.name for p in run_dir.rglob('*'))[:20]}")
        return found


def processes_with_run_id(run_id: str) -> list[str]:
    """``pid N: command line`` of every live process (zombies aside) with ``EICP_RUN_ID=run_id``
    in its environment."""
    marker = f"EICP_RUN_ID={run_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        found.append(f"pid {entry.name}: {cmdline[:160]}")
    return found
