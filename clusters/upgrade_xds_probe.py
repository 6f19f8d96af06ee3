"""What an upgrade's xDS-level probe found (a provider's stand-in for the traffic probe where
pods send no request: kwok mode, clusters/kwok/xds_probe.py), as the upgrade check
(suites/evaluation/evaluators/upgrade_probe.py) and the reports read it. Shared here, outside any
provider's package, so no stage imports a provider."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STAND_IN = (
    "the upgrade's background traffic probe (an xDS-level probe of each client's synthetic proxy: "
    "its ADS streams and the helloworld endpoints they carry; no request is sent)"
)


@dataclass(frozen=True)
class ProxyEnd:
    """How another synthetic proxy ended the upgrade: synced on which istiod, acknowledged in its syncz."""

    vantage: str
    synced: bool  # its last stream is open and has had CDS and EDS
    ended_on: str | None  # image tag of the istiod that served that stream
    acked: bool  # the serving istiod's syncz lists it with CDS and EDS acknowledged


@dataclass(frozen=True)
class XdsProbeResult:
    """What one client's proxy went through during the upgrade."""

    vantage: str  # "remote sample/curl-5d9..."
    cluster: str  # the helloworld cluster watched
    wanted: str  # what a stream must carry, in words
    window: tuple[float, float]
    streams_opened: int
    longest_gap_s: float
    gap: tuple[float, float]  # where the longest gap lay (epoch seconds)
    switchovers: tuple[tuple[str, float], ...]  # (B's image tag, seconds no istiod served) in the window
    bound_s: float
    bound_basis: str
    ended_good: bool  # the last stream carried the endpoints when the probe stopped
    ended_on: str | None  # image tag of the istiod that served the last stream
    target_tag: str
    syncz: dict[str, Any] | None  # B's syncz entry for the proxy (None: not listed)
    problems_seen: tuple[str, ...] = ()  # what went wrong reading (the evaluator reports them)
    # Every other synthetic proxy running at the end (one probe of the upgrade reports them).
    others: tuple[ProxyEnd, ...] = ()

    def summary(self) -> str:
        switch = ", ".join(f"{seconds:.1f}s to {tag}" for tag, seconds in self.switchovers) or "none"
        return (
            f"{self.vantage}: longest stretch without a synced stream carrying {self.wanted}: "
            f"{self.longest_gap_s:.1f}s (bound {self.bound_s:.1f}s = {self.bound_basis}); "
            f"{self.streams_opened} stream(s) opened; istiod switch-overs: {switch}; "
            f"ended {'synced' if self.ended_good else 'NOT synced'} on istiod {self.ended_on or '?'}"
        )
