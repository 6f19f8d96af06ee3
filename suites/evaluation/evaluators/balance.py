"""The balance bound for the v1/v2 split: an exact two-sided binomial test.

With one ``helloworld`` pod per version and Envoy's default least-request balancer fed one
request at a time, each request goes to v1 or v2 with probability 1/2. A batch of
``BATCH_SIZE`` requests is judged unbalanced when the exact two-sided binomial test against
p = 0.5 rejects at ``ALPHA``. At N = 200, alpha = 0.001 (see tests/test_balance.py, computed
exactly):

- false alarm (a healthy 50/50 mesh fails): 0.000845, below alpha;
- the test accepts only 77..123 v1 responses out of 200;
- miss rate for a 95/5 split: 5.9e-47 (it is always caught);
- miss rate for a 70/30 split: 0.0062 (caught 99.4% of the time; N = 100 would miss it 22%
  of the time, which is why the batch is 200).

The p-value follows the usual definition for discrete two-sided tests: the probability of
every outcome no more likely than the observed one (as R's ``binom.test`` and SciPy do).
"""

from __future__ import annotations

import bisect
import functools
import math
from dataclasses import dataclass

ALPHA = 0.001
BATCH_SIZE = 200
# Outcomes whose likelihoods differ by less than this relative amount count as equally likely
# (floating-point noise in the log-space pmf must not split a symmetric pair).
_RELATIVE_TIE = 1e-7


def binomial_pmf(k: int, n: int, p: float) -> float:
    """P(X = k) for X ~ Binomial(n, p), computed in log space so large n cannot overflow."""
    if not 0 <= k <= n:
        return 0.0
    if p in (0.0, 1.0):
        return 1.0 if k == (n if p == 1.0 else 0) else 0.0
    log_pmf = (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )
    return math.exp(log_pmf)


@functools.lru_cache(maxsize=64)
def _p_values(n: int, p: float) -> tuple[float, ...]:
    """The two-sided p-value of every outcome 0..n (cached: a run tests many batches of one size)."""
    pmfs = [binomial_pmf(k, n, p) for k in range(n + 1)]
    ordered = sorted(pmfs)
    values = []
    for pmf in pmfs:
        # Every outcome at most as likely as this one (ties within floating-point noise included).
        last = bisect.bisect_right(ordered, pmf * (1 + _RELATIVE_TIE))
        values.append(min(1.0, math.fsum(ordered[:last])))
    return tuple(values)


def two_sided_p_value(k: int, n: int, p: float = 0.5) -> float:
    """Exact two-sided binomial test p-value of ``k`` successes in ``n`` trials under ``p``."""
    if n <= 0:
        raise ValueError(f"a binomial test needs at least one trial, got n={n}")
    if not 0 <= k <= n:
        raise ValueError(f"k={k} is outside 0..{n}")
    return _p_values(n, p)[k]


@functools.lru_cache(maxsize=64)
def acceptance_region(n: int, alpha: float = ALPHA, p: float = 0.5) -> tuple[int, int]:
    """The smallest and largest count the test accepts (it accepts every count in between)."""
    accepted = [k for k, value in enumerate(_p_values(n, p)) if value > alpha]
    if not accepted:
        raise ValueError(f"no outcome of {n} trials passes at alpha={alpha}")
    return accepted[0], accepted[-1]


def false_alarm_rate(n: int, alpha: float = ALPHA, p: float = 0.5) -> float:
    """Probability that a batch from a healthy mesh (true share ``p``) fails the test."""
    low, high = acceptance_region(n, alpha, p)
    return math.fsum(binomial_pmf(k, n, p) for k in range(n + 1) if not low <= k <= high)


def miss_rate(n: int, true_p: float, alpha: float = ALPHA, p: float = 0.5) -> float:
    """Probability that a batch from a mesh splitting ``true_p``/``1-true_p`` passes the test."""
    low, high = acceptance_region(n, alpha, p)
    return math.fsum(binomial_pmf(k, n, true_p) for k in range(low, high + 1))


def smallest_batch(true_p: float, max_miss: float, alpha: float = ALPHA, limit: int = 2000) -> int:
    """The smallest N whose miss rate for a ``true_p`` split is at most ``max_miss``."""
    for n in range(1, limit + 1):
        if miss_rate(n, true_p, alpha) <= max_miss:
            return n
    raise ValueError(f"no batch size up to {limit} catches a {true_p:.2f} split with miss <= {max_miss}")


@dataclass(frozen=True)
class BalanceResult:
    """The outcome of the test on one batch, with everything a report needs."""

    counts: dict[str, int]
    n: int
    p_value: float
    alpha: float
    acceptance: tuple[int, int]

    @property
    def balanced(self) -> bool:
        return self.p_value > self.alpha

    def describe(self) -> str:
        split = ", ".join(f"{version}={count}" for version, count in sorted(self.counts.items()))
        low, high = self.acceptance
        return (
            f"{split} of {self.n}; exact two-sided binomial test vs p=0.5: p-value {self.p_value:.3g} "
            f"({'within' if self.balanced else 'beyond'} the bound alpha={self.alpha}; "
            f"accepted range {low}..{high} per version)"
        )


def balance_test(counts: dict[str, int], alpha: float = ALPHA) -> BalanceResult:
    """Test a two-way split ``{"v1": a, "v2": b}`` against an even split."""
    if len(counts) != 2:
        raise ValueError(f"the balance test compares exactly two versions, got {sorted(counts)}")
    first, second = sorted(counts)
    n = counts[first] + counts[second]
    return BalanceResult(
        counts=dict(counts),
        n=n,
        p_value=two_sided_p_value(counts[first], n),
        alpha=alpha,
        acceptance=acceptance_region(n, alpha),
    )
