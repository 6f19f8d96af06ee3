"""Live progress (fixtures/progress.py) in a child pytest on a fake scenario: each install step,
a long wait's heartbeat and the uninstall appear as they happen, in order, before the checks'
results; ``-q`` silences them; GitHub Actions folds the install; xdist workers prefix theirs."""

from __future__ import annotations

import json

import pytest

from fixtures.progress import step_line, wait_line
from install.installer import StepRecord
from scenarios.releases import load_pins
from tests.checks_fakes import istiod_deployment
from tests.fakeexec import REPO_ROOT, FakeTools
from tests.scenario_plugin_support import CHECKS, FAKE_WORLD, PLUGINS, fake_cluster

pytest_plugins = ["pytester"]

V30 = str(load_pins().resolve_release("1.30").version)  # the release under test, from the table
LABEL = f"second-remote-{V30}"
WITH_PROGRESS = FAKE_WORLD.replace(
    PLUGINS,
    'pytest_plugins = ["fixtures.options", "fixtures.core", "fixtures.scenario_plugin", "fixtures.progress"]\n',
)
# One more step for the heartbeat: a wait that sees the Deployment unavailable twice first.
LEAVE_LINE = '        leave = scenario == "second-remote" and os.environ.get("LEAVE")\n'
assert LEAVE_LINE in WITH_PROGRESS
WITH_WAIT = WITH_PROGRESS.replace(
    LEAVE_LINE,
    '        wait = {"resource": "deployment/istiod", "namespace": ns, "for": "condition=Available", "deadline_s": 30}\n'
    '        steps += (Step("wait-istiod", "remote", Action.WAIT, "t", params=wait),)\n' + LEAVE_LINE,
)
ARGS = ("--scenario", "second-remote", "--istio-version", "1.30")


@pytest.fixture
def world(
    pytester: pytest.Pytester, fake_tools: FakeTools, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    fake_cluster(fake_tools)
    monkeypatch.setenv("EVENTS", str(pytester.path / "events.txt"))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    pytester.makeconftest(WITH_PROGRESS)
    pytester.makepyfile(test_checks=CHECKS)
    return pytester


def _index(lines: list[str], needle: str) -> int:
    found = [i for i, line in enumerate(lines) if needle in line]
    assert found, f"no line with {needle!r} in:\n" + "\n".join(lines)
    return found[0]


def test_live_lines_come_in_order_before_the_checks_results(world: pytest.Pytester) -> None:
    result = world.runpytest("-v", *ARGS, "--tools-dir", str(world.path / "cache/tools"))
    result.assert_outcomes(passed=2)
    lines = result.outlines
    order = [
        _index(lines, f"eicp: installing {LABEL} (1 steps)"),
        _index(lines, "[remote] 01/01 ns (create namespace) ... "),
        _index(lines, f"test_namespace_is_there[{LABEL}] PASSED"),
        _index(lines, f"test_second_check[{LABEL}] PASSED"),
        _index(lines, "[remote] U01 undo-ns (delete) ... "),
        _index(lines, f"eicp: {LABEL} uninstalled, clusters restored"),
    ]
    assert order == sorted(order), "\n".join(lines)
    assert lines[order[1]].endswith(" ok")


def test_quiet_prints_no_progress(world: pytest.Pytester) -> None:
    result = world.runpytest("-q", *ARGS, "--tools-dir", str(world.path / "cache/tools"))
    result.assert_outcomes(passed=2)
    assert not [line for line in result.outlines if line.startswith(("eicp:", "[remote]"))]


def test_github_actions_folds_each_install(world: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = world.runpytest("-v", *ARGS, "--tools-dir", str(world.path / "cache/tools"))
    result.assert_outcomes(passed=2)
    lines = result.outlines
    opened = _index(lines, f"::group::install {LABEL}")
    step = _index(lines, "[remote] 01/01 ns (create namespace)")
    closed = _index(lines, "::endgroup::")
    assert opened < step < closed < _index(lines, "PASSED")
    assert lines.count("::group::install " + LABEL) == 1
    assert lines.count("::endgroup::") == 2  # the install's, then the uninstall's


def test_a_long_wait_shows_elapsed_deadline_and_last_state(
    world: pytest.Pytester, fake_tools: FakeTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.makeconftest(WITH_WAIT)
    kubectl = fake_cluster(fake_tools)
    get = r"get deployment/istiod -n ns-second-remote -o json"
    kubectl.on(get, stdout=json.dumps(istiod_deployment(available=False)), expand=False, times=2)
    kubectl.on(get, stdout=json.dumps(istiod_deployment()), expand=False)
    kubectl.save()
    monkeypatch.setattr("install.session_setup.WAIT_HEARTBEAT_S", 0.0)  # every pause, not every 10 s
    result = world.runpytest("-v", *ARGS, "--tools-dir", str(world.path / "cache/tools"))
    result.assert_outcomes(passed=2)
    lines = result.outlines
    heartbeat = _index(lines, "    waiting ")
    assert "s/30s for [remote] deployment/istiod condition=Available: " in lines[heartbeat]
    assert "Available=False (MinimumReplicasUnavailable" in lines[heartbeat]
    assert (
        _index(lines, "[remote] 01/02 ns")
        < heartbeat
        < _index(lines, "[remote] 02/02 wait-istiod (wait) ... ")
    )


def test_xdist_worker_lines_carry_the_worker_and_scenario(
    world: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))  # the subprocess imports the suite's plugins
    result = world.runpytest_subprocess("-n", "1", *ARGS, "--tools-dir", str(world.path / "cache/tools"))
    result.assert_outcomes(passed=2)
    text = result.stdout.str() + result.stderr.str()
    assert f"[gw0 {LABEL}] eicp: installing {LABEL} (1 steps)" in text
    assert f"[gw0 {LABEL}] [remote] 01/01 ns (create namespace) ... " in text


def test_line_formats() -> None:
    record = StepRecord(
        LABEL, "external-istiod", "external", "istioctl-install", "install", 0.0, 41.24, "passed"
    )
    assert step_line(record, 8, 24) == "[external] 08/24 external-istiod (istioctl install) ... 41.2s ok"
    upgrade = StepRecord(
        f"{LABEL}-to-1.31.1", "external-istiod", "external", "istioctl-install", "install", 0, 2, "failed"
    )
    assert step_line(upgrade, 3, 12) == "[external] B03/12 external-istiod (istioctl install) ... 2.0s FAILED"
    assert wait_line("x to be Ready", 21.7, 300, "a\n  b") == "    waiting 22s/300s for x to be Ready: a b"
    assert wait_line("x", 5, None, "y" * 500).endswith("y...")
