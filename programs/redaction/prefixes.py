"""Text quoted line by line under a prefix: pytest's failure lines (``E   `` before each line of
an exception's message, in the terminal, JUnit, Allure and the conformance report).

The prefix hides a document's structure and every shape anchored at a line's start (a kubeconfig
user's exec ``env`` in YAML, a Secret's ``data``, curl's ``> Cookie:``), so a block of such lines
is redacted without its prefix and prefixed again. A block that has nothing to redact is left
exactly as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_PYTEST_ERROR = re.compile(r"^E(?: {1,3}|$)")
_PREFIX = "E   "  # pytest's (_pytest/_code/code.py: FormattedExcinfo.fail_marker and its indent)


def redact_prefixed(text: str, redact: Callable[[str], str]) -> str:
    """``text`` with each block of consecutive ``E   `` lines redacted as the text they quote."""
    if not (text.startswith("E") or "\nE" in text):
        return text
    lines = text.split("\n")
    result: list[str] = []
    index = 0
    while index < len(lines):
        if not _PYTEST_ERROR.match(lines[index]):
            result.append(lines[index])
            index += 1
            continue
        end = index
        while end < len(lines) and _PYTEST_ERROR.match(lines[end]):
            end += 1
        block = lines[index:end]
        quoted = "\n".join(_PYTEST_ERROR.sub("", line, count=1) for line in block)
        redacted = redact(quoted)
        result += block if redacted == quoted else [_PREFIX + line for line in redacted.split("\n")]
        index = end
    return "\n".join(result)
