"""Reads a synthetic proxy's stream log (programs/xdsclient/streams.go) into what the upgrade's
xDS-level probe judges: when the proxy had a synced stream that carried the endpoints a request
would need, and the longest stretch it had none.

A stream is *synced* once it has received CDS and then EDS for the watched cluster; it *carries*
the endpoints when that cluster's latest assignment on the stream satisfies ``carries`` (every
helloworld version the scenario runs, see clusters/kwok/xds_probe.py). A stream ends at the
next ``retry`` event (it broke, or opening one failed) or ``stream`` event (a new one opened).
Pure: events in, intervals out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Endpoint = Mapping[str, str]  # {"ep": "10.0.0.5:5000", "version": "v1"}
Carries = Callable[[Sequence[Endpoint]], bool]


@dataclass(frozen=True)
class StreamSpan:
    """One ADS stream: opened, when it first carried the endpoints (``None``: never), closed
    (``None``: still open when the log ends)."""

    opened: float
    good_from: float | None
    closed: float | None


def read_events(path: Path) -> list[dict[str, Any]]:
    """The log's events in order (a half-written last line is left out)."""
    events: list[dict[str, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return events
    for line in lines:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and isinstance(event.get("t"), int | float):
            events.append(event)
    return events


def good_intervals(
    events: Iterable[Mapping[str, Any]], cluster: str, carries: Carries
) -> list[tuple[float, float | None]]:
    """Stretches during which the proxy had a synced stream carrying the endpoints (an open end:
    still so at the log's end)."""
    intervals: list[tuple[float, float | None]] = []
    open_stream = cds = False
    since: float | None = None
    for event in events:
        kind, at = event.get("event"), float(event["t"])
        if kind in ("stream", "retry"):
            if since is not None:
                intervals.append((since, at))
            since = None
            open_stream, cds = kind == "stream", False
        elif kind == "cds" and open_stream:
            cds = True
        elif kind == "eds" and open_stream and cds:
            endpoints = (event.get("endpoints") or {}).get(cluster)
            if endpoints is None:
                continue  # this push did not touch the watched cluster
            good = carries(endpoints)
            if good and since is None:
                since = at
            elif not good and since is not None:
                intervals.append((since, at))
                since = None
    if since is not None:
        intervals.append((since, None))
    return intervals


def streams(events: Iterable[Mapping[str, Any]], cluster: str | None, carries: Carries) -> list[StreamSpan]:
    """Every stream the log shows, with when it first carried the endpoints (``cluster`` None:
    when it was first synced, CDS and then any EDS)."""
    spans: list[StreamSpan] = []
    current: tuple[float, float | None] | None = None
    cds = False
    for event in events:
        kind, at = event.get("event"), float(event["t"])
        if kind in ("stream", "retry") and current is not None:
            spans.append(StreamSpan(current[0], current[1], at))
            current = None
        if kind == "stream":
            current, cds = (at, None), False
        elif kind == "cds" and current is not None:
            cds = True
        elif kind == "eds" and current is not None and cds and current[1] is None:
            pushed = event.get("endpoints") or {}
            endpoints = pushed.get(cluster) if cluster is not None else next(iter(pushed.values()), None)
            if endpoints is not None and (cluster is None or carries(endpoints)):
                current = (current[0], at)
    if current is not None:
        spans.append(StreamSpan(current[0], current[1], None))
    return spans


def longest_gap(
    intervals: Sequence[tuple[float, float | None]], start: float, end: float
) -> tuple[float, float, float]:
    """(seconds, from, to) of the longest stretch within [start, end] covered by no interval."""
    covered = sorted((max(a, start), min(b if b is not None else end, end)) for a, b in intervals)
    covered = [(a, b) for a, b in covered if b > a]
    best = (0.0, start, start)
    cursor = start
    for a, b in covered:
        if a > cursor and a - cursor > best[0]:
            best = (a - cursor, cursor, a)
        cursor = max(cursor, b)
    if end > cursor and end - cursor > best[0]:
        best = (end - cursor, cursor, end)
    return best


def carries_versions(
    local_versions: Sequence[str], remote_networks: int, port: int, gateway_port: int
) -> Carries:
    """What a request to helloworld needs: an endpoint of every version the client's cluster runs
    (their pods, on ``port``, told apart by the ``istio.workload`` metadata's version), and one
    east-west gateway endpoint (``gateway_port``) per other network that runs helloworld."""

    def carries(endpoints: Sequence[Endpoint]) -> bool:
        versions = {str(e.get("version")) for e in endpoints if str(e.get("ep", "")).endswith(f":{port}")}
        gateways = {str(e.get("ep")) for e in endpoints if str(e.get("ep", "")).endswith(f":{gateway_port}")}
        return set(local_versions) <= versions and len(gateways) >= remote_networks

    return carries
