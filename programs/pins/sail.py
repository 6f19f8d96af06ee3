"""The Sail Operator chart pins: the newest chart in its Helm repository's index, and what it
installs, read from the chart itself.

A chart is accepted when the index lists it and its archive, fetched from the index's URL,
matches the index's SHA-256 digest; what it installs is its ``Istio`` CRD's ``spec.version``
list (``crds/sailoperator.io_istios.yaml``). Each minor of the table the chart installs gets
the chart and the newest patch of that minor it lists; a minor it does not install keeps its pin.
"""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
from typing import Any

import yaml

from programs.https_fetch import FetchError
from programs.pins.model import Change, Finding, Status, Upstream, checked
from scenarios.releases import Pins
from scenarios.versions import IstioVersion, VersionError

INDEX_URL = "https://istio-ecosystem.github.io/sail-operator/index.yaml"
CHART = "sail-operator"
CRD_MEMBER = f"{CHART}/crds/sailoperator.io_istios.yaml"
_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
_ISTIO = re.compile(r"^v(\d+\.\d+\.\d+)$")


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def chart_versions(index_text: str) -> dict[str, dict[str, Any]]:
    """The chart's GA versions in the index: version -> entry (digest, urls)."""
    data = yaml.safe_load(index_text)
    entries = (data or {}).get("entries", {}).get(CHART, [])
    return {str(e["version"]): e for e in entries if _SEMVER.match(str(e.get("version", "")))}


def installable_versions(chart_archive: bytes) -> list[IstioVersion]:
    """The Istio versions a chart's Istio CRD accepts in spec.version (GA patches only)."""
    with tarfile.open(fileobj=io.BytesIO(chart_archive)) as archive:
        member = archive.extractfile(CRD_MEMBER)
        if member is None:
            raise ValueError(f"the chart has no {CRD_MEMBER}")
        crd = yaml.safe_load(member.read())
    found: set[str] = set()
    for served in crd["spec"]["versions"]:
        spec = served["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        for value in spec.get("version", {}).get("enum", []):
            if match := _ISTIO.match(str(value)):
                found.add(match[1])
    if not found:
        raise ValueError("its Istio CRD lists no spec.version")
    return sorted(IstioVersion.parse(v) for v in found)


def sail_findings(pins: Pins, upstream: Upstream) -> list[Finding]:
    try:
        charts = chart_versions(upstream.get(INDEX_URL).decode("utf-8"))
    except (FetchError, ValueError, yaml.YAMLError, UnicodeDecodeError) as error:
        return [Finding("Sail Operator chart", Status.UNVERIFIABLE, "-", "unreadable", INDEX_URL, str(error))]
    if not charts:
        return [
            Finding(
                "Sail Operator chart", Status.UNVERIFIABLE, "-", "none", INDEX_URL, "the index lists no chart"
            )
        ]
    newest = max(charts, key=_key)
    pinned = sorted({p.sail_chart_version for p in pins.profiles.values() if p.sail_chart_version}, key=_key)
    findings = [
        Finding(
            f"Sail Operator chart {chart}",
            Status.UNVERIFIABLE,
            chart,
            f"newest in the index: {newest}",
            INDEX_URL,
            "the pinned chart is not in the Helm index read: it cannot be verified here",
        )
        for chart in pinned
        if chart not in charts
    ]
    if pinned and _key(newest) <= _key(pinned[-1]):
        if pinned[-1] in charts:
            findings.append(Finding("Sail Operator chart", Status.CURRENT, pinned[-1], newest, INDEX_URL))
        return findings
    entry = charts[newest]
    url = str((entry.get("urls") or [""])[0])
    try:
        archive = upstream.get(url)
        digest = hashlib.sha256(archive).hexdigest()
        if digest != str(entry.get("digest", "")).lower():
            raise ValueError(f"its SHA-256 is {digest}, the index says {entry.get('digest')}")
        versions = installable_versions(archive)
    except (FetchError, ValueError, tarfile.TarError, yaml.YAMLError, KeyError, TypeError) as error:
        detail = (
            f"what chart {newest} installs cannot be read ({' '.join(str(error).split())[:240]}): not pinned"
        )
        current = ", ".join(pinned) or "none"
        findings.append(
            Finding(
                "Sail Operator chart", Status.UNVERIFIABLE, current, newest, f"{INDEX_URL}, {url}", detail
            )
        )
        return findings
    return findings + _chart_changes(pins, upstream, newest, versions, url)


def _chart_changes(
    pins: Pins, upstream: Upstream, chart: str, versions: list[IstioVersion], url: str
) -> list[Finding]:
    findings = []
    source = f"{INDEX_URL} ({url})"
    for minor, profile in pins.profiles.items():
        if not (profile.supported or profile.candidate or profile.past_end_of_life):
            continue
        patches = [v for v in versions if v.minor_key == minor]
        subject = f"Istio {minor} Sail chart"
        current = f"{profile.sail_chart_version} (up to {profile.sail_istio_up_to})"
        if not patches:
            findings.append(
                Finding(subject, Status.CURRENT, current, f"chart {chart} installs no {minor}", source)
            )
            continue
        up_to = str(patches[-1])
        try:
            older = (
                profile.sail_istio_up_to is not None
                and IstioVersion.parse(profile.sail_istio_up_to) > patches[-1]
            )
        except VersionError:
            older = False
        if older:  # never pin a chart that installs less of the minor than the pinned one
            continue
        changes = (
            Change(
                ("istio", "releases", minor), "sail_chart_version", chart, checked(upstream.today, INDEX_URL)
            ),
            Change(("istio", "releases", minor), "sail_istio_up_to", up_to),
        )
        findings.append(
            Finding(subject, Status.STALE, current, f"{chart} (up to {up_to})", source, changes=changes)
        )
    return findings
