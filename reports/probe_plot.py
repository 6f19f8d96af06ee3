"""The pre-upgrade plot of the HTML summary: each traffic probe's success ratio over time, with
the upgrade window shaded and the required ratio drawn as a dashed line. Inline SVG only.

The points come from the conformance report's ``upgradeProbes`` (reports/probe_figures.py buckets
the probe's requests); the window is the probe's ``upgradeWindow`` or, when the upgrade driver
did not give one, the span of the scenario's ``upgrade`` phases on the timeline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from programs.visible import visible_html as escape
from run.timeline import PhaseRecord

WIDTH, HEIGHT = 1180, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 60, 20, 16, 34
_COLOURS = ("#1565c0", "#6a1b9a", "#00838f", "#ef6c00")
WINDOW_FILL = "#fff3c4"
FAILED_POINT = "#c62828"


def upgrade_window(probe: Mapping[str, Any], phases: Sequence[PhaseRecord]) -> tuple[float, float] | None:
    window = probe.get("upgradeWindow")
    if window:
        return float(window["start"]), float(window["end"])
    mine = [
        p for p in phases if p.kind == "upgrade" and p.scenario and p.scenario.startswith(probe["scenario"])
    ]
    if not mine:
        return None
    return min(p.start for p in mine), max(p.end for p in mine)


def _fmt(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.1f}m"


def render(probes: Sequence[Mapping[str, Any]], phases: Sequence[PhaseRecord]) -> str:
    if not probes:
        return ""
    windows = [upgrade_window(probe, phases) for probe in probes]
    moments = [point["at"] for probe in probes for point in probe["series"]]
    moments += [edge for window in windows if window for edge in window]
    if not moments:
        return "<p>The traffic probe made no requests.</p>"
    origin, end = min(moments), max(moments)
    span = max(end - origin, 1.0)
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM

    def x_of(at: float) -> float:
        return float(_LEFT + plot_w * (at - origin) / span)

    def y_of(ratio: float) -> float:
        return _TOP + plot_h * (1.0 - ratio)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img" '
        'aria-label="traffic probe success ratio during the upgrade">'
    ]
    for window in {w for w in windows if w}:
        parts.append(
            f'<rect class="upgrade-window" x="{x_of(window[0]):.1f}" y="{_TOP}" '
            f'width="{max(x_of(window[1]) - x_of(window[0]), 1.0):.1f}" height="{plot_h}" fill="{WINDOW_FILL}">'
            f"<title>upgrade: {_fmt(window[0] - origin)} to {_fmt(window[1] - origin)}</title></rect>"
        )
    for ratio in (0.0, 0.5, 1.0):
        y = y_of(ratio)
        parts.append(f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{WIDTH - _RIGHT}" y2="{y:.1f}" stroke="#e0e0e0"/>')
        parts.append(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{ratio:.0%}</text>')
    for index in range(6):
        at = origin + span * index / 5
        parts.append(
            f'<text x="{x_of(at):.1f}" y="{HEIGHT - 14}" text-anchor="middle">{escape(_fmt(at - origin))}</text>'
        )
    legend = []
    for index, probe in enumerate(probes):
        colour = _COLOURS[index % len(_COLOURS)]
        if probe.get("minRatio") is not None:
            y = y_of(float(probe["minRatio"]))
            parts.append(
                f'<line class="min-ratio" x1="{_LEFT}" y1="{y:.1f}" x2="{WIDTH - _RIGHT}" y2="{y:.1f}" '
                f'stroke="{colour}" stroke-dasharray="6 4"><title>required {probe["minRatio"]:.0%}</title></line>'
            )
        points = [
            (x_of(p["at"]), y_of(p["successes"] / p["requests"]), p) for p in probe["series"] if p["requests"]
        ]
        parts.append(
            f'<polyline class="probe-ratio" fill="none" stroke="{colour}" stroke-width="2" points="'
            + " ".join(f"{x:.1f},{y:.1f}" for x, y, _p in points)
            + '"/>'
        )
        for x, y, point in points:
            if point["successes"] < point["requests"]:
                parts.append(
                    f'<circle class="probe-failures" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{FAILED_POINT}">'
                    f"<title>{point['requests'] - point['successes']} of {point['requests']} requests failed "
                    f"at {_fmt(point['at'] - origin)}</title></circle>"
                )
        gap = ""
        if probe.get("maxGapSeconds") is not None:
            bound = probe.get("maxGapBoundSeconds")
            gap = f"; longest gap {probe['maxGapSeconds']:.1f}s" + (
                f" (at most {bound:g}s)" if bound is not None else ""
            )
        legend.append(
            f'<span><i style="background:{colour}"></i>{escape(probe["scenario"])} {escape(probe["vantage"])}: '
            f"{probe['successes']}/{probe['requests']} ({probe['ratio']:.1%}){escape(gap)}</span>"
        )
    parts.append("</svg>")
    legend.append(f'<span><i style="background:{WINDOW_FILL}"></i>upgrade window</span>')
    return "".join(parts) + f'<p class="legend">{"".join(legend)}</p>'
