"""Fake executables for self-tests: put on PATH, they record every call and replay scripted output.

Usage (see the ``fake_tools`` fixture in tests/conftest.py)::

    kind = fake_tools.install("kind")
    kind.on(r"^create cluster", stdout="", exit=1, stderr="boom", times=1)  # first call fails
    kind.on(r"^create cluster")                                            # then succeeds
    kind.on(r"^get clusters$", stdout_from_state="clusters")
    kind.on(r"^create cluster --name (\\S+)", add_state=("clusters", r"\\1"))
    ...
    assert [c.args for c in fake_tools.calls("kind")] == [...]

Rules are matched in order against the call's arguments joined by spaces (``re.search``).
A rule with ``times=N`` is used at most N times, then the next matching rule applies. A rule
with ``stdin_pattern`` also needs the call's standard input to match it (``re.search``), e.g. to
answer a ``kubectl create -f -`` by what is being created; one with ``when_state`` applies only
once that state has been written (a call that comes after another). ``names_from_stdin=True`` prints what
``kubectl apply -o name -f -`` prints for the documents on standard input: one
``kind.group/name`` line each (kubectl's name printer: the kind in lower case, the API group
as written, no group for core kinds), after ``stdout``. ``stdout`` holding a backslash is a
template (``\\1`` groups of the pattern) unless ``expand=False`` (JSON with escapes in it).
Unmatched calls exit with the tool's default (0 and no output unless changed). Each call is
appended to a JSON-lines log with argv, stdin, cwd and selected environment variables when it
ends (``lines``), and its arguments to a list of started calls when it starts (``started``).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
RECORDED_ENV = (
    "KUBECONFIG",
    "GOFLAGS",
    "CGO_ENABLED",
    "KIND_EXPERIMENTAL_PROVIDER",
    "EICP_RUN_ID",
    "SECRET_ENV",
)


@dataclass(frozen=True)
class Call:
    tool: str
    args: tuple[str, ...]
    stdin: str
    cwd: str
    env: dict[str, str]
    started: float
    ended: float
    pid: int

    @property
    def line(self) -> str:
        return " ".join(self.args)


@dataclass
class FakeTool:
    name: str
    spec_path: Path
    rules: list[dict[str, Any]] = field(default_factory=list)
    default_exit: int = 0
    default_stdout: str = ""

    def on(
        self,
        pattern: str,
        *,
        stdout: str = "",
        stderr: str = "",
        exit: int = 0,
        sleep: float = 0.0,
        times: int | None = None,
        stdout_from_state: str | None = None,
        add_state: tuple[str, str] | None = None,
        remove_state: tuple[str, str] | None = None,
        write_file: tuple[str, str] | None = None,
        stdin_pattern: str | None = None,
        expand: bool = True,
        names_from_stdin: bool = False,
        when_state: str | None = None,
    ) -> FakeTool:
        """Add a rule; see the module docstring. ``add_state``/``remove_state`` take
        ``(state name, template)`` where the template may use ``\\1`` groups of the pattern;
        ``write_file`` takes ``(path template, content)`` to create a file the tool would write."""
        self.rules.append(
            {
                "pattern": pattern,
                "stdout": stdout,
                "stderr": stderr,
                "exit": exit,
                "sleep": sleep,
                "times": times,
                "stdout_from_state": stdout_from_state,
                "add_state": list(add_state) if add_state else None,
                "remove_state": list(remove_state) if remove_state else None,
                "write_file": list(write_file) if write_file else None,
                "stdin_pattern": stdin_pattern,
                "expand": expand,
                "names_from_stdin": names_from_stdin,
                "when_state": when_state,
            }
        )
        self.save()
        return self

    def default(self, *, exit: int = 0, stdout: str = "") -> FakeTool:
        self.default_exit = exit
        self.default_stdout = stdout
        self.save()
        return self

    def save(self) -> None:
        spec = {
            "name": self.name,
            "rules": self.rules,
            "default_exit": self.default_exit,
            "default_stdout": self.default_stdout,
        }
        self.spec_path.write_text(json.dumps(spec, indent=1))


class FakeTools:
    """A directory of fake executables plus their shared call log and state."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin_dir = root / "bin"
        self.state_dir = root / "state"
        self.log_path = root / "calls.jsonl"
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.tools: dict[str, FakeTool] = {}

    def install(self, name: str) -> FakeTool:
        spec_path = self.root / f"{name}.spec.json"
        tool = FakeTool(name=name, spec_path=spec_path)
        tool.save()
        executable = self.bin_dir / name
        executable.write_text(
            f"#!{sys.executable}\n"
            "import sys\n"
            f"sys.path.insert(0, {str(REPO_ROOT)!r})\n"
            "from tests.fakeexec import main\n"
            f"sys.exit(main({str(spec_path)!r}, {str(self.log_path)!r}, {str(self.state_dir)!r}))\n"
        )
        executable.chmod(0o755)
        self.tools[name] = tool
        return tool

    def path_env(self, keep_system_path: bool = True) -> str:
        rest = os.environ.get("PATH", "") if keep_system_path else ""
        return f"{self.bin_dir}{os.pathsep}{rest}" if rest else str(self.bin_dir)

    def calls(self, tool: str | None = None) -> list[Call]:
        if not self.log_path.exists():
            return []
        calls = [
            Call(**_call_fields(json.loads(line))) for line in self.log_path.read_text().splitlines() if line
        ]
        return [call for call in calls if tool is None or call.tool == tool]

    def lines(self, tool: str | None = None) -> list[str]:
        """The calls that finished (a call is logged when it ends)."""
        return [call.line for call in self.calls(tool)]

    def started(self, tool: str) -> list[str]:
        """The calls that started, finished or not (the arguments joined by spaces)."""
        return self.state(f".{tool}.started")

    def state(self, name: str) -> list[str]:
        path = self.state_dir / name
        return path.read_text().splitlines() if path.exists() else []

    def set_state(self, name: str, lines: list[str]) -> None:
        (self.state_dir / name).write_text("".join(f"{line}\n" for line in lines))


def names_of(documents: str) -> str:
    """``kubectl apply/create -o name`` output for a YAML stream (printers.NamePrinter's form)."""
    import yaml  # the fakes run with the suite's interpreter

    lines = []
    for document in yaml.safe_load_all(documents):
        if not isinstance(document, dict) or not document.get("kind"):
            continue
        api_version = str(document.get("apiVersion") or "")
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        kind = str(document["kind"]).lower() + (f".{group}" if group else "")
        lines.append(f"{kind}/{(document.get('metadata') or {}).get('name', '<unknown>')}\n")
    return "".join(lines)


def _call_fields(raw: dict[str, Any]) -> dict[str, Any]:
    raw["args"] = tuple(raw["args"])
    return raw


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with (path.parent / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _apply_rule(rule: dict[str, Any], match: re.Match[str], state: Path, stdin: str, stdout: str) -> str:
    """The rule's effects on the fake's state and files; returns the complete stdout."""
    if rule["add_state"]:
        name, template = rule["add_state"]
        with (state / name).open("a") as handle:
            handle.write(match.expand(template) + "\n")
    if rule["remove_state"]:
        name, template = rule["remove_state"]
        target = match.expand(template)
        path = state / name
        if path.exists():
            kept = [line for line in path.read_text().splitlines() if line != target]
            path.write_text("".join(f"{line}\n" for line in kept))
    if rule.get("names_from_stdin"):
        stdout += names_of(stdin)
    if rule["stdout_from_state"]:
        path = state / rule["stdout_from_state"]
        stdout += path.read_text() if path.exists() else ""
    if rule["write_file"]:
        target_template, content = rule["write_file"]
        target_path = Path(match.expand(target_template))
        target_path.parent.mkdir(parents=True, exist_ok=True)
        target_path.write_text(content)
    return stdout


def main(spec_path: str, log_path: str, state_dir: str) -> int:
    """Entry point of every fake executable."""
    started = time.time()
    spec = json.loads(Path(spec_path).read_text())
    args = sys.argv[1:]
    joined = " ".join(args)
    stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    state = Path(state_dir)
    counters_path = state / f".{spec['name']}.counters.json"

    with _locked(counters_path):
        counters = json.loads(counters_path.read_text()) if counters_path.exists() else {}
        chosen: dict[str, Any] | None = None
        match: re.Match[str] | None = None
        for index, rule in enumerate(spec["rules"]):
            match = re.search(rule["pattern"], joined)
            if not match:
                continue
            if rule.get("stdin_pattern") and not re.search(rule["stdin_pattern"], stdin):
                continue
            if rule.get("when_state") and not (state / rule["when_state"]).exists():
                continue
            used = counters.get(str(index), 0)
            if rule["times"] is not None and used >= rule["times"]:
                continue
            counters[str(index)] = used + 1
            chosen = rule
            break
        counters_path.write_text(json.dumps(counters))
        stdout = spec["default_stdout"]
        stderr = ""
        code = spec["default_exit"]
        if chosen is not None:
            assert match is not None
            stdout, stderr, code = chosen["stdout"], chosen["stderr"], chosen["exit"]
            if chosen.get("expand", True) and "\\" in stdout:
                stdout = match.expand(stdout)
            stdout = _apply_rule(chosen, match, state, stdin, stdout)

    with (
        _locked(state / f".{spec['name']}.started"),
        (state / f".{spec['name']}.started").open("a") as handle,
    ):
        handle.write(joined.replace("\n", " ") + "\n")  # before the sleep: the call has started
    sleep = float(chosen["sleep"]) if chosen else 0.0
    if sleep:
        time.sleep(sleep)
    sys.stdout.write(stdout)
    sys.stderr.write(stderr)
    sys.stdout.flush()
    record = {
        "tool": spec["name"],
        "args": args,
        "stdin": stdin,
        "cwd": os.getcwd(),
        "env": {key: os.environ[key] for key in RECORDED_ENV if key in os.environ},
        "started": started,
        "ended": time.time(),
        "pid": os.getpid(),
    }
    with _locked(Path(log_path)), Path(log_path).open("a") as handle:
        handle.write(json.dumps(record) + "\n")
    return int(code)
