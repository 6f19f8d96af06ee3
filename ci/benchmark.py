"""Where a run's time went, from its report directory: the critical path, the suite's overhead
against it, and each phase.

    python ci/benchmark.py REPORT_DIR [--target 1.15] [--strict]

Reads ``timeline.json`` (written by every run that reached its clusters): the phases (cluster
creation, each install step, each wait, each check, diagnostics, cleanup) and the span of every
command the suite waited for and every Kubernetes API call it made in-process (a watch), each
with the lane it ran in (run/lanes.py: a strand of sequential work; a fork runs independent
work, such as the uninstall on two remote clusters, in lanes side by side).

- **Critical path**: the longest chain of dependent tool and API time. Work in one lane is a
  chain (each step waits for the one before it); the branches of a fork are independent, so
  only the longest counts: a lane's critical path is the union of its own spans plus, for each
  fork it made, its longest branch; the run's is its longest root lane (xdist workers are
  roots of their own). This is the floor the API servers, istioctl and istiod set.
- **Overhead**: wall time minus the critical path (rendering, polling pauses, report writing,
  Python itself, and work that waited although nothing it depended on was running). The ratio
  is wall time over the critical path; the target is 1.15.
- **Each phase**: its wall time, the tool and API time inside it (its lane and the lanes it
  forked), and the rest, its overhead; then the same per kind of phase, and how the critical
  path divides among the kinds.

Background processes (stand-ins, daemons) are not spans. A benchmark to read, not a timed
test: it exits 1 above the target only with ``--strict``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

DEFAULT_TARGET = 1.15
ROOT_LANE = "main"

Span = tuple[float, float, str]  # start, duration, lane


def union_seconds(spans: Iterable[tuple[float, float]], window: tuple[float, float]) -> float:
    """Seconds of ``window`` covered by at least one (start, duration) span."""
    low, high = window
    clipped = sorted((max(s, low), min(s + d, high)) for s, d in spans if s + d > low and s < high)
    covered = 0.0
    run: tuple[float, float] | None = None
    for begin, finish in clipped:
        if run is None or begin > run[1]:
            covered += 0.0 if run is None else run[1] - run[0]
            run = (begin, finish)
        else:
            run = (run[0], max(run[1], finish))
    return covered + (0.0 if run is None else run[1] - run[0])


def parse_spans(rows: Iterable[Sequence[Any]]) -> list[Span]:
    """``commandSpans`` rows: ``[start, duration, lane]`` (older timelines: no lane, ``main``)."""
    return [(float(row[0]), float(row[1]), str(row[2]) if len(row) > 2 else ROOT_LANE) for row in rows]


def _parent(lane: str) -> str | None:
    return lane.rsplit("/", 1)[0] if "/" in lane else None


def _fork(lane: str) -> str:
    """The fork a branch lane belongs to: ``main/3.1`` -> ``3``."""
    return lane.rsplit("/", 1)[1].split(".", 1)[0]


def lane_tree(lanes: Iterable[str]) -> dict[str, dict[str, list[str]]]:
    """Each lane (ancestors included) -> its forks -> the branch lanes of each fork."""
    tree: dict[str, dict[str, list[str]]] = {}
    for lane in sorted(set(lanes)):
        node: str | None = lane
        while node is not None:
            tree.setdefault(node, {})
            parent = _parent(node)
            if parent is not None:
                branches = tree.setdefault(parent, {}).setdefault(_fork(node), [])
                if node not in branches:
                    branches.append(node)
            node = parent
    return tree


def critical_path(spans: Sequence[Span], window: tuple[float, float]) -> tuple[float, list[str]]:
    """Seconds of the longest chain of dependent spans, and the lanes it runs through."""
    own: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for start, duration, lane in spans:
        own[lane].append((start, duration))
    tree = lane_tree(own)

    def longest(lane: str) -> tuple[float, list[str]]:
        seconds, path = union_seconds(own.get(lane, []), window), [lane]
        for branches in tree[lane].values():
            best = max((longest(branch) for branch in branches), key=lambda found: found[0])
            seconds += best[0]
            path += best[1]
        return seconds, path

    roots = [lane for lane in tree if _parent(lane) is None]
    if not roots:
        return 0.0, []
    return max((longest(root) for root in roots), key=lambda found: found[0])


def _within(lane: str, ancestor: str) -> bool:
    return lane == ancestor or lane.startswith(ancestor + "/")


def tool_seconds_of(phase: dict[str, Any], spans: Sequence[Span]) -> float:
    """Tool and API time inside a phase: spans of its lane and the lanes it forked, clipped."""
    lane = phase.get("lane") or ROOT_LANE
    window = (phase["start"], phase["start"] + phase["duration"])
    return union_seconds(((s, d) for s, d, span_lane in spans if _within(span_lane, lane)), window)


def critical_path_by_kind(
    phases: Sequence[dict[str, Any]], spans: Sequence[Span], lanes: Sequence[str]
) -> dict[str, float]:
    """How the critical path divides among the kinds of phase: each span of a lane on it goes to
    the innermost phase of that lane around it ("between phases" when there is none)."""
    on_path = set(lanes)
    shares: dict[str, float] = defaultdict(float)
    for start, duration, lane in spans:
        if lane not in on_path:
            continue
        middle = start + duration / 2
        around = [
            p
            for p in phases
            if (p.get("lane") or ROOT_LANE) == lane and p["start"] <= middle <= p["start"] + p["duration"]
        ]
        kind = min(around, key=lambda p: p["duration"])["kind"] if around else "between phases"
        shares[kind] += duration
    return dict(sorted(shares.items(), key=lambda item: -item[1]))


def summarize(document: dict[str, Any]) -> dict[str, Any]:
    phases = document.get("phases", [])
    if not phases:
        raise ValueError("the timeline has no phases (did the run reach its clusters?)")
    start = min(p["start"] for p in phases)
    end = max(p["start"] + p["duration"] for p in phases)
    window = (start, end)
    spans = parse_spans(document.get("commandSpans", []))
    tools = union_seconds(((s, d) for s, d, _ in spans), window)
    path_s, lanes = critical_path(spans, window)
    by_kind: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    rows = []
    for phase in sorted(phases, key=lambda p: p["start"]):
        inside = tool_seconds_of(phase, spans)
        rows.append({**phase, "tool_s": inside, "overhead_s": phase["duration"] - inside})
        by_kind[phase["kind"]][0] += phase["duration"]
        by_kind[phase["kind"]][1] += inside
    wall = end - start
    return {
        "wall_s": wall,
        "tool_s": tools,
        "critical_path_s": path_s,
        "critical_lanes": lanes,
        "overhead_s": wall - path_s,
        "ratio": wall / path_s if path_s > 0 else float("inf"),
        "commands": len(spans),
        "lanes": len({lane for _, _, lane in spans}),
        "by_kind": dict(sorted(by_kind.items(), key=lambda item: -item[1][0])),
        "path_by_kind": critical_path_by_kind(phases, spans, lanes),
        "phases": rows,
    }


def render(summary: dict[str, Any], target: float) -> str:
    lines = [f"{'phase':<11} {'seconds':>8} {'tools':>7} {'overhead':>8}  name (role, scenario)"]
    for phase in summary["phases"]:
        where = ", ".join(x for x in (phase.get("role"), phase.get("scenario")) if x)
        lines.append(
            f"{phase['kind']:<11} {phase['duration']:8.1f} {phase['tool_s']:7.1f} {phase['overhead_s']:8.1f}  "
            + phase["name"]
            + (f" ({where})" if where else "")
            + ("" if phase.get("outcome") in (None, "passed") else f" [{phase['outcome']}]")
        )
    lines.append("")
    lines.append(
        "per kind, wall / tools / overhead (phases may nest or overlap): "
        + ", ".join(
            f"{kind} {wall:.1f}/{tools:.1f}/{wall - tools:.1f}s"
            for kind, (wall, tools) in summary["by_kind"].items()
        )
    )
    lines.append(
        "critical path by kind: "
        + ", ".join(f"{kind} {s:.1f}s" for kind, s in summary["path_by_kind"].items())
    )
    verdict = "within" if summary["ratio"] <= target else "ABOVE"
    lines.append(
        f"wall {summary['wall_s']:.1f}s, in tools {summary['tool_s']:.1f}s ({summary['commands']} commands and "
        f"API calls in {summary['lanes']} lanes), critical path {summary['critical_path_s']:.1f}s, suite overhead "
        f"{summary['overhead_s']:.1f}s: ratio {summary['ratio']:.3f} ({verdict} the target {target})"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python ci/benchmark.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("report_dir", type=Path)
    parser.add_argument("--target", type=float, default=DEFAULT_TARGET)
    parser.add_argument("--strict", action="store_true", help="exit 1 when the ratio is above the target")
    args = parser.parse_args(argv)
    path = args.report_dir / "timeline.json"
    if not path.exists():
        print(f"no {path}: run the suite with --report-dir {args.report_dir} first", file=sys.stderr)
        return 2
    try:
        summary = summarize(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError, IndexError) as error:
        print(f"{path}: {error}", file=sys.stderr)
        return 2
    print(render(summary, args.target))
    return 1 if args.strict and summary["ratio"] > args.target else 0


if __name__ == "__main__":
    sys.exit(main())
