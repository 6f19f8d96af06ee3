"""The one command runner: argv, env, stdin, deadline, errors, redaction, Allure steps."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from programs.redaction import Redactor
from programs.runner import CommandError, CommandNotFound, CommandRecord, CommandRunner, CommandTimeout
from programs.running import end_running_commands, running_commands
from tests.fakeexec import FakeTools

TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl"


def test_runs_argv_with_stdin_and_env(fake_tools: FakeTools, runner: CommandRunner) -> None:
    fake_tools.install("kubectl").on(r"^apply -f -$", stdout="configured\n")
    result = runner.run(["kubectl", "apply", "-f", "-"], stdin="kind: Namespace\n", env={"KUBECONFIG": "/k"})
    assert result.ok and result.stdout == "configured\n"
    [call] = fake_tools.calls("kubectl")
    assert call.args == ("apply", "-f", "-")
    assert call.stdin == "kind: Namespace\n"
    assert call.env["KUBECONFIG"] == "/k"


def test_argument_with_spaces_is_one_argument(fake_tools: FakeTools, runner: CommandRunner) -> None:
    fake_tools.install("tool")
    runner.run(["tool", "a b; rm -rf /", "$(x)"])
    assert fake_tools.calls("tool")[0].args == ("a b; rm -rf /", "$(x)")


def test_failure_raises_with_exit_code_and_stderr_tail(fake_tools: FakeTools, runner: CommandRunner) -> None:
    fake_tools.install("kind").on("create", exit=3, stderr="\n".join(f"line {i}" for i in range(40)))
    with pytest.raises(CommandError) as raised:
        runner.run(["kind", "create", "cluster"])
    error = raised.value
    assert error.returncode == 3
    assert "exited with code 3: kind create cluster" in str(error)
    assert "line 39" in str(error) and "line 19" not in str(error)  # only the last 20 lines


def test_check_false_returns_failure(fake_tools: FakeTools, runner: CommandRunner) -> None:
    fake_tools.install("kind").on("get", exit=1, stdout="partial")
    result = runner.run(["kind", "get", "clusters"], check=False)
    assert result.returncode == 1 and result.stdout == "partial" and not result.ok


def test_timeout_kills_the_process_group_and_reports_partial_output(
    tmp_path: Path, runner: CommandRunner
) -> None:
    script = tmp_path / "slow.sh"
    marker = tmp_path / "child-survived"
    # The child sleeps in a grandchild process: the whole group must die, not just the shell.
    script.write_text(f"#!/bin/sh\necho started\n(sleep 3; touch {marker}) &\nsleep 30\n")
    script.chmod(0o755)
    started = time.monotonic()
    with pytest.raises(CommandTimeout) as raised:
        runner.run([str(script)], timeout_s=1)
    assert time.monotonic() - started < 10
    assert "timed out after 1s" in str(raised.value)
    assert "started" in raised.value.stdout
    time.sleep(3.5)
    assert not marker.exists(), "a grandchild outlived the timeout"


def test_missing_executable_is_a_clear_error(runner: CommandRunner) -> None:
    with pytest.raises(CommandNotFound, match="could not start"):
        runner.run(["/nonexistent/kind", "version"])


def test_listeners_and_transcript_get_redacted_records(
    fake_tools: FakeTools, redactor: Redactor, tmp_path: Path
) -> None:
    fake_tools.install("istioctl").on(
        "create-remote-secret", stdout=f"    token: {TOKEN}\n", stderr=f"using {TOKEN}"
    )
    records: list[CommandRecord] = []
    runner = CommandRunner(redactor=redactor, transcript=tmp_path / "t.log")
    runner.add_listener(records.append)
    runner.run(["istioctl", "create-remote-secret", f"--token={TOKEN}"], check=False)
    [record] = records
    assert TOKEN not in " ".join(record.argv) + record.stdout + record.stderr + record.title
    assert record.returncode == 0 and record.duration_s >= 0
    assert TOKEN not in (tmp_path / "t.log").read_text()


def test_secret_in_argv_env_and_output_never_reaches_logs_errors_or_attachments(
    fake_tools: FakeTools, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s3cr3t-value-registered-at-runtime"
    redactor = Redactor()
    redactor.register(secret)
    attachments: list[str] = []
    monkeypatch.setattr("allure.attach", lambda body, **_: attachments.append(body))
    fake_tools.install("tool").on(
        ".", stdout=f"echo {secret}", stderr=f"Authorization: Bearer {TOKEN}\n{secret}", exit=1
    )
    runner = CommandRunner(redactor=redactor, transcript=tmp_path / "t.log")
    caplog.set_level("DEBUG")
    with pytest.raises(CommandError) as raised:
        runner.run(["tool", f"--password={secret}", secret], env={"SECRET_ENV": secret})
    # The child really received the secret: redaction is for what we show, not what we run.
    assert fake_tools.calls("tool")[0].env["SECRET_ENV"] == secret
    shown = "\n".join(
        [
            str(raised.value),
            raised.value.stdout,
            raised.value.stderr,
            caplog.text,
            (tmp_path / "t.log").read_text(),
            *attachments,
        ]
    )
    assert secret not in shown and TOKEN not in shown
    assert "<redacted>" in shown


def test_runner_uses_python_without_shell(runner: CommandRunner) -> None:
    result = runner.run([sys.executable, "-c", "import sys; print(sys.argv[1:])", "*", "$HOME"])
    assert result.stdout.strip() == "['*', '$HOME']"


def test_running_commands_of_every_thread_are_ended_with_their_children(
    runner: CommandRunner, tmp_path: Path
) -> None:
    pid_file = tmp_path / "grandchild.pid"
    # A command whose own child (the grandchild) would outlive it if only the command were killed.
    script = f"sleep 60 & echo $! > {pid_file}; wait"
    errors: list[BaseException] = []

    def run() -> None:
        try:
            runner.run(["sh", "-c", script], timeout_s=120, title="kind create cluster (stand-in)")
        except CommandError as error:
            errors.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 10
    while not (pid_file.exists() and pid_file.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(running_commands().values()) == [f"sh -c {script}"]
    ended = end_running_commands(grace_s=5)
    worker.join(timeout=10)
    assert ended == [f"sh -c {script}"]
    assert not worker.is_alive() and running_commands() == {}
    [error] = errors
    assert isinstance(error, CommandError) and error.returncode == -15  # SIGTERM, as reported
    grandchild = int(pid_file.read_text())
    assert (
        not Path(f"/proc/{grandchild}").exists()
        or "Z" in Path(f"/proc/{grandchild}/stat").read_text().split()[2]
    )
