"""Failure categories: environment faults (Docker, image pulls, LoadBalancer addresses, DNS)
apart from product failures, as Allure ``categories.json`` and for the conformance report.

Allure 2 matches a category when its regex matches the *whole* status message (or trace), so
every pattern starts with ``(?s).*``; the same patterns classify failures here with
``re.fullmatch``. Keep them to the regex syntax Java, Python and JavaScript share. Allure 3
reads its categories from its configuration instead (``allure3_rules``; JavaScript has no
inline flags, so they become the RegExp's flags, and its ``test`` finds a match anywhere, which
for patterns of the form ``.*X.*`` is the same as a whole match).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENVIRONMENT = "environment"
PRODUCT = "product"
KNOWN_ISSUE = "known issue"


@dataclass(frozen=True)
class Category:
    name: str
    kind: str  # ENVIRONMENT, PRODUCT or KNOWN_ISSUE
    statuses: tuple[str, ...]
    message_regex: str | None = None
    trace_regex: str | None = None

    def allure(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "matchedStatuses": list(self.statuses)}
        if self.message_regex:
            entry["messageRegex"] = self.message_regex
        if self.trace_regex:
            entry["traceRegex"] = self.trace_regex
        return entry

    def matches(self, message: str, trace: str) -> bool:
        if self.message_regex is None and self.trace_regex is None:
            return True
        if self.message_regex and re.fullmatch(self.message_regex, message):
            return True
        return bool(self.trace_regex and re.fullmatch(self.trace_regex, trace))


_BAD = ("failed", "broken")

# Order matters: Allure puts a result in the first category that matches.
CATEGORIES: tuple[Category, ...] = (
    Category(
        "Environment: Docker unreachable",
        ENVIRONMENT,
        _BAD,
        r"(?is).*(cannot connect to the docker daemon|is the docker daemon running|"
        r"error during connect|docker\.sock|failed to connect to the docker api|docker.*not reachable).*",
    ),
    Category(
        "Environment: image pull failed",
        ENVIRONMENT,
        _BAD,
        r"(?s).*(ImagePullBackOff|ErrImagePull|ErrImageNeverPull|InvalidImageName|toomanyrequests|"
        r"pull rate limit|failed to pull image).*",
    ),
    Category(
        "Environment: LoadBalancer address not assigned",
        ENVIRONMENT,
        _BAD,
        r"(?is).*(loadbalancer[^\n]*(address|ingress|external-ip)[^\n]*"
        r"(timed out|timeout|pending|not assigned|no address)|"
        r"(timed out|timeout)[^\n]*loadbalancer[^\n]*address|cloud-provider-kind).*",
    ),
    Category(
        "Environment: DNS resolution",
        ENVIRONMENT,
        _BAD,
        r"(?is).*(no such host|could not resolve|temporary failure in name resolution|nxdomain|"
        r"name or service not known|dns (resolution|precondition)).*",
    ),
    Category(
        "Environment: kind cluster or host limits",
        ENVIRONMENT,
        _BAD,
        r"(?is).*(failed to create cluster|too many open files|inotify|no space left on device).*",
    ),
    Category(
        "Environment: fault reported by the suite",
        ENVIRONMENT,
        _BAD,
        r"(?s).*\bEnvironmentFault\b.*",
        r"(?ms).*^E\s+[\w.]*EnvironmentFault\b.*",
    ),
    # A check that failed only with the known upstream issues it was expected to show (a strict
    # xfail: Allure reports it skipped, its message "XFAIL known issue <id>: <title>").
    Category("Known issues (expected failures)", KNOWN_ISSUE, ("skipped",), r"(?s)XFAIL known issue .*"),
    Category("Product: failed checks", PRODUCT, ("failed",)),
    Category("Product: install or fixture errors", PRODUCT, ("broken",)),
)


def classify(message: str, trace: str = "") -> str:
    """``environment`` or ``product`` for a failure's message and trace."""
    for category in CATEGORIES:
        if category.kind == ENVIRONMENT and category.matches(message, trace):
            return ENVIRONMENT
    return PRODUCT


def category_name(message: str, trace: str = "", status: str = "failed") -> str:
    """The Allure category a failure lands in (mirrors Allure's first-match rule)."""
    for category in CATEGORIES:
        if status in category.statuses and category.matches(message, trace):
            return category.name
    return "Unknown"


_INLINE_FLAGS = re.compile(r"^\(\?([imsx]+)\)")


def js_regex(pattern: str) -> tuple[str, str]:
    """(source, flags) of a JavaScript RegExp equivalent to ``pattern``'s leading inline flags."""
    match = _INLINE_FLAGS.match(pattern)
    if match is None:
        return pattern, ""
    return pattern[match.end() :], "".join(sorted(match.group(1)))


def allure3_rules() -> list[dict[str, Any]]:
    """The categories as Allure 3 ``categories.rules``: statuses, and message/trace as
    ``{"source", "flags"}`` (the config writer turns them into RegExp objects)."""
    rules = []
    for category in CATEGORIES:
        matcher: dict[str, Any] = {"statuses": list(category.statuses)}
        rule: dict[str, Any] = {"name": category.name, "matchers": [matcher]}
        if category.message_regex:
            matcher["message"] = dict(zip(("source", "flags"), js_regex(category.message_regex), strict=True))
        if category.trace_regex:
            trace = dict(zip(("source", "flags"), js_regex(category.trace_regex), strict=True))
            # Either the message or the trace: Allure 3 ORs a rule's matchers.
            rule["matchers"].append({"statuses": list(category.statuses), "trace": trace})
        rules.append(rule)
    return rules


def write_categories(alluredir: Path) -> Path:
    alluredir.mkdir(parents=True, exist_ok=True)
    path = alluredir / "categories.json"
    path.write_text(json.dumps([category.allure() for category in CATEGORIES], indent=2) + "\n")
    return path
