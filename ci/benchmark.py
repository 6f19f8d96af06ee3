"""Where a run's time went, from its report directory: per phase, and the suite's own overhead.

    python ci/benchmark.py REPORT_DIR [--target 1.15]

Reads ``timeline.json`` (written by every run that reached the checks): the phases (cluster
creation, each install step, each wait, each check, cleanup) and the span of every command the
suite waited for. Prints each phase's duration, and the overhead: wall time minus the time
covered by at least one command (the union of the command spans, so parallel commands count
once). Kubernetes API calls made in-process (a few reads) and background processes (stand-ins,
daemons) are not commands here, so the overhead is an upper bound. The ratio is wall time over
tool time; the target is 1.15 (at most 15 % of the wall time in the suite itself: rendering,
polling pauses, report writing, Python start-up).

A benchmark to read, not a timed test: it exits 1 above the target only with ``--strict``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

DEFAULT_TARGET = 1.15


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


def summarize(document: dict[str, Any]) -> dict[str, Any]:
    phases = document.get("phases", [])
    if not phases:
        raise ValueError("the timeline has no phases (did the run reach its clusters?)")
    start = min(p["start"] for p in phases)
    end = max(p["start"] + p["duration"] for p in phases)
    spans = [(float(s), float(d)) for s, d in document.get("commandSpans", [])]
    tools = union_seconds(spans, (start, end))
    by_kind: dict[str, float] = defaultdict(float)
    for phase in phases:
        by_kind[phase["kind"]] += phase["duration"]
    wall = end - start
    return {
        "wall_s": wall,
        "tool_s": tools,
        "overhead_s": wall - tools,
        "ratio": wall / tools if tools > 0 else float("inf"),
        "commands": len(spans),
        "by_kind": dict(sorted(by_kind.items(), key=lambda item: -item[1])),
        "phases": phases,
    }


def render(summary: dict[str, Any], target: float) -> str:
    lines = [f"{'phase':<11} {'seconds':>8}  name (role, scenario)"]
    for phase in sorted(summary["phases"], key=lambda p: p["start"]):
        where = ", ".join(x for x in (phase.get("role"), phase.get("scenario")) if x)
        lines.append(
            f"{phase['kind']:<11} {phase['duration']:8.1f}  {phase['name']}"
            + (f" ({where})" if where else "")
            + ("" if phase.get("outcome") in (None, "passed") else f" [{phase['outcome']}]")
        )
    lines.append("")
    lines.append(
        "per kind (phases may overlap): " + ", ".join(f"{k} {v:.1f}s" for k, v in summary["by_kind"].items())
    )
    verdict = "within" if summary["ratio"] <= target else "ABOVE"
    lines.append(
        f"wall {summary['wall_s']:.1f}s, in tools {summary['tool_s']:.1f}s ({summary['commands']} commands), "
        f"suite overhead {summary['overhead_s']:.1f}s: ratio {summary['ratio']:.3f} ({verdict} the target {target})"
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
    except (ValueError, KeyError, TypeError) as error:
        print(f"{path}: {error}", file=sys.stderr)
        return 2
    print(render(summary, args.target))
    return 1 if args.strict and summary["ratio"] > args.target else 0


if __name__ == "__main__":
    sys.exit(main())
