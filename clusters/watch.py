"""Change feeds: the API server's watch on the objects a wait is about, so the wait reads them
again the moment one changes instead of after a polling pause (programs/waits.py ``changes``).

    with ChangeFeed.of(cluster, ["namespace/sample", "customresourcedefinition/x"]) as feed:
        wait_until(..., changes=feed)

One watch a named object (``GET <collection>?watch=true&fieldSelector=metadata.name=NAME``,
the kubernetes client's connection and credentials for the cluster), each on a daemon thread
that sets the feed's event on every line the API server sends: the initial ADDED (the state
when the watch began: whatever changed between the wait's first read and the watch is seen),
MODIFIED, DELETED. A stream the server ends (its timeoutSeconds, an expired resourceVersion)
is opened again. Only the kinds kube/watch_paths.py knows are watched; a feed with nothing it
can watch, or whose watches the API server refuses, is not ``live`` and the wait polls as
before. A live feed's span (from the first established watch to the end of the wait) is
recorded through the cluster's runner as API time, ``[role] watch TYPE/NAME``, for the
transcript and ci/benchmark.py.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from clusters.cluster import ClusterHandle
from kube.watch_paths import WatchTarget, watch_target
from run.timeouts import WATCH_CLOSE, WATCH_CONNECT, WATCH_READ_SLACK

log = logging.getLogger("eicp.watch")

# How long the API server keeps one watch open before the feed opens the next (its
# timeoutSeconds); how long a read may block beyond that is run/timeouts.py WATCH_READ_SLACK.
STREAM_SECONDS = 60
REOPEN_PAUSE_S = 0.5


class ChangeFeed:
    """Wakes a wait when any watched object changes. Use as a context manager."""

    def __init__(self, cluster: ClusterHandle, targets: Iterable[WatchTarget], title: str) -> None:
        self.cluster = cluster
        self.targets = list(targets)
        self.title = title
        self._changed = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._responses: list[Any] = []
        self._threads: list[threading.Thread] = []
        self._live_since: float | None = None  # time.time() when the first watch was established
        self.refused: str | None = None  # why the API server would not watch, when it would not

    @classmethod
    def of(cls, cluster: ClusterHandle, resources: Iterable[str], namespace: str | None = None) -> ChangeFeed:
        """A feed on each of ``resources`` (kubectl's TYPE/NAME) that kube/watch_paths.py knows."""
        names = list(resources)
        targets = [target for target in (watch_target(name, namespace) for name in names) if target]
        return cls(cluster, targets, f"[{cluster.role}] watch {', '.join(names)}")

    @property
    def live(self) -> bool:
        """Whether at least one watch is established (the wait can rely on its events)."""
        return self._live_since is not None and not self._closed.is_set()

    def wait(self, timeout_s: float) -> bool:
        """Block until something changed or ``timeout_s`` passed; True when something changed."""
        changed = self._changed.wait(max(0.0, timeout_s))
        self._changed.clear()
        return changed

    def __enter__(self) -> ChangeFeed:
        for target in self.targets:
            thread = threading.Thread(
                target=self._watch, args=(target,), name=f"eicp-watch-{target.name}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._closed.set()
        with self._lock:
            responses, self._responses = list(self._responses), []
        for response in responses:
            _shut(response)
        for thread in self._threads:
            thread.join(timeout=WATCH_CLOSE.seconds())
        if self._live_since is not None:
            self.cluster.runner.record(
                self.title,
                ("watch", *(f"{t.path}?fieldSelector={t.field_selector}" for t in self.targets)),
                started_at=self._live_since,
                duration_s=time.time() - self._live_since,
                returncode=0 if kind is None else 1,
            )

    # -- the watches ---------------------------------------------------------------------------

    def _watch(self, target: WatchTarget) -> None:
        from kubernetes.client.exceptions import ApiException
        from kubernetes.watch.watch import iter_resp_lines

        try:
            api = self.cluster.api()
        except Exception as error:  # a kubeconfig the client cannot read: kubectl polls alone
            self.refused = f"no API client for {self.cluster.role}: {error}"
            log.info("%s: no watch (%s); the wait polls", self.title, self.refused)
            return
        while not self._closed.is_set():
            try:
                response = self._open(api, target)
            except ApiException as error:
                if error.status in (401, 403, 404, 405):
                    self.refused = f"{target.path}: {error.status} {error.reason}"
                    log.info("%s: no watch (%s); the wait polls", self.title, self.refused)
                    return
                self._pause()
                continue
            except Exception as error:  # connection refused, TLS, timeouts: try again shortly
                log.debug("%s: watch failed to open: %s", self.title, error)
                self._pause()
                continue
            with self._lock:
                if self._closed.is_set():
                    _shut(response)
                    return
                self._responses.append(response)
                if self._live_since is None:
                    self._live_since = time.time()
            try:
                for _line in iter_resp_lines(response):  # type: ignore[no-untyped-call]
                    self._changed.set()
                    if self._closed.is_set():
                        break
            except Exception as error:  # the stream broke (or was shut): open the next one
                log.debug("%s: watch stream ended: %s", self.title, error)
            finally:
                with self._lock:
                    if response in self._responses:
                        self._responses.remove(response)
                _shut(response)
            self._changed.set()  # a stream that ended may have missed a change: read again

    def _open(self, api: Any, target: WatchTarget) -> Any:
        from kubernetes.client.exceptions import ApiException

        serialized = api.param_serialize(
            "GET",
            target.path,
            query_params=[
                ("watch", "true"),
                ("fieldSelector", target.field_selector),
                ("timeoutSeconds", STREAM_SECONDS),
            ],
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        method, url, headers, body, post_params = serialized
        result = api.call_api(
            method,
            url,
            headers,
            body,
            post_params,
            _request_timeout=(WATCH_CONNECT.seconds(), STREAM_SECONDS + WATCH_READ_SLACK.seconds()),
        )
        if not 200 <= result.status < 300:
            raise ApiException(status=result.status, reason=result.reason)
        return result.response

    def _pause(self) -> None:
        self._closed.wait(REOPEN_PAUSE_S)


def _shut(response: Any) -> None:
    """End a streaming response, unblocking a thread reading it (urllib3's ``shutdown``)."""
    for method in ("shutdown", "release_conn"):
        try:
            getattr(response, method)()
        except Exception:  # already closed, or an older urllib3 without shutdown()
            log.debug("closing a watch response: %s failed", method, exc_info=True)
