"""The HTML summary: one self-contained page (inline CSS and SVG, nothing fetched at view time)
with the run's facts, the scenario x check matrix, the failures and a timeline of phases.

Every value placed in the page goes through ``escape``: control bytes made visible
(programs/visible.py), then ``html.escape``: check messages and command titles come from
clusters and tools and may contain anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from programs.visible import visible_html as escape
from reports import probe_plot
from reports.commands import CommandSummary
from reports.conformance import check_label
from reports.outcomes import CheckOutcome, ordered_checks
from run.info import RunInfo
from run.timeline import PHASE_KINDS, PhaseRecord

_KIND_COLOURS = {
    "tool": "#8c6bb1",
    "cluster": "#2b8cbe",
    "install": "#41ab5d",
    "wait": "#fdae6b",
    "setup": "#9ecae1",
    "check": "#6baed6",
    "upgrade": "#807dba",
    "diagnostics": "#bcbddc",
    "cleanup": "#969696",
    "other": "#cccccc",
}
_CELL = {
    "passed": ("pass", "✔"),
    "known-issue": ("known", "K"),
    "failed": ("fail", "✘"),
    "error": ("error", "!"),
    "skipped": ("skip", "–"),
}
CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 8px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f3f3f3} .facts th{width:220px}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600}
.success{background:#2e7d32} .partial{background:#ef8f00} .failure{background:#c62828}
.success-with-known-issues{background:#5e35b1} .known{background:#d1c4e9;color:#311b92}
.matrix td.cell{text-align:center;font-weight:700;width:34px}
.pass{background:#c8e6c9;color:#1b5e20} .fail{background:#ffcdd2;color:#b71c1c}
.error{background:#ffab91;color:#7f0000} .skip{background:#eeeeee;color:#616161} .none{background:#fff}
.matrix th.check{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;font-weight:500}
pre{background:#f7f7f7;border:1px solid #ddd;padding:6px;white-space:pre-wrap;margin:4px 0;font-size:12px}
.legend span{display:inline-block;margin-right:14px;font-size:12px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}
svg text{font-size:11px;font-family:inherit}
"""
_SVG_WIDTH = 1180
_LABEL_WIDTH = 110
_LANE_HEIGHT = 22


def _fmt_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def _facts(info: RunInfo, report: Mapping[str, Any]) -> str:
    rows = [
        (
            "Result",
            f'<span class="badge {escape(report["result"])}">{escape(report["result"])}</span> '
            f"{escape(report['summary'])}",
        ),
        ("Date", escape(info.date)),
        ("Suite version", escape(info.suite_version)),
        ("Istio version / build", escape(f"{info.istio_version} / {info.istio_build}")),
        *(
            (f"Istio {escape(entry['version'])} chosen as", escape(entry["resolution"]))
            for entry in info.releases
            if entry.get("resolution")
        ),
        ("Guide revision", escape(info.guide_revisions)),
        ("Upgrade to", escape(info.upgrade_to["build"]) if info.upgrade_to else "–"),
        ("Kubernetes", escape(info.kubernetes_version)),
        ("Mode", escape(info.mode)),
        *(
            (f"Workaround: {escape(entry['name'])}", escape(entry["change"]))
            for entry in report.get("workarounds", [])
        ),
        *(
            (
                "Stand-in" + (f" ({escape(entry['role'])})" if entry.get("role") else ""),
                f"{escape(entry['component'])}: {escape(entry['standIn'])}",
            )
            for entry in report.get("standIns", [])
        ),
        *((f"Tool: {escape(name)}", escape(version)) for name, version in sorted(info.tools.items())),
    ]
    body = "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in rows)
    return f'<table class="facts">{body}</table>'


def _matrix(report: Mapping[str, Any], outcomes: Sequence[CheckOutcome]) -> str:
    if not outcomes:
        return "<p>No conformance checks ran.</p>"
    columns = ordered_checks(outcomes)
    cells: dict[tuple[str, str], CheckOutcome] = {}
    for outcome in outcomes:
        cells[(outcome.identity.scenario_key, check_label(outcome))] = outcome
    families: list[tuple[str, int]] = []
    for family, _check in columns:
        if families and families[-1][0] == family:
            families[-1] = (family, families[-1][1] + 1)
        else:
            families.append((family, 1))
    head1 = (
        '<tr><th rowspan="2">Scenario</th><th rowspan="2">Result</th>'
        + "".join(f'<th colspan="{span}">{escape(family)}</th>' for family, span in families)
        + "</tr>"
    )
    head2 = (
        "<tr>" + "".join(f'<th class="check">{escape(check)}</th>' for _family, check in columns) + "</tr>"
    )
    rows = []
    for scenario in report["scenarios"]:
        result = scenario["result"]
        row = [
            f"<td>{escape(scenario['name'])}</td>",
            f'<td><span class="badge {escape(result)}">{escape(result)}</span></td>',
        ]
        for family, check in columns:
            cell = cells.get((scenario["name"], f"{family}/{check}"))
            if cell is None:
                row.append('<td class="cell none" title="not run">·</td>')
                continue
            css, mark = _CELL[cell.outcome]
            title = f"{family}/{check}: {cell.outcome} in {_fmt_seconds(cell.call_duration)}"
            if cell.message:
                title += f"\n{cell.message}"
            row.append(f'<td class="cell {css}" title="{escape(title)}">{mark}</td>')
        rows.append("<tr>" + "".join(row) + "</tr>")
    legend = (
        '<p class="legend">'
        + "".join(f'<span><i class="{css}"></i>{escape(name)}</span>' for name, (css, _mark) in _CELL.items())
        + "</p>"
    )
    return f'<table class="matrix">{head1}{head2}{"".join(rows)}</table>{legend}'


def _failures(report: Mapping[str, Any]) -> str:
    items = []
    for scenario in report["scenarios"]:
        for failure in scenario["failures"]:
            items.append(
                f"<li><b>{escape(scenario['name'])}</b> {escape(failure['check'])} "
                f"({escape(failure['outcome'])}, {escape(failure['category'])} failure)"
                f"<pre>{escape(failure['message'])}</pre></li>"
            )
        if scenario["diagnostics"]:
            items.append(
                f"<li>Diagnostics of <b>{escape(scenario['name'])}</b>: "
                f"<code>{escape(scenario['diagnostics'])}</code></li>"
            )
    return f"<ul>{''.join(items)}</ul>" if items else "<p>No failures.</p>"


def _known_issues(report: Mapping[str, Any]) -> str:
    """Every known upstream issue the run's checks showed, with where, why and what to do."""
    items = []
    for scenario in report["scenarios"]:
        for issue in scenario.get("knownIssues", []):
            upstream = f"<br>Upstream: {escape(issue['upstream'])}" if issue.get("upstream") else ""
            option = (
                f" (<code>--workaround {escape(issue['workaroundOption'])}</code>)"
                if issue.get("workaroundOption")
                else ""
            )
            items.append(
                f"<li><b>{escape(issue['id'])}</b>: {escape(issue['title'])}<br>"
                f"<b>{escape(scenario['name'])}</b> {escape(issue['check'])} (an expected failure)<br>"
                f"Consequence: {escape(issue['consequence'])}<br>"
                f"Workaround: {escape(issue['workaround'])}{option}<br>"
                f"Affected: {escape(issue['affected'])}{upstream}"
                f"<pre>{escape(issue['message'])}</pre></li>"
            )
    return f"<ul>{''.join(items)}</ul>" if items else "<p>No known issue showed.</p>"


def _ticks(span: float) -> list[float]:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200):
        if span / step <= 12:
            return [step * index for index in range(int(span // step) + 1)]
    return [0.0, span]


def _timeline(phases: Sequence[PhaseRecord]) -> str:
    if not phases:
        return "<p>No phases were recorded.</p>"
    origin = min(phase.start for phase in phases)
    span = max(max(phase.end for phase in phases) - origin, 1.0)
    kinds = [kind for kind in PHASE_KINDS if any(phase.kind == kind for phase in phases)]
    plot = _SVG_WIDTH - _LABEL_WIDTH - 10
    height = 24 + _LANE_HEIGHT * len(kinds) + 10

    def x_of(seconds: float) -> float:
        return _LABEL_WIDTH + plot * seconds / span

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_SVG_WIDTH}" height="{height}" role="img" '
        f'aria-label="timeline of phases">'
    ]
    for tick in _ticks(span):
        x = x_of(tick)
        parts.append(f'<line x1="{x:.1f}" y1="14" x2="{x:.1f}" y2="{height - 8}" stroke="#e0e0e0"/>')
        parts.append(f'<text x="{x:.1f}" y="11" text-anchor="middle">{escape(_fmt_seconds(tick))}</text>')
    for lane, kind in enumerate(kinds):
        y = 20 + lane * _LANE_HEIGHT
        parts.append(f'<text x="4" y="{y + 14}">{escape(kind)}</text>')
        for phase in (phase for phase in phases if phase.kind == kind):
            x = x_of(phase.start - origin)
            width = max(plot * phase.duration / span, 1.5)
            stroke = ' stroke="#b71c1c" stroke-width="2"' if phase.outcome in ("failed", "error") else ""
            where = " ".join(part for part in (phase.scenario, phase.role) if part)
            title = (
                f"{kind}: {phase.name}"
                + (f" [{where}]" if where else "")
                + (f" — {_fmt_seconds(phase.duration)}, {phase.outcome}")
            )
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{_LANE_HEIGHT - 6}" rx="2" '
                f'fill="{_KIND_COLOURS[kind]}"{stroke}><title>{escape(title)}</title></rect>'
            )
    parts.append("</svg>")
    totals = "".join(
        f'<span><i style="background:{_KIND_COLOURS[kind]}"></i>{escape(kind)} '
        f"{escape(_fmt_seconds(sum(p.duration for p in phases if p.kind == kind)))}</span>"
        for kind in kinds
    )
    return "".join(parts) + f'<p class="legend">Total time by kind: {totals}</p>'


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table of plain-text cells (escaped here)."""
    header = "".join(f"<th>{escape(cell)}</th>" for cell in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{header}</tr>{body}</table>" if rows else ""


def _longest(phases: Sequence[PhaseRecord], limit: int = 20) -> str:
    longest = sorted(phases, key=lambda p: p.duration, reverse=True)[:limit]
    return _table(
        ("Kind", "Phase", "Scenario", "Cluster", "Duration", "Outcome"),
        [
            (p.kind, p.name, p.scenario or "", p.role or "", _fmt_seconds(p.duration), p.outcome)
            for p in longest
        ],
    )


def _xds_probes(entries: Sequence[Mapping[str, Any]]) -> str:
    """kwok mode's xDS-level stand-in for the traffic probe: per client, the longest stretch
    without a synced stream carrying the endpoints, its bound and how the proxy ended."""
    rows = []
    for entry in entries:
        switches = ", ".join(f"{s['to']} after {float(s['seconds']):.1f} s" for s in entry["switchovers"])
        rows.append(
            (
                str(entry["scenario"]),
                str(entry["vantage"]),
                f"{float(entry['longestGapSeconds']):.1f} s",
                f"{float(entry['boundSeconds']):.1f} s ({entry['boundBasis']})",
                switches or "none",
                f"{'synced' if entry['endedSynced'] else 'NOT synced'} on {entry['endedOn']}",
            )
        )
    stand_in = escape(str(entries[0]["standIn"])) if entries else ""
    return f"<p>Stand-in: {stand_in}.</p>" + _table(
        (
            "Scenario",
            "Client proxy",
            "Longest without a synced stream",
            "Bound",
            "istiod switch-overs",
            "Ended",
        ),
        rows,
    )


def _commands(slowest: Sequence[CommandSummary], count: int, total_s: float, failed: int) -> str:
    summary = f"<p>{count} commands, {escape(_fmt_seconds(total_s))} in total, {failed} did not exit 0.</p>"
    rows = [
        (
            dt.datetime.fromtimestamp(c.started_at, dt.UTC).strftime("%H:%M:%S"),
            _fmt_seconds(c.duration_s),
            c.status,
            c.title,
        )
        for c in slowest
    ]
    return summary + _table(("Started (UTC)", "Duration", "Status", "Command"), rows)


def render_summary(
    info: RunInfo,
    report: Mapping[str, Any],
    outcomes: Sequence[CheckOutcome],
    phases: Sequence[PhaseRecord],
    slowest_commands: Sequence[CommandSummary] = (),
    command_totals: tuple[int, float, int] = (0, 0.0, 0),
) -> str:
    """The whole page as a string."""
    count, total_s, failed = command_totals
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape('Conformance summary — ' + info.istio_build)}</title>"
        f"<style>{CSS}</style></head><body>"
        "<h1>Istio external control plane conformance</h1>"
        f"{_facts(info, report)}"
        f"<h2>Scenario × check matrix</h2>{_matrix(report, outcomes)}"
        f"<h2>Failures</h2>{_failures(report)}"
        f"<h2>Known issues</h2>{_known_issues(report)}"
        f"<h2>Timeline</h2>{_timeline(phases)}"
        + (
            f"<h2>Traffic during the upgrade</h2>{probe_plot.render(report['upgradeProbes'], phases)}"
            if report.get("upgradeProbes")
            else ""
        )
        + (
            "<h2>Control plane during the upgrade (stand-in for the traffic probe)</h2>"
            f"{_xds_probes(report['upgradeXdsProbes'])}"
            if report.get("upgradeXdsProbes")
            else ""
        )
        + f"<h2>Longest phases</h2>{_longest(phases)}"
        f"<h2>Slowest commands</h2>{_commands(slowest_commands, count, total_s, failed)}"
        "</body></html>\n"
    )
