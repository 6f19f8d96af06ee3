"""The traffic probe's figures during an upgrade, as the conformance report lists them (pure):

    run_facts.note_upgrade_probe(upgrade_probe_entry("ip-passthrough-1.30.3", result, min_ratio=0.995))

They are noted on the run's one ``RunFacts`` (run/info.py), like everything a run learns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

# Seconds per point of the probe's success-ratio series (the HTML timeline plots it).
SERIES_BUCKET_S = 5.0


class ProbeSampleLike(Protocol):
    @property
    def at(self) -> float: ...

    @property
    def ok(self) -> bool: ...


class ProbeResultLike(Protocol):
    """What ``install.traffic_probe.ProbeResult`` offers (no import: reports stay below install)."""

    @property
    def vantage(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def samples(self) -> Sequence[ProbeSampleLike]: ...


def probe_series(
    samples: Iterable[ProbeSampleLike], bucket_s: float = SERIES_BUCKET_S
) -> list[dict[str, Any]]:
    """Requests and successes per ``bucket_s`` seconds, keyed by the bucket's start (epoch s)."""
    buckets: dict[float, list[int]] = {}
    for sample in samples:
        start = (sample.at // bucket_s) * bucket_s
        counts = buckets.setdefault(start, [0, 0])
        counts[0] += 1
        counts[1] += 1 if sample.ok else 0
    return [
        {"at": start, "requests": total, "successes": ok} for start, (total, ok) in sorted(buckets.items())
    ]


def upgrade_probe_entry(
    scenario: str,
    result: ProbeResultLike,
    *,
    upgrade_window: tuple[float, float] | None = None,
    min_ratio: float | None = None,
    max_gap_s: float | None = None,
    max_gap_bound_s: float | None = None,
) -> dict[str, Any]:
    """One traffic probe's figures during the upgrade of ``scenario`` (its report name), as the
    report lists them; ``max_gap_s`` is its longest stretch without a successful response,
    ``max_gap_bound_s`` the bound."""
    samples = list(result.samples)
    successes = sum(1 for sample in samples if sample.ok)
    entry = {
        "scenario": scenario,
        "vantage": result.vantage,
        "url": result.url,
        "requests": len(samples),
        "successes": successes,
        "ratio": round(successes / len(samples), 4) if samples else 0.0,
        "minRatio": min_ratio,
        "upgradeWindow": (
            {"start": upgrade_window[0], "end": upgrade_window[1]} if upgrade_window is not None else None
        ),
        "series": probe_series(samples),
    }
    if max_gap_s is not None:
        entry["maxGapSeconds"] = round(max_gap_s, 3)
        entry["maxGapBoundSeconds"] = max_gap_bound_s
    return entry
