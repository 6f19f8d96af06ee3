"""What the upgrade check reads about an upgrade, without the installer (checks may not import it):
the scenario it needs, the outcome, the probe's longest gap, the steps left undone.

``UpgradeDriving`` is what ``install.upgrade.UpgradeDriver`` offers the check.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from clusters.cluster import Topology
from clusters.upgrade_xds_probe import XdsProbeResult
from install.traffic_probe import ProbeResult
from scenarios.expectations import ScenarioExpectations
from scenarios.facts import Facts
from scenarios.releases import IstioRelease
from scenarios.steps import Role
from scenarios.upgrade import UpgradePlan


def scenario_label(scenario: str, release: IstioRelease) -> str:
    """How runs, reports and diagnostics name one scenario x release: ``ip-passthrough-1.30.3``,
    ``ip-passthrough-1.31-source-eed52ebb`` for an Istio source."""
    return f"{scenario}-{release.slug}"


class InstalledScenarioView(Protocol):
    """What the checks (suites/evaluation/readers.py) need from an installed scenario
    (``install.session.InstalledScenario``): declared once, here, below the checks."""

    @property
    def scenario(self) -> str: ...
    @property
    def release(self) -> IstioRelease: ...
    @property
    def topology(self) -> Topology: ...
    @property
    def expectations(self) -> ScenarioExpectations: ...
    @property
    def diagnostics_dir(self) -> Path: ...


class UpgradableScenario(InstalledScenarioView, Protocol):
    """What the upgrade needs besides: the facts the scenario was rendered from."""

    @property
    def facts(self) -> Facts: ...


ProbeOutcome = ProbeResult | XdsProbeResult


class BackgroundProbe(Protocol):
    """What runs while the control plane is upgraded: the traffic probe (install/traffic_probe.py),
    or where no request can be sent, a provider's stand-in for it (kwok: clusters/kwok/xds_probe.py)."""

    @property
    def vantage(self) -> str: ...
    def start(self) -> object: ...
    def wait_ready(self, deadline_s: float) -> bool: ...
    def wait_settled(self, deadline_s: float) -> None: ...
    def stop(self) -> ProbeOutcome: ...


class UpgradeProbeFactory(Protocol):
    """A cluster provider's probes for the upgrade, one per client pod (role -> pod)."""

    def __call__(
        self,
        *,
        workloads: Mapping[Role, tuple[str, ...]],
        clients: Mapping[Role, str],
        namespace: str,
        target_tag: str,
    ) -> Sequence[BackgroundProbe]: ...


@dataclass(frozen=True)
class UpgradeOutcome:
    """What happened: the plan, each probe's result, the first failure (if any), B's expectations."""

    plan: UpgradePlan | None
    expectations: ScenarioExpectations | None
    probes: tuple[ProbeOutcome, ...]
    completed: tuple[str, ...]
    error: BaseException | None
    window: tuple[float, float] | None = None  # epoch seconds: first change to last restart

    @property
    def ok(self) -> bool:
        return self.error is None


def max_gap_s(result: ProbeResult) -> float:
    """The longest time the probe went without a successful response: between two successes,
    and from its first request to the first success and from the last success to its last
    request (the samples' own clock, the client pod's; all failures: their whole span)."""
    samples = sorted(result.samples, key=lambda sample: sample.at)
    if not samples:
        return 0.0
    successes = [sample.at for sample in samples if sample.ok]
    if not successes:
        return samples[-1].at - samples[0].at
    edges = [samples[0].at, *successes, samples[-1].at]
    return max(b - a for a, b in itertools.pairwise(edges))


class UpgradeDriving(Protocol):
    """What the upgrade check needs of the driver (install.upgrade.UpgradeDriver)."""

    @property
    def target(self) -> IstioRelease: ...
    @property
    def min_success_ratio(self) -> float: ...
    @property
    def max_gap_s(self) -> float: ...
    @property
    def min_probe_requests(self) -> int: ...

    def plan(self, installed: UpgradableScenario) -> UpgradePlan: ...

    def upgrade(
        self,
        installed: UpgradableScenario,
        client_pods: Mapping[Role, str],
        url: str,
        client_container: str,
        namespace: str,
    ) -> UpgradeOutcome: ...


def unfinished(plan: UpgradePlan | None, completed: Iterable[str]) -> list[str]:
    if plan is None:
        return []
    done = set(completed)
    names = [step.name for step in plan.control_plane]
    names += [f"restart {restart.deployment}" for restart in (*plan.workloads, *plan.clients)]
    return [name for name in names if name not in done]
