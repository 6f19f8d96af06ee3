"""The background traffic probe against a fake kubectl: counting, failures in the middle, bounded stop."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from clusters.cluster import ClusterHandle
from install.traffic_probe import EXEC_ERROR, TrafficProbe, batch_script, parse_batch
from programs.runner import CommandRunner
from tests.fakeexec import FakeTools

URL = "http://helloworld.sample:5000/hello"
EXEC = r"exec -n sample curl-5b549b49b8-qx7rl -c curl -- sh -c"


def lines(*codes: str, at: int = 1776900000) -> str:
    return "".join(f"{at + index} {code}\n" for index, code in enumerate(codes))


@pytest.fixture
def remote(runner: CommandRunner, tmp_path: Path) -> ClusterHandle:
    return ClusterHandle(
        "remote", "eicp-remote", "kind-eicp-remote", tmp_path / "remote.kubeconfig", "", None, runner
    )


def probe(cluster: ClusterHandle, **kwargs: float) -> TrafficProbe:
    return TrafficProbe(cluster, "sample", "curl-5b549b49b8-qx7rl", "curl", URL, batch_size=4, **kwargs)  # type: ignore[arg-type]


def test_batch_command_is_one_bounded_exec(fake_tools: FakeTools, remote: ClusterHandle) -> None:
    fake_tools.install("kubectl").on(EXEC, stdout=lines("200", "200", "200", "200"))
    running = probe(remote).start()
    assert running.wait_for_batches(1, 20) >= 1
    result = running.stop()
    call = fake_tools.calls("kubectl")[0]
    assert call.args[:4] == ("--kubeconfig", str(remote.kubeconfig), "--context", "kind-eicp-remote")
    assert call.args[4:14] == (
        "exec",
        "-n",
        "sample",
        "curl-5b549b49b8-qx7rl",
        "-c",
        "curl",
        "--",
        "sh",
        "-c",
        call.args[13],
    )
    script = call.args[13]
    assert script == batch_script(URL, 4, 2.0, 0.2)
    assert "$(seq 4)" in script and "--max-time 2 " in script and script.rstrip().endswith("done")
    assert '-w "%{http_code}"' in script and "sleep 0.2" in script
    assert result.ratio == 1.0 and result.total == 4 * len(result.batches) and result.stopped_cleanly
    assert result.counts == {"200": result.total}


def test_failures_in_the_middle_are_counted(fake_tools: FakeTools, remote: ClusterHandle) -> None:
    kubectl = fake_tools.install("kubectl")
    kubectl.on(EXEC, stdout=lines("200", "200", "200", "200"), times=1)
    kubectl.on(EXEC, stdout=lines("200", "503", "000", "200"), times=1)
    # The client's exec breaks off after one request: the three unreported requests are failures.
    kubectl.on(
        EXEC,
        stdout=lines("200"),
        stderr="error: unable to upgrade connection: container not found",
        exit=1,
        times=1,
    )
    kubectl.on(EXEC, stdout="error: something unparseable\n", exit=0, times=1)
    kubectl.on(EXEC, stdout=lines("200", "200", "200", "200"))
    running = probe(remote).start()
    assert running.wait_for_batches(5, 30) >= 5
    result = running.stop()
    total = 4 * len(result.batches)
    assert result.total == total
    assert result.counts["503"] == 1 and result.counts["000"] == 1
    assert result.counts[EXEC_ERROR] == 3 + 4
    assert result.failures == 1 + 1 + 3 + 4
    assert result.ratio == pytest.approx((total - 9) / total)
    assert result.exec_errors == 2
    assert result.batches[2].error == "error: unable to upgrade connection: container not found"
    assert result.batches[3].error == "only 0 of 4 requests reported"
    summary = result.summary()
    assert (
        f"{total - 9}/{total} succeeded" in summary and "503=1" in summary and "failures between" in summary
    )
    assert result.failure_window() is not None


def test_a_batch_past_its_deadline_counts_as_failed(fake_tools: FakeTools, remote: ClusterHandle) -> None:
    kubectl = fake_tools.install("kubectl")
    kubectl.on(EXEC, stdout=lines("200"), sleep=5, times=1)
    kubectl.on(EXEC, stdout=lines("200", "200", "200", "200"))
    running = probe(remote, batch_deadline_s=1.0).start()
    assert running.wait_for_batches(2, 30) >= 2
    result = running.stop()
    first = result.batches[0]
    assert first.reported == 0 and first.error is not None and "timed out" in first.error
    assert result.counts[EXEC_ERROR] == 4


def test_stop_is_bounded_while_a_batch_hangs(fake_tools: FakeTools, remote: ClusterHandle) -> None:
    fake_tools.install("kubectl").on(EXEC, stdout=lines("200"), sleep=3)
    running = probe(remote, batch_deadline_s=2.0).start()
    time.sleep(0.3)
    began = time.monotonic()
    result = running.stop(deadline_s=0.5)
    assert time.monotonic() - began < 1.5
    assert not result.stopped_cleanly and "still running" in result.summary()
    assert result.total == 0 and result.ratio == 0.0, "no requests is no evidence of success"
    assert running.stop() is result  # idempotent
    # The hanging batch is killed at its own deadline and not counted afterwards.
    running.wait_for_batches(1, 10)
    assert running.stop().total == 0


def test_parse_ignores_noise_and_start_twice_is_refused(remote: ClusterHandle) -> None:
    samples = parse_batch("Defaulted container\n1776900000 200\n  1776900001 503 \n200\n")
    assert [(s.at, s.code) for s in samples] == [(1776900000.0, "200"), (1776900001.0, "503")]
    running = probe(remote)
    running._thread = object()  # type: ignore[assignment]
    with pytest.raises(RuntimeError, match="already started"):
        running.start()
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        TrafficProbe(remote, "sample", "p", "curl", URL, batch_size=0)
