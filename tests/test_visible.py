"""Control bytes from tools' output are made visible and harmless: on the terminal and in summary.html.

A tool that prints a terminal escape (clear the screen, set the title, write the clipboard), a
bell, a NUL, a lone carriage return or a bidirectional override must not act on the user's
terminal nor hide in the HTML summary: each is shown as its escape sequence (``\\x1b``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from programs.visible import visible, visible_html
from tests import e2e_child
from tests.fakeexec import FakeTools
from tests.test_html import info
from tests.topology_child import first

HOSTILE = "\x1b[2J\x1b]0;owned\x07\x1b]52;c;cGF5bG9hZA==\x07 NUL\x00 bell\x07 over\rwrite \u202eevil\u202c C1\x9b31m"
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_every_control_byte_is_shown_as_its_escape() -> None:
    shown = visible(HOSTILE + "\r\nkept\tline\n")
    assert RAW_CONTROL.search(shown) is None
    assert shown.startswith("\\x1b[2J\\x1b]0;owned\\x07")
    assert "NUL\\x00 bell\\x07 over\\rwrite \\u202eevil\\u202c C1\\x9b31m" in shown
    assert shown.endswith("\nkept\tline\n")  # CRLF became LF; newlines and tabs stay
    assert visible("plain text, 100% ordinary: <b>&</b>") == "plain text, 100% ordinary: <b>&</b>"


def test_html_values_are_shown_not_acted_on() -> None:
    assert visible_html(f"<b>{HOSTILE}</b>").startswith("&lt;b&gt;\\x1b[2J")


def test_summary_page_holds_no_raw_control_byte() -> None:
    from reports.conformance import build_report
    from reports.html import render_summary
    from reports.outcomes import CheckIdentity, CheckOutcome
    from run.timeline import Timeline

    outcome = CheckOutcome(
        CheckIdentity("ip-passthrough", "1.30.3", "injection", "test_x"),
        "x::test_x",
        "failed",
        message=HOSTILE,
    )
    timeline = Timeline()
    timeline.record("install", f"step {HOSTILE}", "remote", "ip-passthrough-1.30.3", 1000.0, 2.0, "failed")
    run = info()
    run.tools["istioctl"] = HOSTILE
    page = render_summary(run, build_report(run, [outcome]), [outcome], timeline.records(), [], (1, 1.0, 1))
    assert RAW_CONTROL.search(page) is None
    assert "\\x1b[2J\\x1b]0;owned\\x07" in page


@pytest.mark.slow
def test_control_bytes_of_a_failing_tool_reach_neither_terminal_nor_summary_raw(tmp_path: Path) -> None:
    """Layer 4: the install's istioctl fails printing control bytes; the run's terminal output
    and its summary.html show them as text."""

    def hostile_istioctl(tools: FakeTools, api_url: str) -> None:
        first(
            tools.tools["istioctl"],
            r"^install -y -f \S+/controlplane-gateway\.yaml",
            exit=1,
            stderr=f"Error: {HOSTILE}\n",
        )

    with e2e_child.started(tmp_path, hostile_istioctl) as child:
        output = child.output(timeout_s=240)
    assert child.process.returncode == 1, output
    assert "\\x1b]0;owned\\x07" in output, output[-3000:]
    assert RAW_CONTROL.search(output) is None, [
        line for line in output.splitlines() if RAW_CONTROL.search(line)
    ]
    page = (child.report_dir / "summary.html").read_text()
    assert "\\x1b]0;owned" in page
    assert RAW_CONTROL.search(page) is None
