"""Which releases the Sail Operator can install, and which upgrades between them the suite can drive.

Pure answers from the release profile table: the Sail scenario renders only for a release whose
minor has a published Sail chart (``sail_chart_version``) whose ``Istio`` CRD lists the
version (``sail_istio_up_to``, the newest patch of the minor the chart's ``spec.version``
accepts). Anything else is *not applicable* with the reason, never a failure: the renderer
raises ``ScenarioUnavailable``, the nightly matrix leaves it out, and ``--plan --upgrade-to``
refuses an unsupported upgrade when the options are read.
"""

from __future__ import annotations

from scenarios.common import ScenarioUnavailable
from scenarios.releases import IstioRelease, ReleaseProfile
from scenarios.versions import IstioVersion


def unavailable_reason(release: IstioRelease) -> str | None:
    """Why the sail scenario cannot be installed for ``release``, or None when it can."""
    profile = release.profile
    chart = profile.sail_chart_version
    if chart is None or profile.sail_istio_up_to is None:
        return (
            f"scenario sail is not applicable to Istio {release.version}: no Sail Operator chart "
            f"for {profile.minor} is published (versions.yaml sail_chart_version)"
        )
    newest = IstioVersion.parse(profile.sail_istio_up_to)
    if release.version > newest:
        return (
            f"scenario sail is not applicable to Istio {release.version}: the newest published Sail "
            f"Operator chart for {profile.minor} ({chart}) installs Istio up to {newest} (its Istio "
            f"CRD's spec.version list); certify sail with --istio-version {newest}"
        )
    return None


def chart_version(release: IstioRelease) -> str:
    """The Sail chart that installs ``release``; ``ScenarioUnavailable`` with the reason if none."""
    reason = unavailable_reason(release)
    version = release.profile.sail_chart_version
    if reason is not None or version is None:
        raise ScenarioUnavailable(reason or f"no Sail Operator chart for {release.profile.minor}")
    return version


def newest_installable(profile: ReleaseProfile) -> str | None:
    """The newest version of ``profile``'s minor the published Sail chart installs (None: none)."""
    return profile.sail_istio_up_to if profile.sail_chart_version is not None else None


def upgrade_refusal(from_release: IstioRelease, to_release: IstioRelease) -> str | None:
    """Why the suite cannot upgrade sail from A to B, or None when it can.

    Both releases must be installable, and by the same chart: upgrading the operator too is not
    supported yet, since ``helm upgrade`` leaves a chart's ``crds/`` alone and B's ``Istio`` CRD
    is the one whose ``spec.version`` enum lists B.
    """
    for release in (from_release, to_release):
        reason = unavailable_reason(release)
        if reason is not None:
            return f"cannot upgrade sail from Istio {from_release.version} to {to_release.version}: {reason}"
    old, new = from_release.profile.sail_chart_version, to_release.profile.sail_chart_version
    if old != new:
        return (
            f"cannot upgrade sail from Istio {from_release.version} to {to_release.version} yet: the "
            f"Sail Operator chart changes from {old} to {new}, and helm upgrade does not update the "
            "chart's CRDs (B's Istio CRD is needed for spec.version "
            f"v{to_release.version}); the installer needs an action that applies a chart's CRDs "
            "(helm show crds | kubectl apply --server-side) before the operator's helm upgrade"
        )
    return None


def refuse_upgrade_option(
    scenarios: tuple[str, ...], releases: tuple[IstioRelease, ...], upgrade_to: IstioRelease | None
) -> str | None:
    """The usage error for ``--upgrade-to``, when the selected sail scenario would install on
    release A and then fail to upgrade (None: nothing to refuse). Where sail is not applicable to
    A at all it is reported as not applicable, as without ``--upgrade-to``."""
    if upgrade_to is None or "sail" not in scenarios or len(releases) != 1:
        return None
    if unavailable_reason(releases[0]) is not None:
        return None
    reason = upgrade_refusal(releases[0], upgrade_to)
    if reason is None:
        return None
    return f"--upgrade-to {upgrade_to.version}: {reason} (leave out --scenario sail to upgrade the others)"
