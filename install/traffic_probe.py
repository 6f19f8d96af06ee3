"""A background traffic probe: keeps sending requests from a client pod while something changes.

A thread runs bounded batches, one ``kubectl exec`` each, through the suite's command runner::

    kubectl exec -n sample <client pod> -c curl -- sh -c \
      'for i in $(seq N); do echo "$(date +%s) $(curl -s -o /dev/null -w "%{http_code}" --max-time 2 URL)"; sleep 0.2; done'

Each request prints the pod's clock (seconds) and the HTTP status (``000`` when curl got no
response). A batch that cannot run or breaks off (exec error, timeout) counts its missing
requests as failures, so an outage of the probe's path is never silently left out. Every
batch has a deadline; ``stop()`` waits for the running batch at most ``deadline_s``.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from clusters.cluster import ClusterHandle
from programs.runner import CommandError, CommandTimeout

SUCCESS = "200"
EXEC_ERROR = "exec-error"  # a request the batch should have made but could not report
_LINE = re.compile(r"^\s*(\d{9,12})\s+(\d{3})\s*$")
# Bounds of one batch beyond its requests' own time: kubectl exec start-up, API latency.
BATCH_SLACK_S = 20.0


@dataclass(frozen=True)
class ProbeSample:
    """One request: when (seconds since the epoch) and its outcome (HTTP status or ``exec-error``)."""

    at: float
    code: str

    @property
    def ok(self) -> bool:
        return self.code == SUCCESS


@dataclass(frozen=True)
class BatchRecord:
    started: float
    ended: float
    requested: int
    reported: int
    error: str | None = None


@dataclass(frozen=True)
class ProbeResult:
    """What the probe saw between ``start()`` and ``stop()``."""

    vantage: str
    url: str
    samples: tuple[ProbeSample, ...]
    batches: tuple[BatchRecord, ...]
    # False when stop() gave up waiting for a running batch (its requests are not counted).
    stopped_cleanly: bool

    @property
    def total(self) -> int:
        return len(self.samples)

    @property
    def successes(self) -> int:
        return sum(1 for sample in self.samples if sample.ok)

    @property
    def failures(self) -> int:
        return self.total - self.successes

    @property
    def ratio(self) -> float:
        """Successes over all requests; 0.0 when no request was made (no evidence is not success)."""
        return self.successes / self.total if self.total else 0.0

    @property
    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(sample.code for sample in self.samples).items()))

    @property
    def exec_errors(self) -> int:
        return sum(1 for batch in self.batches if batch.error is not None)

    def failure_window(self) -> tuple[float, float] | None:
        failed = [sample.at for sample in self.samples if not sample.ok]
        return (min(failed), max(failed)) if failed else None

    def summary(self) -> str:
        counts = ", ".join(f"{code}={count}" for code, count in self.counts.items()) or "none"
        text = (
            f"{self.vantage} -> {self.url}: {self.successes}/{self.total} succeeded "
            f"(ratio {self.ratio:.3f}; {counts}) in {len(self.batches)} batches"
        )
        if self.exec_errors:
            errors = [batch.error for batch in self.batches if batch.error]
            text += f", {self.exec_errors} batch(es) broke off (last: {errors[-1]})"
        window = self.failure_window()
        if window is not None:
            start, end = (time.strftime("%H:%M:%S", time.gmtime(moment)) for moment in window)
            text += f"; failures between {start}Z and {end}Z"
        if not self.stopped_cleanly:
            text += "; the last batch was still running when the probe stopped (not counted)"
        return text


def batch_script(url: str, count: int, max_time_s: float, interval_s: float) -> str:
    """The shell loop run in the client pod (its ``sh``; curl and date from the client image)."""
    curl = f'curl -s -o /dev/null -w "%{{http_code}}" --max-time {max_time_s:g} {url}'
    return f'for i in $(seq {count}); do echo "$(date +%s) $({curl})"; sleep {interval_s:g}; done'


def parse_batch(stdout: str) -> list[ProbeSample]:
    samples = []
    for line in stdout.splitlines():
        match = _LINE.match(line)
        if match:
            samples.append(ProbeSample(float(match.group(1)), match.group(2)))
    return samples


class TrafficProbe:
    """Requests ``url`` from ``pod`` (container ``container``) in batches until stopped."""

    def __init__(
        self,
        cluster: ClusterHandle,
        namespace: str,
        pod: str,
        container: str,
        url: str,
        *,
        batch_size: int = 10,
        interval_s: float = 0.2,
        max_time_s: float = 2.0,
        batch_deadline_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.cluster = cluster
        self.namespace = namespace
        self.pod = pod
        self.container = container
        self.url = url
        self.batch_size = batch_size
        self.script = batch_script(url, batch_size, max_time_s, interval_s)
        self.batch_deadline_s = (
            batch_deadline_s
            if batch_deadline_s is not None
            else batch_size * (max_time_s + interval_s) + BATCH_SLACK_S
        )
        self.vantage = f"{container} {namespace}/{pod} on {cluster.role}"
        self._clock = clock
        self._stop = threading.Event()
        self._lock = threading.Condition()
        self._samples: list[ProbeSample] = []
        self._batches: list[BatchRecord] = []
        self._thread: threading.Thread | None = None
        self._result: ProbeResult | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> TrafficProbe:
        if self._thread is not None:
            raise RuntimeError(f"the probe from {self.vantage} was already started")
        self._thread = threading.Thread(target=self._loop, name=f"traffic-probe-{self.pod}", daemon=True)
        self._thread.start()
        return self

    @property
    def batches_done(self) -> int:
        with self._lock:
            return len(self._batches)

    def wait_for_batches(self, count: int, deadline_s: float) -> int:
        """Block until ``count`` batches finished or ``deadline_s`` passed; return how many did."""
        end = time.monotonic() + deadline_s
        with self._lock:
            while len(self._batches) < count:
                left = end - time.monotonic()
                if left <= 0 or (self._thread is not None and not self._thread.is_alive()):
                    break
                self._lock.wait(timeout=min(left, 1.0))
            return len(self._batches)

    def wait_ready(self, deadline_s: float) -> bool:
        """A first batch finished (the probe works before anything changes)."""
        return self.wait_for_batches(1, deadline_s) >= 1

    def wait_settled(self, deadline_s: float) -> None:
        """One more batch: the probe also covers what changed last (within the batch's own
        deadline; ``deadline_s`` is for probes without batches)."""
        del deadline_s
        self.wait_for_batches(self.batches_done + 1, self.batch_deadline_s + 5)

    def stop(self, deadline_s: float | None = None) -> ProbeResult:
        """Stop after the running batch (waiting at most ``deadline_s``) and return the counts.

        Idempotent: a second call returns the first result.
        """
        if self._result is not None:
            return self._result
        self._stop.set()
        clean = True
        if self._thread is not None:
            self._thread.join(timeout=self.batch_deadline_s + 5 if deadline_s is None else deadline_s)
            clean = not self._thread.is_alive()
        with self._lock:
            self._result = ProbeResult(
                self.vantage, self.url, tuple(self._samples), tuple(self._batches), clean
            )
        return self._result

    # -- the thread ----------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            record, samples = self._batch()
            with self._lock:
                if self._result is None:  # a batch that outlived stop() is not counted
                    self._samples.extend(samples)
                    self._batches.append(record)
                self._lock.notify_all()

    def _batch(self) -> tuple[BatchRecord, list[ProbeSample]]:
        started = self._clock()
        error: str | None = None
        try:
            result = self.cluster.kubectl(
                "exec",
                "-n",
                self.namespace,
                self.pod,
                "-c",
                self.container,
                "--",
                "sh",
                "-c",
                self.script,
                check=False,
                timeout_s=self.batch_deadline_s,
                title=f"[{self.cluster.role}] traffic probe batch ({self.batch_size} requests) -> {self.url}",
            )
            stdout = result.stdout
            if result.returncode != 0:
                error = _last_line(result.stderr) or f"exit code {result.returncode}"
        except CommandTimeout as failure:
            stdout = failure.stdout
            error = f"the batch timed out after {self.batch_deadline_s:g}s"
        except CommandError as failure:  # kubectl missing or not runnable
            stdout = failure.stdout
            error = _last_line(failure.stderr) or str(failure).splitlines()[0]
        ended = self._clock()
        samples = parse_batch(stdout)[: self.batch_size]
        missing = self.batch_size - len(samples)
        if missing > 0:
            # Requests the batch did not report: failures, stamped when the batch ended.
            samples += [ProbeSample(ended, EXEC_ERROR)] * missing
            error = error or f"only {self.batch_size - missing} of {self.batch_size} requests reported"
        return BatchRecord(started, ended, self.batch_size, self.batch_size - missing, error), samples


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
