"""Control bytes from tools' output made visible and harmless before a person sees the text.

A tool's output may carry terminal escapes (ESC ``\\x1b[2J`` clears the screen, ``\\x1b]52``
writes the clipboard), BEL, NUL, a lone carriage return that overwrites what came before, or
Unicode bidirectional overrides that reorder what is shown. On the terminal and in the HTML
summary each becomes its escape sequence as text (``\\x1b``, ``\\r``, ``\\u202e``): what was
there stays readable, and nothing acts. Newlines and tabs are kept; CRLF becomes LF.
"""

from __future__ import annotations

import html
import re

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional marks and overrides.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    if code == 0x0D:
        return "\\r"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with every control byte replaced by its visible escape sequence."""
    return _CONTROL.sub(_shown, text.replace("\r\n", "\n"))


def visible_html(text: str) -> str:
    """``text`` fit for an HTML page: control bytes shown as text, then markup escaped."""
    return html.escape(visible(text))
