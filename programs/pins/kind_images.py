"""kind's node images: the ones the release notes of the pinned kind release list, by digest.

kind supports a node image only with the release that built it, and its notes list those
images with their digests ("Images pre-built for this release"); the table keeps one per
Kubernetes minor (a release profile's Kubernetes range picks the newest it allows).
"""

from __future__ import annotations

import re

from programs.github_releases import releases_url
from programs.https_fetch import FetchError
from programs.pins.model import Change, Finding, Status, Upstream, checked

KIND_REPO = "kubernetes-sigs/kind"
_IMAGE = re.compile(r"kindest/node:v(\d+)\.(\d+)\.(\d+)@sha256:[0-9a-f]{64}")


def images_in_notes(body: str) -> dict[str, str]:
    """Kubernetes minor -> image, the newest patch of each minor the notes list."""
    found: dict[str, tuple[int, str]] = {}
    for match in _IMAGE.finditer(body):
        minor, patch = f"{match[1]}.{match[2]}", int(match[3])
        if minor not in found or found[minor][0] < patch:
            found[minor] = (patch, match[0])
    ordered = sorted(found, key=lambda m: tuple(int(p) for p in m.split(".")))
    return {minor: found[minor][1] for minor in ordered}


def node_image_findings(pinned: dict[str, str], kind_version: str, upstream: Upstream) -> list[Finding]:
    source = releases_url(KIND_REPO)
    subject = f"kind node images (kind {kind_version})"
    try:
        release = next((r for r in upstream.releases(KIND_REPO) if r.tag == kind_version), None)
    except (FetchError, ValueError) as error:
        return [Finding(subject, Status.UNVERIFIABLE, "-", "unreadable", source, str(error))]
    images = images_in_notes(release.body) if release else {}
    if not images:
        detail = f"the notes of kind {kind_version} list no node image in the data read"
        return [Finding(subject, Status.UNVERIFIABLE, ", ".join(pinned), "-", source, detail)]
    current = ", ".join(f"{m}: {i.split('@')[0]}" for m, i in pinned.items())
    upstream_text = ", ".join(f"{m}: {i.split('@')[0]}" for m, i in images.items())
    if images == dict(pinned):
        return [Finding(subject, Status.CURRENT, current, upstream_text, source)]
    change = Change(
        (), "kind_node_images", images, checked(upstream.today, f"the notes of kind {kind_version}")
    )
    return [Finding(subject, Status.STALE, current, upstream_text, source, changes=(change,))]
