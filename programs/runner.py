"""The one command runner: every subprocess the suite starts goes through ``CommandRunner.run``.

It takes an argv list (never a shell string), bounds the call with a deadline, captures the
output, redacts secrets before anything is logged, raised or attached, records each call as
an Allure step with its output attached, and tells listeners (reports, timeline) about it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import allure

from programs.background import BackgroundProcess
from programs.redaction import Redactor
from programs.running import RUNNING
from run.lanes import current_lane
from run.timeouts import COMMAND, KILL_GRACE

log = logging.getLogger("eicp.runner")

_STDERR_TAIL_LINES = 20


@dataclass(frozen=True)
class CommandResult:
    """A finished command. ``argv``, ``stdout`` and ``stderr`` are the raw values, for callers
    that parse output; anything shown to a person goes through ``CommandRunner.redactor``."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass(frozen=True)
class CommandRecord:
    """What listeners and reports get: redacted, with timing."""

    title: str
    argv: tuple[str, ...]
    started_at: float
    duration_s: float
    returncode: int | None
    timed_out: bool
    stdout: str = ""
    stderr: str = ""
    background: bool = False  # a long-running child (``start``): its duration is its lifetime
    lane: str = "main"  # the strand of work it ran in (run/lanes.py), for the critical path


class CommandError(RuntimeError):
    """A command failed. The message holds only redacted text: safe to print and report."""

    def __init__(
        self,
        argv: Sequence[str],
        returncode: int | None,
        stderr_tail: str,
        *,
        reason: str | None = None,
        stdout: str = "",
        stderr: str = "",
    ) -> None:
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        # Raw-but-redacted output for callers that recognise known transient failures.
        self.stdout = stdout
        self.stderr = stderr
        command = " ".join(self.argv)
        why = reason or f"exited with code {returncode}"
        message = f"command {why}: {command}"
        if stderr_tail.strip():
            message += "\n--- last lines of stderr ---\n" + stderr_tail.rstrip()
        super().__init__(message)


class CommandTimeout(CommandError):
    """A command outlived its deadline and was killed."""


class CommandNotFound(CommandError):
    """The executable does not exist or is not executable."""


Listener = Callable[[CommandRecord], None]


@dataclass
class CommandRunner:
    """Runs commands for the whole suite. One per pytest process (fixture ``runner``, fixtures/core.py)."""

    redactor: Redactor = field(default_factory=Redactor)
    default_timeout_s: float = field(default_factory=COMMAND.seconds)
    transcript: Path | None = None
    base_env: Mapping[str, str] | None = None
    # Keys of one-time exports done for this session and where they went (programs/exports.py).
    exports: dict[str, Path] = field(default_factory=dict)
    _listeners: list[Listener] = field(default_factory=list)
    _broken_listeners: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def run(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        env: Mapping[str, str] | None = None,
        stdin: str | bytes | None = None,
        timeout_s: float | None = None,
        check: bool = True,
        cwd: Path | None = None,
        title: str | None = None,
        attach: bool = True,
    ) -> CommandResult:
        """Run ``argv`` and return its result; raise ``CommandError`` on failure when ``check``.

        ``env`` is added to the inherited environment. ``timeout_s`` is the deadline for the
        whole call; on expiry the process group is terminated, then killed, and
        ``CommandTimeout`` carries whatever output had arrived.
        """
        args = tuple(os.fspath(arg) for arg in argv)
        if not args:
            raise ValueError("empty argv")
        deadline = self.default_timeout_s if timeout_s is None else timeout_s
        shown = tuple(self.redactor.redact_argv(args))
        step_title = title or " ".join(shown)
        with allure.step(self.redactor.redact(step_title)):
            return self._run(args, shown, step_title, env, stdin, deadline, check, cwd, attach)

    def _run(
        self,
        args: tuple[str, ...],
        shown: tuple[str, ...],
        step_title: str,
        env: Mapping[str, str] | None,
        stdin: str | bytes | None,
        deadline: float,
        check: bool,
        cwd: Path | None,
        attach: bool,
    ) -> CommandResult:
        full_env = dict(os.environ if self.base_env is None else self.base_env)
        if env:
            full_env.update(env)
        stdin_bytes = stdin.encode() if isinstance(stdin, str) else stdin
        log.info("$ %s", " ".join(shown))
        started_wall = time.time()
        started = time.monotonic()
        try:
            process = subprocess.Popen(
                args,
                stdin=subprocess.PIPE if stdin_bytes is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=full_env,
                cwd=cwd,
                start_new_session=True,  # its own process group, so a timeout kills children too
            )
        except (FileNotFoundError, PermissionError, NotADirectoryError) as error:
            self._notify(step_title, shown, started_wall, 0.0, None, False, "", str(error))
            raise CommandNotFound(shown, None, str(error), reason=f"could not start ({error})") from None

        timed_out = False
        RUNNING.add(process.pid, " ".join(shown))
        try:
            raw_out, raw_err = process.communicate(stdin_bytes, timeout=deadline)
        except subprocess.TimeoutExpired:
            timed_out = True
            raw_out, raw_err = _terminate(process)
        except BaseException:
            # Ctrl-C or a crash in the suite: never leave the child running behind us.
            _terminate(process)
            raise
        finally:
            RUNNING.remove(process.pid)
        duration = time.monotonic() - started
        stdout = raw_out.decode("utf-8", errors="replace")
        stderr = raw_err.decode("utf-8", errors="replace")
        safe_out = self.redactor.redact(stdout)
        safe_err = self.redactor.redact(stderr)
        returncode = None if timed_out else process.returncode
        log.info(
            "  -> %s in %.1fs",
            "timed out" if timed_out else f"exit {returncode}",
            duration,
        )
        if attach:
            _attach_output(safe_out, safe_err)
        self._notify(step_title, shown, started_wall, duration, returncode, timed_out, safe_out, safe_err)

        tail = "\n".join(safe_err.splitlines()[-_STDERR_TAIL_LINES:])
        if timed_out:
            raise CommandTimeout(
                shown,
                None,
                tail or "\n".join(safe_out.splitlines()[-_STDERR_TAIL_LINES:]),
                reason=f"timed out after {deadline:.0f}s",
                stdout=safe_out,
                stderr=safe_err,
            )
        assert returncode is not None
        if check and returncode != 0:
            raise CommandError(shown, returncode, tail, stdout=safe_out, stderr=safe_err)
        return CommandResult(args, returncode, stdout, stderr, duration)

    def start(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        log_file: Path,
        env: Mapping[str, str] | None = None,
        inherit_env: bool = True,
        cwd: Path | None = None,
        title: str | None = None,
    ) -> BackgroundProcess:
        """Start ``argv`` in the background, in its own process group, output appended to
        ``log_file``; the caller owns the handle and must ``stop()`` it. ``inherit_env=False``
        gives the child only ``env`` (a pod's environment, not the suite's)."""
        args = tuple(os.fspath(arg) for arg in argv)
        if not args:
            raise ValueError("empty argv")
        shown = tuple(self.redactor.redact_argv(args))
        step_title = self.redactor.redact(title or " ".join(shown))
        full_env = dict(os.environ if self.base_env is None else self.base_env) if inherit_env else {}
        full_env.update(env or {})
        log.info("$ %s &", " ".join(shown))
        log_file.parent.mkdir(parents=True, exist_ok=True)
        started_wall = time.time()
        with log_file.open("ab") as output:
            try:
                process = subprocess.Popen(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    env=full_env,
                    cwd=cwd,
                    start_new_session=True,
                )
            except (FileNotFoundError, PermissionError, NotADirectoryError) as error:
                self._notify(step_title, shown, started_wall, 0.0, None, False, "", str(error))
                raise CommandNotFound(shown, None, str(error), reason=f"could not start ({error})") from None
        return BackgroundProcess(process, shown, step_title, log_file, started_wall, self)

    def _notify(
        self,
        title: str,
        shown: tuple[str, ...],
        started_wall: float,
        duration: float,
        returncode: int | None,
        timed_out: bool,
        stdout: str,
        stderr: str,
        background: bool = False,
    ) -> None:
        record = CommandRecord(
            title=self.redactor.redact(title),
            argv=shown,
            started_at=started_wall,
            duration_s=duration,
            returncode=returncode,
            timed_out=timed_out,
            stdout=stdout,
            stderr=stderr,
            background=background,
            lane=current_lane(),
        )
        if self.transcript is not None:
            self._append_transcript(record)
        for listener in list(self._listeners):
            try:
                listener(record)
            except Exception:  # a broken report must not break the run, nor be hidden
                if id(listener) not in self._broken_listeners:
                    self._broken_listeners.add(id(listener))
                    log.exception(
                        "command listener %s failed (its later failures are not logged again)",
                        getattr(listener, "__qualname__", repr(listener)),
                    )

    def record(
        self,
        title: str,
        argv: Sequence[str],
        *,
        started_at: float,
        duration_s: float,
        returncode: int | None,
        stderr: str = "",
        timed_out: bool = False,
    ) -> None:
        """Put work done in-process (a download) in the transcript and tell the listeners, as
        if it were a command: every slow thing a run does shows in the same place."""
        shown = tuple(self.redactor.redact_argv(tuple(argv)))
        safe_err = self.redactor.redact(stderr)
        self._notify(title, shown, started_at, duration_s, returncode, timed_out, "", safe_err)

    def _append_transcript(self, record: CommandRecord) -> None:
        assert self.transcript is not None
        status = "timeout" if record.timed_out else f"exit={record.returncode}"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.started_at))
        lines = [f"[{stamp}Z] {status} {record.duration_s:.1f}s $ {' '.join(record.argv)}"]
        if record.stderr.strip() and record.returncode != 0:
            lines.extend("    " + line for line in record.stderr.splitlines()[-_STDERR_TAIL_LINES:])
        with self._lock:
            self.transcript.parent.mkdir(parents=True, exist_ok=True)
            with self.transcript.open("a", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")


def _terminate(process: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """SIGTERM the process group, then SIGKILL after a grace period; return what it printed."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            return process.communicate(timeout=KILL_GRACE.seconds())
        except subprocess.TimeoutExpired:
            continue
        except ValueError:
            # communicate() was already in progress in this thread and cannot resume: its
            # output is lost, but the group must still go.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            break
    # Bounded even here: a child stuck in the kernel must not hang the suite with it.
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=KILL_GRACE.seconds())
    return b"", b""


def _attach_output(stdout: str, stderr: str) -> None:
    if stdout:
        allure.attach(stdout, name="stdout", attachment_type=allure.attachment_type.TEXT)
    if stderr:
        allure.attach(stderr, name="stderr", attachment_type=allure.attachment_type.TEXT)


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    """An Allure step for a group of commands (an install step, a wait)."""
    with allure.step(name):
        yield
