"""``pytest suites --scenario ip-passthrough`` on the simulated clusters, started in the background.

For self-tests that act on a whole run while it goes on (signals) or that change one answer of
the simulation (a failing install): tests/e2e_cluster_sim.py provides the fake tools, this
starts the child and names the directories the run uses.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tests import e2e_cluster_sim as sim
from tests.fakeexec import FakeTools
from tests.test_e2e_wiring import FAKE_TOOLS, REPO_ROOT, _samples_cache
from tests.topology_child import RUN_ID, environment


@dataclass
class Child:
    process: subprocess.Popen[str]
    tools: FakeTools
    report_dir: Path
    runs_dir: Path
    state_dir: Path

    @property
    def run_dir(self) -> Path:
        return self.runs_dir / RUN_ID

    def output(self, timeout_s: float) -> str:
        out, _ = self.process.communicate(timeout=timeout_s)
        return out


@contextlib.contextmanager
def started(root: Path, prepare: Callable[[FakeTools, str], None], *extra: str) -> Iterator[Child]:
    """Start the child with the simulation's tools, after ``prepare(tools, api_url)`` changed
    their rules (``api_url``: the simulated API server's); on leaving, kill whatever the child
    left running (a failed test must leave no daemon behind)."""
    tools = FakeTools(root / "fake")
    api = sim.SecretApi()
    with api.serving():
        sim.install(tools, api.url)
        prepare(tools, api.url)
        yield from _run(root, tools, extra)


def _run(root: Path, tools: FakeTools, extra: tuple[str, ...]) -> Iterator[Child]:
    state_dir = root / "state"
    tools_dir = root / "cache" / "tools"
    _samples_cache(tools_dir)
    env = environment(tools.path_env(), state_dir)
    env["EICP_TOOLS_DIR"] = str(tools_dir)
    tool_paths = [arg for name in FAKE_TOOLS for arg in ("--tool-path", f"{name}={tools.bin_dir / name}")]
    argv = [
        sys.executable, "-m", "pytest", "suites", "-p", "tests.e2e_cluster_sim",
        "--scenario", "ip-passthrough", "--istio-version", "1.30",
        "--report-dir", str(root / "report"), "--no-download", *tool_paths, "-rA", *extra,
    ]  # fmt: skip
    process = subprocess.Popen(
        argv, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    child = Child(process, tools, root / "report", state_dir.parent / "runs", state_dir)
    try:
        yield child
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
        _stop_stray_daemon(state_dir)


def _stop_stray_daemon(state_dir: Path) -> None:
    state = state_dir / "cloud-provider-kind.json"
    if state.exists():
        with contextlib.suppress(ProcessLookupError, KeyError, ValueError):
            os.killpg(int(json.loads(state.read_text())["daemon"]["pid"]), signal.SIGKILL)


def fake_processes(bin_dir: Path) -> list[str]:
    """Command lines of live processes running one of the fake tools."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and any(str(bin_dir).encode() in word for word in argv[:2]):
            found.append(" ".join(word.decode(errors="replace") for word in argv))
    return found
