"""The HTML summary: self-contained, every value escaped, matrix and timeline drawn from the data."""

from __future__ import annotations

import re

from reports.commands import CommandSummary
from reports.conformance import build_report
from reports.html import render_summary
from reports.outcomes import CheckIdentity, CheckOutcome
from run.info import RunInfo
from run.timeline import Timeline
from tests.report_support import TagCollector

HOSTILE = '<script>alert("x")</script>'


def info() -> RunInfo:
    return RunInfo(
        suite_version="0.1.0",
        date="2026-01-02T03:04:05Z",
        mode="kind",
        releases=[{"version": "1.30.3", "build": "1.30.3", "hub": "h", "tag": "t", "custom": False}],
        upgrade_to=None,
        kubernetes={},
        tools={"kind": "v0.33.0", "cloud-provider-kind": HOSTILE},
    )


def outcomes() -> list[CheckOutcome]:
    def make(scenario: str, check: str, result: str, message: str = "") -> CheckOutcome:
        identity = CheckIdentity(scenario, "1.30.3", "injection", check)
        return CheckOutcome(identity, f"x::{check}", result, 1.0, 2.0, message=message)

    return [
        make("ip-passthrough", "test_sidecar", "passed"),
        make("ip-passthrough", "test_<odd>", "skipped", "not here"),
        make("dns-tls", "test_sidecar", "failed", f"pod said {HOSTILE}"),
    ]


def page() -> str:
    timeline = Timeline()
    timeline.record("cluster", "create external", "external", None, 1000.0, 40.0, "passed")
    timeline.record("install", f"step {HOSTILE}", "remote", "dns-tls-1.30.3", 1040.0, 20.0, "failed")
    timeline.record("check", "test_sidecar", None, "dns-tls-1.30.3", 1060.0, 5.0, "failed")
    slow = [CommandSummary(f"kubectl get {HOSTILE}", 1041.0, 12.0, "exit 1")]
    data = outcomes()
    return render_summary(info(), build_report(info(), data), data, timeline.records(), slow, (3, 15.0, 1))


def tags() -> list[tuple[str, dict[str, str | None]]]:
    parser = TagCollector()
    parser.feed(page())
    return parser.tags


def test_every_value_is_escaped() -> None:
    html = page()
    assert "<script" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "test_&lt;odd&gt;" in html


def test_page_is_self_contained() -> None:
    for tag, attrs in tags():
        assert tag not in ("script", "link", "img", "iframe", "object")
        for name, value in attrs.items():
            assert name not in ("src", "href"), (tag, name, value)
    assert not re.search(r"url\(|@import|@font-face", page())


def test_matrix_cells_follow_the_outcomes() -> None:
    cells = [
        (attrs.get("class"), attrs.get("title"))
        for tag, attrs in tags()
        if tag == "td" and "cell" in (attrs.get("class") or "")
    ]
    classes = [cls or "" for cls, _ in cells]
    # Two scenarios x two checks: ip-passthrough passed + skipped, dns-tls failed + not run.
    assert sorted(classes) == ["cell fail", "cell none", "cell pass", "cell skip"]
    failed_title = next(title for cls, title in cells if cls == "cell fail")
    assert failed_title is not None
    assert failed_title.startswith("injection/test_sidecar: failed in 1.0s\npod said <script>")


def test_timeline_draws_one_bar_per_phase_with_failures_outlined() -> None:
    bars = [attrs for tag, attrs in tags() if tag == "rect"]
    assert len(bars) == 3
    assert [bar.get("stroke") for bar in bars] == [None, "#b71c1c", "#b71c1c"]
    widths = [float(bar["width"] or 0) for bar in bars]
    # 40s, 20s and 5s of a 65s span keep their proportions.
    assert abs(widths[0] / widths[1] - 2.0) < 0.01
    assert abs(widths[1] / widths[2] - 4.0) < 0.01
    xs = [float(bar["x"] or 0) for bar in bars]
    assert xs == sorted(xs)


def test_empty_run_renders() -> None:
    html = render_summary(info(), build_report(info(), []), [], [])
    assert "No conformance checks ran." in html
    assert "No phases were recorded." in html


class _Sample:
    def __init__(self, at: float, ok: bool) -> None:
        self.at, self.ok = at, ok


def _with_probe(window: tuple[float, float] | None) -> RunInfo:
    from reports.probe_figures import upgrade_probe_entry

    class Probe:
        vantage = "remote/curl"
        url = "http://helloworld.sample:5000/hello"

        def __init__(self) -> None:
            # 2 requests a second for 60 s from t=1000; the requests between 1020 and 1030 fail.
            self.samples = [_Sample(1000 + i / 2, not (1020 <= 1000 + i / 2 < 1030)) for i in range(120)]

    entry = upgrade_probe_entry(
        "ip-passthrough-1.30.3",
        Probe(),
        upgrade_window=window,
        min_ratio=0.95,
        max_gap_s=10.0,
        max_gap_bound_s=30,
    )
    return RunInfo(**{**info().__dict__, "upgrade_probes": [entry]})


def _upgrade_page(window: tuple[float, float] | None) -> list[tuple[str, dict[str, str | None]]]:
    timeline = Timeline()
    timeline.record(
        "upgrade", "istiod to B", "external", "ip-passthrough-1.30.3-to-1.31.0", 1015.0, 20.0, "passed"
    )
    data = outcomes()
    report = build_report(_with_probe(window), data)
    parser = TagCollector()
    parser.feed(render_summary(info(), report, data, timeline.records()))
    return parser.tags


def test_pre_upgrade_plot_shows_the_probe_ratio_with_the_upgrade_window() -> None:
    tags = _upgrade_page((1012.0, 1040.0))
    [window] = [attrs for tag, attrs in tags if tag == "rect" and attrs.get("class") == "upgrade-window"]
    [line] = [attrs for tag, attrs in tags if tag == "polyline"]
    points = [tuple(map(float, pair.split(","))) for pair in (line["points"] or "").split()]
    assert len(points) == 12  # one point per 5 s bucket
    left, width = float(window["x"] or 0), float(window["width"] or 0)
    # The axis runs from the first bucket (1000) to the last (1055): the window 1012..1040.
    per_second = (1180 - 60 - 20) / 55
    assert abs(left - (60 + 12 * per_second)) < 0.5 and abs(width - 28 * per_second) < 0.5
    failures = [attrs for tag, attrs in tags if tag == "circle"]
    assert len(failures) == 2  # the 1020 and 1025 buckets
    assert all(left <= float(c["cx"] or 0) <= left + width for c in failures)
    ys = [y for _x, y in points]
    # Every request of those buckets failed: ratio 0, the bottom of the plot (y grows downwards).
    assert max(ys) == 186.0 and {float(c["cy"] or 0) for c in failures} == {186.0}
    assert min(ys) == 16.0  # ratio 1 elsewhere
    assert [attrs.get("class") for tag, attrs in tags if tag == "line" and attrs.get("class")] == [
        "min-ratio"
    ]


def test_pre_upgrade_plot_takes_the_window_from_the_timeline_when_the_probe_has_none() -> None:
    tags = _upgrade_page(None)
    [window] = [attrs for tag, attrs in tags if tag == "rect" and attrs.get("class") == "upgrade-window"]
    per_second = (1180 - 60 - 20) / 55
    assert abs(float(window["x"] or 0) - (60 + 15 * per_second)) < 0.5
    assert abs(float(window["width"] or 0) - 20 * per_second) < 0.5


def test_kwok_stand_ins_are_named_in_the_facts() -> None:
    kwok = RunInfo(**{**info().__dict__, "mode": "kwok"})
    html = render_summary(kwok, build_report(kwok, outcomes()), outcomes(), [])
    assert "<tr><th>Stand-in</th><td>nodes, pods and their status: simulated by KWOK" in html  # nothing noted
    noted = {"component": "LoadBalancer address", "standIn": f"netns {HOSTILE}", "role": "external"}
    kwok = RunInfo(**{**kwok.__dict__, "stand_ins": [noted]})
    html = render_summary(kwok, build_report(kwok, outcomes()), outcomes(), [])
    assert "<tr><th>Stand-in (external)</th><td>LoadBalancer address: netns &lt;script&gt;" in html


def test_pre_upgrade_legend_names_ratio_and_longest_gap() -> None:
    timeline = Timeline()
    report = build_report(_with_probe(None), outcomes())
    html = render_summary(info(), report, outcomes(), timeline.records())
    assert (
        "ip-passthrough-1.30.3 remote/curl: 100/120 (83.3%); longest gap 10.0s (at most 30s)</span>" in html
    )
