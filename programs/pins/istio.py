"""Istio's pins: each minor's newest GA patch (GitHub releases of istio/istio), its end of life
(istio.io's support announcement), and the support lists that follow from those dates.

A patch is accepted when istio/istio lists it as a release that is neither a draft nor a
pre-release (its artifacts are verified against Istio's published .sha256 files when they are
downloaded). A minor the table has no profile for is reported for a person to add: a profile's
procedure fields, Kubernetes range and Gateway API version come from its release notes.
"""

from __future__ import annotations

import re
from datetime import date

from programs.github_releases import releases_url
from programs.https_fetch import FetchError
from programs.pins.model import Change, Finding, Status, Upstream, checked
from scenarios.releases import Pins
from scenarios.versions import IstioVersion, VersionError, newest_ga_patch

ISTIO_REPO = "istio/istio"
EOL_URL = "https://raw.githubusercontent.com/istio/istio.io/master/content/en/news/support/announcing-{minor}-eol/index.md"
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
# "title: Support for Istio 1.29 ends on the 12th of October, 2026" (or "ended on").
_EOL_TITLE = re.compile(
    r"^title:.*?\b(?:end|ends|ended)\s+on\s+(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)?\s+of\s+([A-Za-z]+),?\s+(\d{4})",
    re.MULTILINE | re.IGNORECASE,
)


def parse_end_of_life(text: str) -> date | None:
    """The end-of-life date an istio.io support announcement's title names (None: none)."""
    match = _EOL_TITLE.search(text)
    if match is None or match[2].lower() not in _MONTHS:
        return None
    return date(int(match[3]), _MONTHS.index(match[2].lower()) + 1, int(match[1]))


def _minors(pins: Pins) -> list[str]:
    return [*pins.past_end_of_life, *pins.supported, *pins.candidates]


def patch_findings(pins: Pins, upstream: Upstream) -> list[Finding]:
    source = releases_url(ISTIO_REPO)
    try:
        tags = [release.tag for release in upstream.releases(ISTIO_REPO) if release.is_ga]
    except (FetchError, ValueError) as error:
        return [Finding("Istio releases", Status.UNVERIFIABLE, "-", "unreadable", source, str(error))]
    findings = []
    for minor in _minors(pins):
        pinned_text = pins.profiles[minor].latest_patch
        floor = IstioVersion.parse(pinned_text) if pinned_text else IstioVersion.parse(f"{minor}.0-alpha.0")
        newest = newest_ga_patch(minor, tags, floor)
        subject = f"Istio {minor} latest_patch"
        if newest != floor:
            change = Change(
                ("istio", "releases", minor), "latest_patch", str(newest), checked(upstream.today, source)
            )
            findings.append(
                Finding(subject, Status.STALE, str(pinned_text), str(newest), source, changes=(change,))
            )
        elif pinned_text is None:
            findings.append(Finding(subject, Status.CURRENT, "none", "no GA patch", source))
        elif pinned_text not in tags:
            detail = "the pinned patch is not among the GA releases read: it cannot be verified here"
            findings.append(Finding(subject, Status.UNVERIFIABLE, pinned_text, "-", source, detail))
        else:
            findings.append(Finding(subject, Status.CURRENT, str(pinned_text), str(newest), source))
    findings += _new_minors(pins, tags, source)
    return findings


def _new_minors(pins: Pins, tags: list[str], source: str) -> list[Finding]:
    known = set(pins.profiles)
    newest_supported = max((IstioVersion.parse(m) for m in pins.supported), default=None)
    seen: dict[str, str] = {}
    for tag in tags:
        try:
            version = IstioVersion.parse(tag)
        except VersionError:
            continue
        minor = version.minor_key
        if newest_supported is not None and IstioVersion.parse(minor) <= newest_supported:
            continue
        if minor not in seen or IstioVersion.parse(seen[minor]) < version:
            seen[minor] = str(version)
    findings = []
    for minor, newest in sorted(seen.items()):
        what = (
            "a candidate"
            if minor in pins.candidates
            else ("in the table" if minor in known else "not in the table")
        )
        detail = (
            f"a GA release of {minor} exists ({what}): add {minor} to istio.supported by hand, checking its "
            "profile against its release notes (procedure fields, Kubernetes range, Gateway API version)"
        )
        findings.append(Finding(f"Istio {minor}", Status.NOTE, "-", newest, source, detail))
    return findings


def end_of_life_findings(pins: Pins, upstream: Upstream) -> tuple[list[Finding], dict[str, date | None]]:
    """Each minor's announced end of life; returns the dates it would pin (for the support lists)."""
    findings = []
    dates: dict[str, date | None] = {}
    for minor in _minors(pins):
        pinned = pins.profiles[minor].end_of_life
        url = EOL_URL.format(minor=minor)
        subject = f"Istio {minor} end_of_life"
        try:
            announced = parse_end_of_life(upstream.get(url).decode("utf-8", "replace"))
        except FetchError as error:
            dates[minor] = pinned
            if error.status == 404:
                status = Status.CURRENT if pinned is None else Status.UNVERIFIABLE
                detail = "" if pinned is None else "no announcement found for the pinned date"
                findings.append(Finding(subject, status, str(pinned), "not announced", url, detail))
            else:
                findings.append(
                    Finding(subject, Status.UNVERIFIABLE, str(pinned), "unreadable", url, str(error))
                )
            continue
        if announced is None:
            dates[minor] = pinned
            findings.append(
                Finding(
                    subject,
                    Status.UNVERIFIABLE,
                    str(pinned),
                    "no date",
                    url,
                    "the announcement's title names no date",
                )
            )
            continue
        dates[minor] = announced
        if announced == pinned:
            findings.append(Finding(subject, Status.CURRENT, str(pinned), announced.isoformat(), url))
        else:
            change = Change(
                ("istio", "releases", minor), "end_of_life", announced, checked(upstream.today, url)
            )
            findings.append(
                Finding(subject, Status.STALE, str(pinned), announced.isoformat(), url, changes=(change,))
            )
    return findings, dates


def support_findings(pins: Pins, dates: dict[str, date | None], today: date) -> list[Finding]:
    """Supported minors past their end of life move to istio.past_end_of_life (and leave the
    nightly matrix and the default)."""
    ending = [m for m in pins.supported if (eol := dates.get(m)) is not None and today >= eol]
    if not ending:
        return []
    supported = [m for m in pins.supported if m not in ending]
    retired = [*pins.past_end_of_life, *ending]
    source = ", ".join(EOL_URL.format(minor=m) for m in ending)
    changes = (
        Change(("istio",), "supported", supported),
        Change(("istio",), "past_end_of_life", retired),
    )
    detail = f"past its end of life ({', '.join(f'{m}: {dates[m]}' for m in ending)}): leaves the nightly and the default"
    return [
        Finding(
            "Istio supported",
            Status.END_OF_LIFE,
            ", ".join(pins.supported),
            ", ".join(supported),
            source,
            detail,
            changes,
        )
    ]
