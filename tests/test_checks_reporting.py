"""Judging a verdict: facts recorded, evidence attached redacted, failure raised with the message."""

from __future__ import annotations

import json
from typing import Any

import pytest

from programs.redaction import Redactor
from suites.evaluation import reporting
from suites.evaluation.evaluators.verdict import Verdict, combine, diagnostics_hint
from tests import checks_fakes as fake


class _Node:
    def __init__(self) -> None:
        self.user_properties: list[tuple[str, object]] = []


@pytest.fixture
def attached(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []

    def attach(body: str, name: str, attachment_type: Any = None) -> None:
        seen.append((name, body))

    monkeypatch.setattr("suites.evaluation.reporting.allure.attach", attach)
    return seen


def _verdict(problems: tuple[str, ...], evidence: dict[str, Any]) -> Verdict:
    return Verdict(
        "traffic[curl in remote]",
        "all answered",
        "v1=190, v2=10",
        diagnostics_hint("/tmp/eicp-report/diagnostics/x"),
        problems=problems,
        facts=("curl in remote: v1=190, v2=10 of 200",),
        evidence=evidence,
    )


def test_passing_verdict_records_facts_only(attached: list[tuple[str, str]]) -> None:
    node = _Node()
    reporting.judge(_verdict((), {"pods": fake.sample_pods()}), Redactor(), node)  # type: ignore[arg-type]
    assert node.user_properties == [("traffic[curl in remote]", "curl in remote: v1=190, v2=10 of 200")]
    assert [name for name, _ in attached] == ["traffic[curl in remote] facts"]


def test_failing_verdict_attaches_redacted_evidence_and_fails(attached: list[tuple[str, str]]) -> None:
    redactor = Redactor(["s3cr3t-token-value"])
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "istio-kubeconfig",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
        },
        "data": {"config": "YWJjZGVmZ2hpams="},
    }
    evidence = {
        "pods": fake.sample_pods(),
        "secrets": fake.as_list(secret),
        "stderr": "token s3cr3t-token-value",
    }
    with pytest.raises(pytest.fail.Exception) as failure:
        reporting.judge(_verdict(("unbalanced split",), evidence), redactor)
    message = str(failure.value)
    assert "unbalanced split" in message
    assert "diagnostics: /tmp/eicp-report/diagnostics/x" in message
    bodies = dict(attached)
    assert json.loads(bodies["pods"])["items"][0]["metadata"]["name"] == "helloworld-v1-776f57d5f6-s7zfc"
    assert "YWJjZGVmZ2hpams=" not in bodies["secrets"]
    assert "last-applied-configuration" not in bodies["secrets"]
    assert "s3cr3t-token-value" not in bodies["stderr"]


def test_combine_fails_if_any_part_fails() -> None:
    good = _verdict((), {"a": 1})
    bad = _verdict(("second: no answer from v2",), {"b": 2})
    combined = combine("traffic/mesh", [good, bad], "diag")
    assert not combined.ok
    assert combined.problems == ("second: no answer from v2",)
    assert combined.evidence == {"a": 1, "b": 2}
    assert combine("traffic/mesh", [good, good], "diag").ok


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    from programs.waits import wait_until

    monkeypatch.setattr(
        "suites.evaluation.polling.wait_until",
        lambda *args, **kwargs: wait_until(*args, **kwargs, sleep=lambda _: None),
    )


@pytest.mark.usefixtures("no_sleep")
def test_observe_until_returns_the_converged_value() -> None:
    from suites.evaluation.polling import observe_until

    values = iter([1, 2, 3, 4])
    value, timeout = observe_until("three", lambda: next(values), lambda v: v >= 3, deadline_s=30)
    assert (value, timeout) == (3, None)


@pytest.mark.usefixtures("no_sleep")
def test_verdict_until_ok_hands_back_the_last_failure_with_the_wait() -> None:
    from suites.evaluation.polling import verdict_until_ok

    calls: list[int] = []

    def evaluate() -> Verdict:
        calls.append(1)
        return _verdict((f"still stale after {len(calls)} reads",), {})

    verdict = verdict_until_ok("proxies to sync", evaluate, deadline_s=0.05)
    assert not verdict.ok
    assert verdict.problems == (f"still stale after {len(calls)} reads",)
    assert "still failing when the wait ended: timed out after" in verdict.message
    assert "waiting for proxies to sync" in verdict.message
