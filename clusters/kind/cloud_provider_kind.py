"""Supervisor of the one cloud-provider-kind daemon per host (versions.yaml pins it).

cloud-provider-kind serves LoadBalancer Services of *every* kind cluster on the host and has
no leader election, so exactly one may run. Every pytest process (each xdist worker, and any
other run of the suite by the same user) shares it through two files in the state directory:

- ``cloud-provider-kind.lock``: a file lock held while the state is read or changed;
- ``cloud-provider-kind.json``: the daemon's pid and process start time (so a recycled pid is
  never mistaken for it), its owner, and the processes currently using it.

``ensure_started()`` joins a live daemon or starts one (``release()`` undoes it). The process
that started the daemon stops it when it leaves, unless other users are still alive: then the
duty to stop it passes to one of them, so the last user out stops it. Stopping sends SIGTERM to
the daemon's process group (it gets its own session), then SIGKILL after a grace period. If the
daemon is found dead, this run's leftover ``kindccm-*`` containers are removed before a new one
starts.

It is started like every other long-lived child of the suite, by ``CommandRunner.start``: argv
logged redacted, its own process group, output straight to a file (not through a pipe, so it
survives the exit of the worker that started it); start and stop are Allure steps. That log
and the load-balancer logs are written in private, in the state directory, and reach the
report directory only redacted (clusters/kind/cpk_logs.py). Flags (v0.10.0 and v0.11.0,
``cmd/app.go``): Gateway API support and the default
IngressClass are turned off (the suite installs its own CRDs and classes), and load-balancer
logs are dumped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import allure
from filelock import FileLock

from clusters.kind.cli import DockerCli
from clusters.kind.cpk_logs import RedactedLogs
from clusters.process_id import ProcessId
from programs.background import BackgroundProcess
from programs.runner import CommandError, CommandRunner
from programs.waits import WaitTimeout, wait_until
from run.timeouts import CPK_LOCK, CPK_STARTUP, CPK_STOP

__all__ = [
    "CloudProviderKind",
    "CloudProviderKindError",
    "ProcessId",
]

log = logging.getLogger("eicp.cloud_provider_kind")

STATE_FILE = "cloud-provider-kind.json"
LOCK_FILE = "cloud-provider-kind.lock"
_LOG_TAIL_LINES = 30


class CloudProviderKindError(RuntimeError):
    """The daemon could not be started or stopped."""


class CloudProviderKind:
    """One pytest process's handle on the host's cloud-provider-kind daemon."""

    def __init__(
        self,
        binary: str | Path,
        state_dir: Path,
        log_dir: Path,
        runner: CommandRunner,
        docker: DockerCli | None,
        own_clusters: Callable[[], Sequence[str]],
        *,
        run_id: str,
        worker: str,
        startup_grace_s: float | None = None,
        stop_timeout_s: float | None = None,
    ) -> None:
        self.binary = str(binary)
        self.state_dir = state_dir
        self.log_dir = log_dir
        self.runner = runner
        self.redactor = runner.redactor
        self.docker = docker
        self.own_clusters = own_clusters
        self.run_id = run_id
        self.worker = worker
        self.startup_grace_s = CPK_STARTUP.seconds() if startup_grace_s is None else startup_grace_s
        self.stop_timeout_s = CPK_STOP.seconds() if stop_timeout_s is None else stop_timeout_s
        self.me = ProcessId.of(os.getpid())
        # Distinguishes handles inside one process (tests simulate two workers that way).
        self.key = uuid.uuid4().hex[:12]
        self._process: BackgroundProcess | None = None
        self._joined = False
        self.logs = RedactedLogs(
            state_dir / "cloud-provider-kind-logs", self.log_file, self.lb_log_dir, self.redactor
        )

    # -- paths and argv -----------------------------------------------------------------

    @property
    def state_file(self) -> Path:
        return self.state_dir / STATE_FILE

    @property
    def log_file(self) -> Path:
        return self.log_dir / "cloud-provider-kind.log"

    @property
    def lb_log_dir(self) -> Path:
        return self.log_dir / "cloud-provider-kind-lb"

    def argv(self) -> list[str]:
        return [
            self.binary,
            "--gateway-channel",
            "disabled",
            "--enable-default-ingress=false",
            "--enable-log-dumping",
            "--logs-dir",
            str(self.logs.raw_lb_dir),
        ]

    # -- public API ---------------------------------------------------------------------

    def ensure_started(self) -> None:
        """Make sure the host's daemon runs and count this process as a user of it."""
        if self._joined:
            return
        with self._locked():
            state = read_state(self.state_file)
            daemon = ProcessId.from_json(state["daemon"]) if state is not None else None
            if state is not None and daemon is not None and daemon.alive():
                others = [user for user in self._live_users(state) if not self._is_me(user)]
                state["users"] = [*others, self._user_entry()]
                if not any(_same_user(state["owner"], user) for user in state["users"]):
                    # Its starter left without handing over (killed): this user takes the duty.
                    state["owner"] = self._user_entry()
                write_state(self.state_file, state)
                log.info("joined cloud-provider-kind pid %s (started by %s)", daemon.pid, state["owner"])
                self._joined = True
                self.logs.start_publishing()
                return
            if state is not None:
                log.warning(
                    "cloud-provider-kind pid %s (started by %s) is gone; removing this run's leftover "
                    "kindccm containers and starting a new one",
                    daemon.pid if daemon else "?",
                    state.get("owner"),
                )
                self._remove_own_leftovers()
            write_state(self.state_file, self._start())
            self._joined = True
            self.logs.start_publishing()

    def release(self) -> str:
        """Stop using the daemon; stop it if this is its owner and no other user is alive.

        Returns what happened, for the log: "not started", "gone", "handed over to <pid>",
        "left running for <n> user(s)" or "stopped".
        """
        if not self._joined:
            return "not started"
        self._joined = False
        self.logs.stop_publishing()
        with self._locked():
            state = read_state(self.state_file)
            if state is None:
                return "gone"
            daemon = ProcessId.from_json(state["daemon"])
            others = [user for user in self._live_users(state) if not self._is_me(user)]
            if not daemon.alive():
                self.state_file.unlink(missing_ok=True)
                self._remove_own_leftovers()
                return "gone"
            if others:
                state["users"] = others
                outcome = f"left running for {len(others)} user(s)"
                if self._is_me(state["owner"]):
                    state["owner"] = others[0]
                    outcome = f"handed over to pid {others[0]['pid']}"
                write_state(self.state_file, state)
                log.info("cloud-provider-kind pid %s %s", daemon.pid, outcome)
                return outcome
            self._stop(daemon, int(state.get("pgid", daemon.pid)))
            self.state_file.unlink(missing_ok=True)
            return "stopped"

    def stop_orphan(self) -> bool:
        """Stop a daemon that no live process uses any more (its users were killed). True if stopped."""
        with self._locked():
            state = read_state(self.state_file)
            if state is None:
                return False
            daemon = ProcessId.from_json(state["daemon"])
            if daemon.alive() and self._live_users(state):
                return False
            if daemon.alive():
                log.warning("stopping orphaned cloud-provider-kind pid %s (no live user)", daemon.pid)
                self._stop(daemon, int(state.get("pgid", daemon.pid)))
            self.state_file.unlink(missing_ok=True)
            return True

    def running(self) -> bool:
        """Whether a cloud-provider-kind started by the suite runs on this host now."""
        state = read_state(self.state_file)
        return state is not None and ProcessId.from_json(state["daemon"]).alive()

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        return self.logs.tail(lines)

    # -- internals ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.state_dir / LOCK_FILE), timeout=CPK_LOCK.seconds()):
            yield

    def _start(self) -> dict[str, Any]:
        argv = self.argv()
        self.logs.prepare()
        shown = " ".join(self.redactor.redact_argv(argv))
        with allure.step(f"start cloud-provider-kind: {shown}"):
            log.info("cloud-provider-kind log (redacted): %s", self.log_file)
            try:
                process = self.runner.start(argv, log_file=self.logs.raw_log, title="cloud-provider-kind")
            except CommandError as error:
                raise CloudProviderKindError(f"cannot start {shown}: {error}") from None
            code = process.exit_within(self.startup_grace_s)
            if code is not None:
                raise CloudProviderKindError(
                    f"cloud-provider-kind exited with code {code} right after start ({shown}); "
                    f"its log ({self.log_file}) ends with:\n{self.log_tail()}"
                )
        self._process = process
        daemon = ProcessId.of(process.pid)
        log.info("cloud-provider-kind started, pid %s", process.pid)
        return {
            "daemon": {"pid": daemon.pid, "start_ticks": daemon.start_ticks},
            "pgid": process.pid,
            "argv": self.redactor.redact_argv(argv),
            "log": str(self.logs.raw_log),
            "started_at": time.time(),
            "owner": self._user_entry(),
            "users": [self._user_entry()],
        }

    def _stop(self, daemon: ProcessId, pgid: int) -> None:
        with allure.step(f"stop cloud-provider-kind (pid {daemon.pid})"):
            signal_group(daemon, pgid, signal.SIGTERM)
            try:
                self._wait_gone(daemon, self.stop_timeout_s)
            except WaitTimeout:
                log.warning("cloud-provider-kind pid %s ignored SIGTERM; killing it", daemon.pid)
                signal_group(daemon, pgid, signal.SIGKILL)
                self._wait_gone(daemon, 10.0)
            log.info("cloud-provider-kind pid %s stopped", daemon.pid)
        self.logs.remove_raw()

    def _wait_gone(self, daemon: ProcessId, deadline_s: float) -> None:
        def gone() -> bool:
            if self._process is not None and self._process.pid == daemon.pid:
                self._process.running()  # reap our own child so it is not left a zombie
            return not daemon.alive()

        wait_until(
            f"cloud-provider-kind pid {daemon.pid} to exit",
            gone,
            deadline_s,
            show=lambda done: "exited" if done else "still running",
            initial_delay_s=0.1,
            max_delay_s=1.0,
        )

    def _remove_own_leftovers(self) -> None:
        clusters = list(self.own_clusters())
        if self.docker is None or not clusters:
            return
        removed = self.docker.remove_cpk_containers_of(clusters)
        if removed:
            log.info("removed leftover cloud-provider-kind containers: %s", ", ".join(removed))

    def _user_entry(self) -> dict[str, Any]:
        return {
            "pid": self.me.pid,
            "start_ticks": self.me.start_ticks,
            "key": self.key,
            "run_id": self.run_id,
            "worker": self.worker,
        }

    def _is_me(self, user: dict[str, Any]) -> bool:
        return _same_user(user, self._user_entry())

    def _live_users(self, state: dict[str, Any]) -> list[dict[str, Any]]:
        return [user for user in state.get("users", []) if ProcessId.from_json(user).alive()]


def _same_user(first: dict[str, Any], second: dict[str, Any]) -> bool:
    return bool(first.get("pid") == second.get("pid") and first.get("key") == second.get("key"))


def read_state(path: Path) -> dict[str, Any] | None:
    """The shared state file of the daemon, or None when there is none (or it is unreadable)."""
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, OSError) as error:
        log.warning("ignoring unreadable %s: %s", path, error)
        return None
    return state if "daemon" in state else None


def write_state(path: Path, state: dict[str, Any]) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(state, indent=1))
    partial.replace(path)


def signal_group(daemon: ProcessId, pgid: int, sig: signal.Signals) -> None:
    """Signal the group this supervisor created: the pid is checked with its start time and
    must still lead that group."""
    if not daemon.alive():
        return
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(daemon.pid) != pgid:
            raise CloudProviderKindError(
                f"pid {daemon.pid} no longer leads process group {pgid}; not signalling it"
            )
        os.killpg(pgid, sig)
