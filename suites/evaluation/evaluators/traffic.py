"""Traffic evaluators: helloworld answers every request, from the expected versions, in balance."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from suites.evaluation.evaluators.balance import ALPHA, balance_test
from suites.evaluation.evaluators.k8s import join
from suites.evaluation.evaluators.verdict import Verdict

# curl prints this after every transfer (``--write-out``), so each response is delimited
# even when a transfer fails and has no body.
STATUS_MARKER = "EICP-HTTP-STATUS:"
_STATUS_LINE = re.compile(rf"^{re.escape(STATUS_MARKER)}(?P<code>\d{{3}})\s*$", re.MULTILINE)
_HELLO = re.compile(r"Hello version: (?P<version>[^,\s]+), instance: (?P<instance>\S+)")
_MAX_SAMPLES = 3


@dataclass(frozen=True)
class Response:
    status: str
    body: str

    @property
    def version(self) -> str | None:
        match = _HELLO.search(self.body)
        return match.group("version") if match else None

    @property
    def instance(self) -> str | None:
        match = _HELLO.search(self.body)
        return match.group("instance") if match else None

    @property
    def ok(self) -> bool:
        return self.status == "200" and self.version is not None


def parse_responses(stdout: str) -> list[Response]:
    """Split curl's output (bodies each followed by a status marker line) into responses."""
    responses = []
    start = 0
    for match in _STATUS_LINE.finditer(stdout):
        responses.append(Response(status=match.group("code"), body=stdout[start : match.start()].strip()))
        start = match.end()
    return responses


@dataclass(frozen=True)
class Batch:
    """One batch of requests from one vantage point."""

    vantage: str
    target: str
    requested: int
    responses: tuple[Response, ...]
    stderr: str = ""

    @property
    def versions(self) -> Counter[str]:
        return Counter(response.version for response in self.responses if response.ok and response.version)

    @property
    def failures(self) -> list[Response]:
        return [response for response in self.responses if not response.ok]

    def summary(self) -> str:
        counts = (
            ", ".join(f"{version}={count}" for version, count in sorted(self.versions.items()))
            or "no answers"
        )
        failed = f", {len(self.failures)} failed" if self.failures else ""
        answered = f"{len(self.responses)}/{self.requested} answered"
        return f"{self.vantage} -> {self.target}: {answered} ({counts}{failed})"


def converged(batch: Batch, expected_versions: tuple[str, ...]) -> bool:
    """A probe batch shows a converged mesh: every request answered and every expected version seen."""
    return (
        len(batch.responses) == batch.requested
        and not batch.failures
        and all(batch.versions[version] > 0 for version in expected_versions)
    )


def evaluate_batch(
    batch: Batch, expected_versions: tuple[str, ...], *, diagnostics: str, alpha: float = ALPHA
) -> Verdict:
    """Every request of the batch answered 200 by a deployed version; two versions split in balance."""
    if not expected_versions or len(expected_versions) > 2:
        raise ValueError(f"traffic checks handle one or two helloworld versions, got {expected_versions}")
    problems: list[str] = []
    facts: list[str] = []
    if len(batch.responses) != batch.requested:
        stderr = f" (stderr: {batch.stderr.strip()[-300:]})" if batch.stderr.strip() else ""
        problems.append(f"only {len(batch.responses)} of {batch.requested} requests completed{stderr}")
    if batch.failures:
        statuses = Counter(response.status for response in batch.failures)
        samples = "; ".join(repr(response.body[:120]) for response in batch.failures[:_MAX_SAMPLES])
        problems.append(
            f"{len(batch.failures)} request(s) failed: "
            + ", ".join(f"HTTP {code} x{count}" for code, count in sorted(statuses.items()))
            + f" (e.g. {samples})"
        )
    versions = batch.versions
    unexpected = sorted(set(versions) - set(expected_versions))
    if unexpected:
        problems.append(f"answered by versions that are not deployed: {join(unexpected)}")
    missing = [version for version in expected_versions if versions[version] == 0]
    if missing:
        problems.append(f"no answer from {join(missing)} (every deployed version must be reached)")
    expected = (
        f"{batch.vantage}: all {batch.requested} requests to {batch.target} "
        f"answered 200 by {join(expected_versions)}"
    )
    if len(expected_versions) == 2:
        result = balance_test({version: versions[version] for version in expected_versions}, alpha=alpha)
        facts.append(f"{batch.vantage}: {result.describe()}")
        expected += f", split passing the balance bound (exact binomial test vs 50/50, alpha={alpha})"
        if not result.balanced:
            problems.append(f"unbalanced split: {result.describe()}")
    else:
        facts.append(batch.summary())
    return Verdict(
        f"traffic[{batch.vantage}]",
        expected,
        batch.summary(),
        diagnostics,
        problems=tuple(problems),
        facts=tuple(facts),
        evidence={
            f"responses {batch.vantage}": [{"status": r.status, "body": r.body} for r in batch.responses],
            f"stderr {batch.vantage}": batch.stderr,
        },
    )
