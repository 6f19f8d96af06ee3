"""The istiod host's life cycle against its Deployment (pure: the API and the process faked).

Started once the Deployment has a Running pod, unchanged while nothing changes, restarted when
the pod template changes (``kubectl rollout restart``, an upgrade), kept through a rollout until
the new pod runs, stopped when no pod runs or the Deployment is gone, restarted after a crash.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from clusters.kwok import istiod_host
from clusters.kwok.istiod_host import IstiodHost


class Process:
    def __init__(self) -> None:
        self.alive = True

    def running(self) -> bool:
        return self.alive

    def returncode(self) -> int | None:
        return None if self.alive else 2

    def stop(self, grace_s: float = 0.0) -> int | None:
        self.alive = False
        return 0


class Host:
    netns, address = "eicp-1-lb0", "10.250.9.2"


class World:
    """What the API server shows: the Deployment's template and its pods."""

    def __init__(self) -> None:
        self.deployment: dict[str, Any] | None = {"spec": {"template": {"spec": {"x": 1}}}}
        self.pod: dict[str, Any] | None = {"metadata": {"name": "istiod-a"}}
        self.any_running = True
        self.started: list[str] = []


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[World, IstiodHost]:
    state = World()
    host = IstiodHost(None, "external-istiod", "istiod", Host(), lambda image: tmp_path, tmp_path)  # type: ignore[arg-type]

    def current_pod(self: IstiodHost, deployment: Any) -> Any:
        self._any_pod_running = state.any_running
        return state.pod

    def start(
        self: IstiodHost, template: Any, pod: Any, key: tuple[str, str], stopping_at: float | None = None
    ) -> None:
        self._process = Process()  # type: ignore[assignment]
        self._key = key
        self._started_at = time.monotonic()
        state.started.append(key[1])

    monkeypatch.setattr(IstiodHost, "deployment", lambda self: state.deployment)
    monkeypatch.setattr(IstiodHost, "current_pod", current_pod)
    monkeypatch.setattr(IstiodHost, "_start", start)
    monkeypatch.setattr(IstiodHost, "stop", lambda self, keep_exec=False: setattr(self, "_process", None))
    monkeypatch.setattr(istiod_host, "RESTART_BACKOFF_S", 0.0)
    return state, host


def test_started_then_unchanged(world: tuple[World, IstiodHost]) -> None:
    state, host = world
    assert host.sync().startswith("started for pod istiod-a")
    assert host.sync() == "unchanged"
    assert state.started == ["istiod-a"]


def test_a_rolled_deployment_restarts_the_process(world: tuple[World, IstiodHost]) -> None:
    state, host = world
    host.sync()
    state.deployment = {"spec": {"template": {"metadata": {"annotations": {"restartedAt": "now"}}}}}
    state.pod = None  # the new ReplicaSet's pod is not Running yet; the old one still is
    assert host.sync().startswith("waiting") and host.running()
    state.pod = {"metadata": {"name": "istiod-b"}}
    assert host.sync().startswith("restarted for pod istiod-b")
    assert state.started == ["istiod-a", "istiod-b"]


def test_no_running_pod_or_no_deployment_stops_it(world: tuple[World, IstiodHost]) -> None:
    state, host = world
    host.sync()
    state.pod, state.any_running = None, False  # scaled to zero
    assert host.sync() == "stopped: the Deployment has no Running pod"
    assert not host.running()
    state.pod, state.any_running = {"metadata": {"name": "istiod-c"}}, True
    assert host.sync().startswith("started for pod istiod-c")
    state.deployment = None
    assert host.sync() == "stopped: the Deployment is gone"


def test_a_crashed_process_is_restarted_and_counted(world: tuple[World, IstiodHost]) -> None:
    _, host = world
    host.sync()
    assert host._process is not None
    host._process.stop()
    assert host.log_tail() == "(no log)"
    assert host.sync().startswith("restarted for pod istiod-a")
    assert host.restarts == 1 and "exited with 2" in host.last_error
