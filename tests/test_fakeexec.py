"""The fake-executable recorder the other self-tests stand on."""

from __future__ import annotations

import time

import pytest

from programs.runner import CommandError, CommandRunner
from tests.fakeexec import FakeTools


def test_rules_in_order_with_times_then_fallthrough(fake_tools: FakeTools, runner: CommandRunner) -> None:
    kind = fake_tools.install("kind")
    kind.on("^create", exit=1, stderr="transient", times=1).on("^create", stdout="created")
    with pytest.raises(CommandError):
        runner.run(["kind", "create", "cluster"])
    assert runner.run(["kind", "create", "cluster"]).stdout == "created"
    assert fake_tools.lines("kind") == ["create cluster", "create cluster"]


def test_state_add_remove_and_listing(fake_tools: FakeTools, runner: CommandRunner) -> None:
    kind = fake_tools.install("kind")
    kind.on(r"^create cluster --name (\S+)", add_state=("clusters", r"\1"))
    kind.on(r"^delete cluster --name (\S+)", remove_state=("clusters", r"\1"))
    kind.on(r"^get clusters$", stdout_from_state="clusters")
    for name in ("a", "b"):
        runner.run(["kind", "create", "cluster", "--name", name])
    runner.run(["kind", "delete", "cluster", "--name", "a"])
    assert runner.run(["kind", "get", "clusters"]).stdout == "b\n"


def test_sleep_and_default(fake_tools: FakeTools, runner: CommandRunner) -> None:
    fake_tools.install("slow").on("go", sleep=0.5).default(exit=7)
    started = time.monotonic()
    runner.run(["slow", "go"])
    assert time.monotonic() - started >= 0.5
    assert runner.run(["slow", "other"], check=False).returncode == 7


def test_stdin_pattern_picks_the_rule_by_what_is_sent(fake_tools: FakeTools, runner: CommandRunner) -> None:
    kubectl = fake_tools.install("kubectl")
    kubectl.on(r"^create -f -$", stdin_pattern=r"name: bad", exit=1, stderr="denied")
    kubectl.on(r"^create -f -$", stdout="created")
    assert runner.run(["kubectl", "create", "-f", "-"], stdin="name: good\n").stdout == "created"
    denied = runner.run(["kubectl", "create", "-f", "-"], stdin="name: bad\n", check=False)
    assert (denied.returncode, denied.stderr) == (1, "denied")
