"""Issue 11 items 4 and 5: the remote secret's API read has a request timeout, downloads have
a total deadline and show in the transcript, a failing listener is logged once; the runs
directory is made private only when the suite creates it."""

from __future__ import annotations

import logging
import stat
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from clusters.providers import provider_spec
from programs import downloads as downloads_module
from programs.private_files import make_private_dir
from programs.runner import CommandRunner
from run.timeouts import CHECK_READ
from suites.evaluation import readers


def test_remote_secret_read_has_a_request_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubernetes import client

    seen: dict[str, Any] = {}

    class FakeCoreV1Api:
        def __init__(self, api_client: object) -> None:
            seen["client"] = api_client

        def read_namespaced_secret(self, name: str, namespace: str, **kwargs: Any) -> Any:
            seen.update(name=name, namespace=namespace, **kwargs)
            meta = client.V1ObjectMeta(name=name, namespace=namespace, labels={}, annotations={})
            return client.V1Secret(metadata=meta, data={"remote": "c2VjcmV0"})

    monkeypatch.setattr(client, "CoreV1Api", FakeCoreV1Api)
    handle = SimpleNamespace(api=lambda: "api-client")
    exp = SimpleNamespace(remote_secrets={"remote": ("istio-system", "istio-remote-secret-remote")})
    observer = readers.Observer(topology={"external": handle}, exp=exp)  # type: ignore[arg-type]
    summary = observer.remote_secret_metadata("remote")
    assert summary is not None
    assert seen["_request_timeout"] == CHECK_READ.seconds()
    assert (seen["name"], seen["namespace"]) == ("istio-remote-secret-remote", "istio-system")


def test_a_new_runs_directory_is_private(tmp_path: Path) -> None:
    runs = tmp_path / "new" / "runs"
    make_private_dir(runs)
    assert stat.S_IMODE(runs.stat().st_mode) == 0o700
    assert stat.S_IMODE(runs.parent.stat().st_mode) == 0o700  # created by the suite too


def test_an_existing_runs_directory_keeps_its_mode(tmp_path: Path) -> None:
    shared = tmp_path / "tmp-like"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: world-writable with the sticky bit
    make_private_dir(shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    make_private_dir(shared / "1121000000")
    assert stat.S_IMODE((shared / "1121000000").stat().st_mode) == 0o700


class _TricklingResponse:
    """An HTTP response whose bytes never stop coming, slowly."""

    def __enter__(self) -> _TricklingResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def read(self, size: int) -> bytes:
        time.sleep(0.05)
        return b"x" * 16


def test_a_download_has_a_total_deadline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: _TricklingResponse())
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="passed its deadline of 0 s"):
        downloads_module.download_file("https://example.invalid/kind", tmp_path / "kind", deadline_s=0.3)
    assert time.monotonic() - started < 5


def test_downloads_appear_in_the_command_transcript(
    monkeypatch: pytest.MonkeyPatch, runner: CommandRunner, tmp_path: Path
) -> None:
    def fails(url: str, destination: Path) -> None:
        raise TimeoutError(f"the download of {url} passed its deadline of 900 s")

    monkeypatch.setattr(downloads_module, "download_file", fails)
    with pytest.raises(TimeoutError):
        downloads_module.recorded_download(runner, "https://example.invalid/helm.tgz", tmp_path / "helm.tgz")
    monkeypatch.setattr(
        downloads_module, "download_file", lambda url, destination: destination.write_text("ok")
    )
    downloads_module.recorded_download(runner, "https://example.invalid/kubectl", tmp_path / "kubectl")
    transcript = (tmp_path / "commands.log").read_text().splitlines()
    assert "timeout" in transcript[0] and "$ download https://example.invalid/helm.tgz" in transcript[0]
    assert "passed its deadline of 900 s" in transcript[1]
    assert "exit=0" in transcript[2] and "$ download https://example.invalid/kubectl" in transcript[2]


def test_a_failing_listener_is_logged_once_loudly(
    runner: CommandRunner, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def broken(record: object) -> None:
        calls.append("called")
        raise RuntimeError("the timeline is broken")

    runner.add_listener(broken)
    for _ in range(3):
        runner.run(["true"])
    assert calls == ["called"] * 3  # still called: the run goes on
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "listener" in r.getMessage()]
    assert len(errors) == 1
    assert "the timeline is broken" in caplog.text  # with its traceback


def test_the_scenario_cluster_set_lock_wait_is_bounded_and_names_its_holder(tmp_path: Path) -> None:
    from clusters.cluster import Topology
    from install.session_setup import cluster_set_lock

    topology = Topology(provider_spec("kind").capabilities, clusters={}, prefix="eicp")
    held = cluster_set_lock(topology, tmp_path, "ip-passthrough 1.30 (gw0)")
    started = time.monotonic()
    try:
        with pytest.raises(RuntimeError) as caught:
            cluster_set_lock(topology, tmp_path, "sail 1.31 (gw1)", timeout_s=0.5)
    finally:
        held.release()
    assert time.monotonic() - started < 30
    text = str(caught.value)
    assert text.startswith("sail 1.31 (gw1): the cluster set eicp was not free within 0 s")
    assert "it is held by pid" in text and "(ip-passthrough 1.30 (gw0)) since" in text
