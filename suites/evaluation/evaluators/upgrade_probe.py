"""The verdict on the upgrade's xDS-level probe (kwok mode's stand-in for the traffic probe,
clusters/kwok/xds_probe.py): did the client's proxy keep, or get back within the bound, a synced
stream carrying the helloworld endpoints, and did it end on B, acknowledged in B's syncz?"""

from __future__ import annotations

from clusters.upgrade_xds_probe import STAND_IN, XdsProbeResult
from suites.evaluation.evaluators.verdict import Verdict


def evaluate_xds_probe(result: XdsProbeResult, diagnostics: str) -> Verdict:
    problems = list(result.problems_seen)
    if result.longest_gap_s > result.bound_s:
        problems.append(
            f"{result.vantage}: {result.longest_gap_s:.1f}s without a synced stream carrying {result.wanted} "
            f"(from {result.gap[0]:.1f} to {result.gap[1]:.1f}, epoch seconds), more than the bound "
            f"{result.bound_s:.1f}s ({result.bound_basis})"
        )
    if not result.ended_good:
        problems.append(f"{result.vantage}: did not end with a synced stream carrying {result.wanted}")
    if result.ended_on != result.target_tag:
        problems.append(
            f"{result.vantage}: its last stream was served by the istiod of {result.ended_on or 'no known image'}, "
            f"not B's ({result.target_tag}): it did not reconnect to B"
        )
    problems += _syncz_problems(result)
    for other in result.others:  # every other synthetic proxy running at the end
        if not (other.synced and other.ended_on == result.target_tag and other.acked):
            problems.append(
                f"{other.vantage}: ended {'synced' if other.synced else 'without a synced stream'} on the "
                f"istiod of {other.ended_on or 'no known image'} (B: {result.target_tag}), "
                f"{'acknowledged' if other.acked else 'not acknowledged'} in its syncz"
            )
    switchovers = ", ".join(f"{seconds:.1f}s to {tag}" for tag, seconds in result.switchovers) or "none"
    return Verdict(
        f"upgrade/xds-probe[{result.vantage}]",
        f"{result.vantage}: throughout the upgrade a synced ADS stream carrying {result.wanted}, never "
        f"more than {result.bound_s:.1f}s without one ({result.bound_basis}); it ends on a stream "
        f"from B ({result.target_tag}) that B's syncz lists with CDS and EDS acknowledged. Stand-in: "
        f"{STAND_IN}",
        result.summary(),
        diagnostics,
        problems=tuple(problems),
        facts=(
            f"stand-in for the traffic probe: {STAND_IN}",
            f"longest stretch without a synced stream: {result.longest_gap_s:.1f}s of at most {result.bound_s:.1f}s",
            f"istiod stand-in switch-overs (no istiod serving its address): {switchovers}",
            *(
                [
                    f"every other synthetic proxy ({len(result.others)}) ended synced on B, acknowledged in its syncz"
                ]
                if result.others and not problems
                else []
            ),
        ),
        evidence={f"xds probe {result.vantage}": {"syncz": result.syncz, "gap": list(result.gap)}},
    )


def _syncz_problems(result: XdsProbeResult) -> list[str]:
    entry = result.syncz
    if entry is None:
        return [f"{result.vantage}: the serving istiod's syncz does not list its proxy"]
    unacked = [
        kind
        for kind in ("cluster", "endpoint")
        if not entry.get(f"{kind}_sent") or entry.get(f"{kind}_acked") != entry.get(f"{kind}_sent")
    ]
    if unacked:
        return [
            f"{result.vantage}: B's syncz shows {' and '.join(k.upper()[0] + 'DS' for k in unacked)} not "
            f"acknowledged (sent {entry.get('cluster_sent')!r}/{entry.get('endpoint_sent')!r}, acked "
            f"{entry.get('cluster_acked')!r}/{entry.get('endpoint_acked')!r})"
        ]
    return []
