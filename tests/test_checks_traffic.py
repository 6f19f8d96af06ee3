"""Traffic evaluator, proved both ways against curl output shaped like the real thing."""

from __future__ import annotations

import random

import pytest

from suites.evaluation.evaluators.balance import BATCH_SIZE
from suites.evaluation.evaluators.traffic import (
    STATUS_MARKER,
    Batch,
    converged,
    evaluate_batch,
    parse_responses,
)
from tests import checks_fakes as fake

D = fake.DIAGNOSTICS
INSTANCES = {"v1": "helloworld-v1-776f57d5f6-s7zfc", "v2": "helloworld-v2-54df5f84b-9hxgw"}


def curl_output(answers: list[str]) -> str:
    """What ``curl -sS --write-out '\\n<marker>%{http_code}\\n' URL?eicp=[1-N]`` prints.

    Each answer is a version (``v1``), an HTTP failure (``503``), or ``000`` for a transfer
    that failed before any response (curl's error goes to stderr).
    """
    out = []
    for answer in answers:
        if answer.startswith("v"):
            out.append(f"Hello version: {answer}, instance: {INSTANCES[answer]}\n\n{STATUS_MARKER}200\n")
        elif answer == "000":
            out.append(f"\n{STATUS_MARKER}000\n")
        else:
            out.append(f"no healthy upstream\n{STATUS_MARKER}{answer}\n")
    return "".join(out)


def batch(answers: list[str], requested: int | None = None, vantage: str = "curl in remote") -> Batch:
    return Batch(
        vantage,
        "http://helloworld.sample:5000/hello",
        len(answers) if requested is None else requested,
        tuple(parse_responses(curl_output(answers))),
    )


def split(v1: int, v2: int, seed: int = 5) -> list[str]:
    answers = ["v1"] * v1 + ["v2"] * v2
    random.Random(seed).shuffle(answers)
    return answers


def test_parse_responses_keeps_failures_in_order() -> None:
    responses = parse_responses(curl_output(["v1", "503", "000", "v2"]))
    assert [(r.status, r.version) for r in responses] == [
        ("200", "v1"),
        ("503", None),
        ("000", None),
        ("200", "v2"),
    ]
    assert responses[0].instance == INSTANCES["v1"]
    assert [r.ok for r in responses] == [True, False, False, True]


def test_single_version_all_answered_passes() -> None:
    verdict = evaluate_batch(batch(["v1"] * 20), ("v1",), diagnostics=D)
    assert verdict.ok, verdict.message
    assert "20/20 answered (v1=20)" in verdict.facts[0]


def test_healthy_even_split_passes_and_reports_counts() -> None:
    rng = random.Random(20260423)
    answers = [rng.choice(["v1", "v2"]) for _ in range(BATCH_SIZE)]
    verdict = evaluate_batch(batch(answers, vantage="curl in second"), ("v1", "v2"), diagnostics=D)
    assert verdict.ok, verdict.message
    v1 = answers.count("v1")
    assert f"v1={v1}, v2={BATCH_SIZE - v1} of {BATCH_SIZE}" in verdict.facts[0]
    assert "p-value" in verdict.facts[0]


def test_only_v1_answering_fails() -> None:
    verdict = evaluate_batch(batch(["v1"] * BATCH_SIZE), ("v1", "v2"), diagnostics=D)
    assert not verdict.ok
    assert "no answer from v2" in verdict.message
    assert "unbalanced split: v1=200, v2=0 of 200" in verdict.message
    assert D in verdict.message


def test_95_5_split_fails() -> None:
    verdict = evaluate_batch(batch(split(190, 10)), ("v1", "v2"), diagnostics=D)
    assert not verdict.ok
    assert "unbalanced split: v1=190, v2=10 of 200" in verdict.message
    assert len(verdict.evidence["responses curl in remote"]) == 200  # every response is attached


@pytest.mark.parametrize(("v1", "ok"), [(77, True), (123, True), (76, False), (124, False)])
def test_balance_bound_edges(v1: int, ok: bool) -> None:
    assert evaluate_batch(batch(split(v1, BATCH_SIZE - v1)), ("v1", "v2"), diagnostics=D).ok is ok


def test_failed_requests_fail_the_batch() -> None:
    verdict = evaluate_batch(batch(["v1"] * 17 + ["503", "503", "000"]), ("v1",), diagnostics=D)
    assert not verdict.ok
    assert "3 request(s) failed: HTTP 000 x1, HTTP 503 x2" in verdict.message
    assert "no healthy upstream" in verdict.message


def test_incomplete_batch_fails() -> None:
    short = Batch(
        "curl in remote",
        "http://x/hello",
        20,
        tuple(parse_responses(curl_output(["v1"] * 5))),
        "error: timeout",
    )
    verdict = evaluate_batch(short, ("v1",), diagnostics=D)
    assert "only 5 of 20 requests completed (stderr: error: timeout)" in verdict.message


def test_unexpected_version_fails() -> None:
    verdict = evaluate_batch(batch(["v1"] * 19 + ["v2"]), ("v1",), diagnostics=D)
    assert "answered by versions that are not deployed: v2" in verdict.message


def test_convergence_needs_every_version_and_no_failure() -> None:
    assert converged(batch(["v1", "v2"] * 10), ("v1", "v2"))
    assert not converged(batch(["v1"] * 20), ("v1", "v2"))
    assert not converged(batch(["v1", "v2"] * 9 + ["503", "v1"]), ("v1", "v2"))
    assert not converged(batch(["v1"] * 10, requested=20), ("v1",))


def test_more_than_two_versions_refused() -> None:
    with pytest.raises(ValueError, match="one or two helloworld versions"):
        evaluate_batch(batch(["v1"]), ("v1", "v2", "v3"), diagnostics=D)
