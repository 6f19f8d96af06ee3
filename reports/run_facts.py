"""Facts for the conformance report that only the code doing the work knows: the stand-ins a
kwok-mode run used instead of real components, and the traffic probe's figures during an upgrade.

    from reports.run_facts import note_stand_in, note_upgrade_probe
    note_stand_in("LoadBalancer address", "address of a network namespace the suite created", role="external")
    note_upgrade_probe("ip-passthrough-1.30.3", probe_result, upgrade_window=(start, end), min_ratio=0.95)

Under pytest-xdist every worker notes its own; the controller merges them (``export``/``merge``),
as ``run.info`` does for versions.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

# Seconds per point of the probe's success-ratio series (the HTML timeline plots it).
SERIES_BUCKET_S = 5.0

_lock = threading.Lock()
_stand_ins: list[dict[str, Any]] = []
_probes: list[dict[str, Any]] = []


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


def note_stand_in(component: str, stand_in: str, *, role: str | None = None) -> None:
    """Record that ``component`` was replaced by ``stand_in`` in this run (kwok mode)."""
    entry = {"component": component, "standIn": stand_in, "role": role}
    with _lock:
        if entry not in _stand_ins:
            _stand_ins.append(entry)


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


def note_upgrade_probe(
    scenario: str,
    result: ProbeResultLike,
    *,
    upgrade_window: tuple[float, float] | None = None,
    min_ratio: float | None = None,
    max_gap_s: float | None = None,
    max_gap_bound_s: float | None = None,
) -> None:
    """Record one traffic probe's figures during the upgrade of ``scenario`` (its report name);
    ``max_gap_s`` is its longest stretch without a successful response, ``max_gap_bound_s`` the bound."""
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
    with _lock:
        _probes.append(entry)


def export() -> dict[str, list[dict[str, Any]]]:
    with _lock:
        return {"standIns": [dict(entry) for entry in _stand_ins], "upgradeProbes": list(_probes)}


def merge(data: Mapping[str, Any]) -> None:
    with _lock:
        for entry in data.get("standIns", []):
            if entry not in _stand_ins:
                _stand_ins.append(dict(entry))
        _probes.extend(dict(entry) for entry in data.get("upgradeProbes", []))


def reset() -> None:
    with _lock:
        _stand_ins.clear()
        _probes.clear()
