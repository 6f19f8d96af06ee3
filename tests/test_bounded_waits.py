"""Issue 11 items 4 and 5: the remote secret's API read has a request timeout; the runs
directory is made private only when the suite creates it."""

from __future__ import annotations

import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from fixtures.core import make_private_dir
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
    assert seen["_request_timeout"] == readers.READ_TIMEOUT_S
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
