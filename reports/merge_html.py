"""The merged nightly page: changes against the previous night first, pass/fail per release over
the cells, then the release x scenario x check matrix with a link to each job's artifacts.

One page of inline CSS and SVG; every value goes through ``html.escape``. Links point at the
jobs' artifacts (relative paths in the downloaded bundle, or the URLs ``--link-template`` gave).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from reports.html import CSS
from reports.outcomes import CHECK_FAMILIES

_CELL = {
    "passed": ("pass", "✔"),
    "known-issue": ("known", "K"),
    "failed": ("fail", "✘"),
    "skipped": ("skip", "–"),
    "not-applicable": ("na", "n/a"),
}
_BAR_COLOURS = {
    "passed": "#43a047",
    "known-issue": "#7e57c2",
    "failed": "#e53935",
    "skipped": "#9e9e9e",
    "not-applicable": "#d7ccc8",
}
_EXTRA_CSS = """
.na{background:#efebe9;color:#6d4c41} .not-applicable{background:#8d6e63}
td.regressed{outline:3px solid #b71c1c;outline-offset:-3px} td.fixed{outline:3px solid #1b5e20;outline-offset:-3px}
.changes li{margin:2px 0} code{font-size:12px}
"""
_BAR_WIDTH = 720


def _badge(result: str) -> str:
    return f'<span class="badge {escape(result)}">{escape(result)}</span>'


def _change_list(title: str, anchor: str, items: Sequence[Mapping[str, Any]]) -> str:
    if not items:
        return f'<h3 id="{anchor}">{escape(title)}: none</h3>'
    rows = "".join(
        f"<li><code>{escape(c['release'])}</code> {escape(c['mode'])} <b>{escape(c['scenario'])}</b> "
        f"<code>{escape(c['check'])}</code>: {escape(c['before'])} → {escape(c['after'])}</li>"
        for c in items
    )
    return f'<h3 id="{anchor}">{escape(title)}: {len(items)}</h3><ul class="changes">{rows}</ul>'


def _changes(merged: Mapping[str, Any]) -> str:
    change = merged["changes"]
    if change["previousDate"] is None:
        return '<p id="no-previous">No previous merged report: nothing to compare with.</p>'
    return (
        f"<p>Compared with the merged report of {escape(change['previousDate'])}.</p>"
        + _change_list("Regressions (passed → failed)", "regressions", change["regressions"])
        + _change_list("Fixed (failed → passed)", "fixed", change["fixed"])
        + _change_list("Changed cells", "changed", change["changed"])
    )


def _per_release_bars(merged: Mapping[str, Any]) -> str:
    """One stacked bar per release: its cells by outcome, widths proportional to the counts."""
    counts = {
        release["release"]: Counter(
            cell["outcome"] for cell in merged["cells"] if cell["release"] == release["release"]
        )
        for release in merged["releases"]
    }
    height = 28 * len(counts) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_BAR_WIDTH + 380}" height="{height}" role="img" '
        'aria-label="pass/fail per release over the cells">'
    ]
    for row, (release, counter) in enumerate(counts.items()):
        y = 6 + row * 28
        total = sum(counter.values()) or 1
        parts.append(f'<text x="4" y="{y + 15}">Istio {escape(release)}</text>')
        x = 90.0
        for outcome, colour in _BAR_COLOURS.items():
            if not counter[outcome]:
                continue
            width = _BAR_WIDTH * counter[outcome] / total
            parts.append(
                f'<rect class="bar-{outcome}" x="{x:.1f}" y="{y}" width="{width:.1f}" height="20" '
                f'fill="{colour}"><title>{escape(release)}: {counter[outcome]} {outcome}</title></rect>'
            )
            x += width
        summary = ", ".join(f"{counter[o]} {o}" for o in _CELL if counter[o])
        parts.append(f'<text x="{90 + _BAR_WIDTH + 8}" y="{y + 15}">{escape(summary)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _columns(cells: Sequence[Mapping[str, Any]]) -> list[str]:
    rank = {family: index for index, family in enumerate((*CHECK_FAMILIES, "other"))}
    first: dict[str, int] = {}
    for index, cell in enumerate(cells):
        first.setdefault(cell["check"], index)
    return sorted(first, key=lambda check: (rank.get(check.split("/", 1)[0], len(rank)), first[check]))


def _matrix(merged: Mapping[str, Any]) -> str:
    cells = merged["cells"]
    columns = _columns(cells)
    by_key = {(c["release"], c["mode"], c["scenario"], c["check"]): c for c in cells}
    marked = {
        (c["release"], c["mode"], c["scenario"], c["check"]): kind
        for kind in ("regressions", "fixed")
        for c in merged["changes"][kind]
    }
    head = (
        "<tr><th>Release</th><th>Scenario</th><th>Mode</th><th>Result</th><th>Job</th>"
        + "".join(f'<th class="check">{escape(check)}</th>' for check in columns)
        + "</tr>"
    )
    rows = []
    for release in merged["releases"]:
        for entry in release["scenarios"]:
            row = [
                f"<td>{escape(release['release'])}</td><td>{escape(entry['scenario'])}</td>",
                f"<td>{escape(entry['mode'])}</td><td>{_badge(entry['result'])}</td>",
                f'<td><a class="job" href="{escape(entry["link"])}">{escape(entry["job"])}</a></td>',
            ]
            for check in columns:
                key = (release["release"], entry["mode"], entry["scenario"], check)
                cell = by_key.get(key)
                if cell is None:
                    row.append('<td class="cell none" title="not run">·</td>')
                    continue
                css, mark = _CELL[cell["outcome"]]
                extra = {"regressions": " regressed", "fixed": " fixed"}.get(marked.get(key, ""), "")
                title = f"{release['release']} {entry['scenario']} {check}: {cell['outcome']}"
                row.append(f'<td class="cell {css}{extra}" title="{escape(title)}">{mark}</td>')
            rows.append("<tr>" + "".join(row) + "</tr>")
    legend = (
        '<p class="legend">'
        + "".join(f'<span><i class="{css}"></i>{escape(name)}</span>' for name, (css, _mark) in _CELL.items())
        + "</p>"
    )
    return f'<table class="matrix">{head}{"".join(rows)}</table>{legend}'


def render(merged: Mapping[str, Any]) -> str:
    stats = merged["statistics"]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Nightly conformance — {escape(merged['date'])}</title>"
        f"<style>{CSS}{_EXTRA_CSS}</style></head><body>"
        f"<h1>Istio external control plane: nightly conformance {_badge(merged['result'])}</h1>"
        f"<p>{escape(merged['date'])}: {len(merged['jobs'])} jobs, {stats['Passed']} passed, "
        f"{stats['Failed']} failed, {stats['Skipped']} skipped, {stats.get('KnownIssues', 0)} with known issues.</p>"
        f"<h2>Changes</h2>{_changes(merged)}"
        f"<h2>Pass/fail per release</h2>{_per_release_bars(merged)}"
        f"<h2>Release × scenario × check</h2>{_matrix(merged)}"
        "</body></html>\n"
    )
