"""The balance bound: exact binomial test, its false-alarm and miss rates at the chosen batch size."""

from __future__ import annotations

import random
from fractions import Fraction
from math import comb

import pytest

from suites.evaluation.evaluators.balance import (
    ALPHA,
    BATCH_SIZE,
    acceptance_region,
    balance_test,
    false_alarm_rate,
    miss_rate,
    smallest_batch,
    two_sided_p_value,
)


def _exact_p_value(k: int, n: int) -> Fraction:
    """Independent reference for p = 1/2 in exact rationals: 2 * P(X <= min(k, n-k)), capped at 1."""
    tail = sum(Fraction(comb(n, i), 2**n) for i in range(min(k, n - k) + 1))
    return min(Fraction(1), Fraction(2 * tail))


@pytest.mark.parametrize(
    ("k", "n"), [(0, 10), (3, 10), (5, 10), (33, 100), (34, 100), (76, 200), (77, 200), (100, 200)]
)
def test_p_value_matches_exact_arithmetic(k: int, n: int) -> None:
    assert two_sided_p_value(k, n) == pytest.approx(float(_exact_p_value(k, n)), rel=1e-9)


def test_acceptance_region_at_chosen_batch() -> None:
    assert BATCH_SIZE == 200
    assert ALPHA == 0.001
    assert acceptance_region(BATCH_SIZE) == (77, 123)
    assert acceptance_region(100) == (34, 66)


def test_false_alarm_rate_is_below_alpha_exactly() -> None:
    low, high = acceptance_region(BATCH_SIZE)
    exact = 1 - sum(Fraction(comb(BATCH_SIZE, k), 2**BATCH_SIZE) for k in range(low, high + 1))
    assert false_alarm_rate(BATCH_SIZE) == pytest.approx(float(exact), rel=1e-9)
    assert float(exact) <= ALPHA
    assert float(exact) == pytest.approx(0.000845, abs=1e-6)


def test_false_alarm_rate_by_simulation() -> None:
    rng = random.Random(20260423)
    batches = 50_000
    alarms = 0
    for _ in range(batches):
        v1 = rng.getrandbits(BATCH_SIZE).bit_count()  # 200 fair coin flips
        alarms += not balance_test({"v1": v1, "v2": BATCH_SIZE - v1}).balanced
    # Expected 0.000845 * 50000 = 42 alarms; 4 standard deviations above is ~68.
    assert alarms / batches <= 2 * ALPHA


def test_miss_rate_for_95_5_is_negligible() -> None:
    assert miss_rate(BATCH_SIZE, 0.95) < 1e-40
    assert miss_rate(BATCH_SIZE, 0.05) < 1e-40
    rng = random.Random(7)
    for _ in range(500):
        v1 = sum(rng.random() < 0.95 for _ in range(BATCH_SIZE))
        assert not balance_test({"v1": v1, "v2": BATCH_SIZE - v1}).balanced


def test_miss_rate_for_70_30() -> None:
    """N = 200 catches a 70/30 split 99.4% of the time; N = 100 would miss it 22% of the time."""
    assert miss_rate(BATCH_SIZE, 0.7) == pytest.approx(0.00624, abs=1e-4)
    assert miss_rate(100, 0.7) == pytest.approx(0.2207, abs=1e-3)
    assert smallest_batch(0.7, max_miss=0.01) == 188
    assert smallest_batch(0.7, max_miss=0.01) <= BATCH_SIZE
    rng = random.Random(11)
    trials = 2000
    missed = 0
    for _ in range(trials):
        v1 = sum(rng.random() < 0.7 for _ in range(BATCH_SIZE))
        missed += balance_test({"v1": v1, "v2": BATCH_SIZE - v1}).balanced
    assert missed / trials < 0.02


def test_balance_result_reports_counts() -> None:
    even = balance_test({"v1": 97, "v2": 103})
    assert even.balanced
    assert "v1=97, v2=103 of 200" in even.describe()
    assert "within the bound" in even.describe()
    skewed = balance_test({"v1": 190, "v2": 10})
    assert not skewed.balanced
    assert "beyond the bound" in skewed.describe()
    assert not balance_test({"v1": 200, "v2": 0}).balanced


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="exactly two versions"):
        balance_test({"v1": 1, "v2": 1, "v3": 1})
    with pytest.raises(ValueError, match="at least one trial"):
        two_sided_p_value(0, 0)
    with pytest.raises(ValueError, match="outside"):
        two_sided_p_value(5, 4)
