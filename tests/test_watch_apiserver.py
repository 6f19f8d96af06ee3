"""Event-driven waits against a real API server (etcd, kube-apiserver and the namespace
controller on loopback, tests/real_apiserver.py): the watch ends a wait when the object changes,
not when the next polling pause is over, with the same probe and messages as polling, and it
is recorded as API time (the critical path of ci/benchmark.py)."""

from __future__ import annotations

import threading
import time

import pytest

from clusters.cluster import ClusterHandle
from clusters.watch import ChangeFeed
from programs.runner import CommandError, CommandRecord
from programs.waits import Backoff, Observation, WaitTimeout, wait_until
from tests.real_apiserver import real_cluster  # noqa: F401  (the fixture ``cluster``)

pytestmark = [
    pytest.mark.realtools,
    pytest.mark.slow,
    # The test server's kubeconfig skips TLS verification (tests/real_apiserver.py).
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

# Polling at this pace would take at least this long to see any change after the first probe.
SLOW_POLL = Backoff(min_s=30.0, max_s=30.0)


def _namespace(cluster: ClusterHandle, name: str) -> Observation[None]:
    try:
        cluster.kubectl("get", f"namespace/{name}", "-o", "name")
    except CommandError as error:
        if "NotFound" in error.stderr:
            return Observation(True, f"namespace/{name} gone", None)
        raise
    return Observation(False, f"namespace/{name} still there", None)


def test_a_watched_wait_ends_when_the_namespace_is_gone(cluster: ClusterHandle) -> None:
    cluster.kubectl("create", "namespace", "watched")
    cluster.kubectl("create", "configmap", "c", "-n", "watched", "--from-literal=a=b")
    records: list[CommandRecord] = []
    cluster.runner.add_listener(records.append)
    cluster.kubectl("delete", "namespace/watched", "--wait=false")
    started = time.monotonic()
    with ChangeFeed.of(cluster, ["namespace/watched"]) as feed:
        wait_until(
            "namespace watched gone",
            lambda: _namespace(cluster, "watched"),
            120,
            backoff=SLOW_POLL,
            changes=feed,
        )
        assert feed.live
    elapsed = time.monotonic() - started
    # The namespace controller's 5 s grace and one pass; the poll would have slept 30 s.
    assert elapsed < 20, f"the wait took {elapsed:.1f}s: it polled instead of watching"
    watches = [record for record in records if record.argv[:1] == ("watch",)]
    assert [record.title for record in watches] == ["[remote] watch namespace/watched"]
    assert watches[0].returncode == 0 and 0 < watches[0].duration_s <= elapsed + 1


def test_a_watched_wait_sees_an_object_made_after_it_began(cluster: ClusterHandle) -> None:
    def exists() -> Observation[None]:
        found = cluster.kubectl("get", "configmap/late", "-n", "default", "--ignore-not-found", "-o", "name")
        return Observation(bool(found.stdout.strip()), found.stdout.strip() or "not there yet", None)

    def create_later() -> None:
        time.sleep(1.5)
        cluster.kubectl("create", "configmap", "late", "-n", "default")

    maker = threading.Thread(target=create_later)
    started = time.monotonic()
    with ChangeFeed.of(cluster, ["configmap/late"], "default") as feed:
        maker.start()
        wait_until("configmap late", exists, 60, backoff=SLOW_POLL, changes=feed)
    maker.join()
    assert time.monotonic() - started < 10
    cluster.kubectl("delete", "configmap/late", "-n", "default")


def test_a_kind_it_cannot_watch_polls_and_a_timeout_reads_as_before(cluster: ClusterHandle) -> None:
    with ChangeFeed.of(cluster, ["widget.example.com/x"]) as feed:
        assert feed.targets == [] and not feed.live
        with pytest.raises(WaitTimeout) as timeout:
            wait_until(
                "a widget",
                lambda: Observation(False, "no widget", None),
                1.0,
                backoff=Backoff(0.2, 0.2),
                changes=feed,
            )
    assert "waiting for a widget; last observed: no widget" in str(timeout.value)
    # A watched wait that times out says the same, from the same probe.
    with ChangeFeed.of(cluster, ["namespace/never-made"]) as feed, pytest.raises(WaitTimeout) as watched:
        wait_until(
            "namespace never-made",
            lambda: Observation(False, "namespace/never-made not there", None),
            1.0,
            backoff=Backoff(0.2, 0.2),
            changes=feed,
        )
    assert "last observed: namespace/never-made not there" in str(watched.value)
