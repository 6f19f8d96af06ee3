"""Carrying out the pre-upgrade mode's in-place upgrade of one installed scenario to release B.

``UpgradeDriver`` runs ``scenarios.upgrade.plan_upgrade`` with an installer for release B (B's
istioctl and samples), keeps a background traffic probe running per client while the control
plane and the workloads are upgraded (gateway-injected gateways on the remotes included), and
restarts the clients last. ``ScenarioSession.upgrade`` (install/session.py) is its caller.

The probe's bounds: at least ``min_success_ratio`` (default 0.995) of its requests succeed, and
no stretch longer than ``max_gap_s`` (default 5 s) passes without a successful response. Where
the cluster provider's pods send no request (kwok), its stand-in runs instead
(``probe_factory``: clusters/kwok/xds_probe.py, with bounds of its own).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from clusters.cluster import ClusterHandle
from clusters.provider import LoadBalancerProvider
from install.installer import EnvironmentFault, Installer, StepFailed, StepRecord
from install.traffic_probe import TrafficProbe
from install.upgrade_gateways import gateway_restarts
from install.upgrade_outcome import (
    BackgroundProbe,
    UpgradableScenario,
    UpgradeOutcome,
    UpgradeProbeFactory,
    scenario_label,
)
from programs.runner import CommandError
from programs.waits import WaitTimeout, wait_until
from run.config import DEFAULTS
from run.timeline import Timeline
from run.timeouts import (
    UPGRADE_ISTIOD,
    UPGRADE_MAX_GAP,
    UPGRADE_POLL,
    UPGRADE_PROBE_SETTLE,
    UPGRADE_PROBE_START,
    UPGRADE_RESTART,
)
from scenarios.expectations import ScenarioExpectations
from scenarios.facts import Facts
from scenarios.registry import render
from scenarios.releases import IstioRelease
from scenarios.steps import Role, ScenarioPlan, Step
from scenarios.upgrade import Restart, UpgradePlan, plan_upgrade

log = logging.getLogger("eicp.upgrade")

# The share of probe requests that must succeed while the control plane and the workloads are
# upgraded (--upgrade-min-success-ratio). The probed path (client sidecar -> helloworld sidecar, in one remote
# cluster) does not pass through istiod or the external gateway: sidecars keep serving their last
# config while istiod restarts; what may fail is the moment a helloworld pod is replaced.
DEFAULT_MIN_SUCCESS_RATIO = DEFAULTS.upgrade_min_success_ratio  # 0.995, the option default
# Fewer requests than this say nothing about "throughout".
DEFAULT_MIN_PROBE_REQUESTS = 20


class UpgradeError(RuntimeError):
    """The upgrade broke an invariant the scenario depends on (not a failed step)."""


def upgrade_plan(
    scenario_id: str, from_release: IstioRelease, to_release: IstioRelease, facts: Facts
) -> UpgradePlan:
    """``scenarios.upgrade.plan_upgrade`` plus the restarts of the gateway-injected gateways
    (``ScenarioUnavailable`` when the pair cannot be upgraded). What ``--plan --upgrade-to`` prints."""
    plan = plan_upgrade(scenario_id, from_release, to_release, facts)
    known = {(restart.role, restart.deployment) for restart in (*plan.workloads, *plan.clients)}
    extra = gateway_restarts(render(scenario_id, to_release, facts).plan, known)
    return UpgradePlan(
        plan.scenario,
        plan.from_version,
        plan.to_version,
        plan.control_plane,
        plan.workloads + extra,
        plan.clients,
    )


class UpgradeTools(Protocol):
    """B's binaries (``install.session.InstallerTools``): istioctl and samples per release, helm."""

    @property
    def istioctl(self) -> Callable[[IstioRelease], Path]: ...
    @property
    def helm(self) -> Callable[[], Path]: ...
    @property
    def samples(self) -> Callable[[IstioRelease], Path]: ...
    @property
    def istio_source(self) -> Callable[[IstioRelease], Path | None]: ...


@dataclass
class UpgradeDriver:
    """Upgrades one installed scenario's external control plane to ``target``."""

    target: IstioRelease
    tools: UpgradeTools
    work_root: Path
    load_balancers: LoadBalancerProvider | None = None
    min_success_ratio: float = DEFAULT_MIN_SUCCESS_RATIO
    max_gap_s: float = field(default_factory=UPGRADE_MAX_GAP.seconds)
    min_probe_requests: int = DEFAULT_MIN_PROBE_REQUESTS
    probe_batch_size: int = 10
    probe_start_deadline_s: float = field(default_factory=UPGRADE_PROBE_START.seconds)
    istiod_deadline_s: float = field(default_factory=UPGRADE_ISTIOD.seconds)
    timeline: Timeline = field(default_factory=Timeline)
    # The provider's stand-in for the traffic probe where no request can be sent (kwok mode's
    # xDS-level probe); None: the traffic probe.
    probe_factory: UpgradeProbeFactory | None = None
    # Told (label, B's installer, B's full plan) just before the first step changes the
    # clusters: from then on teardown must uninstall what B installed (install/session.py).
    on_control_plane_change: Callable[[str, Installer, ScenarioPlan], None] | None = None
    # Told the upgrade plan before anything runs (the executed plan lists its steps).
    on_plan: Callable[[UpgradePlan], None] | None = None
    # Told the outcome once the upgrade ended (the reports keep the probes' figures).
    on_finished: Callable[[UpgradeOutcome], None] | None = None

    def plan(self, installed: UpgradableScenario) -> UpgradePlan:
        return upgrade_plan(installed.scenario, installed.release, self.target, installed.facts)

    def expectations(self, installed: UpgradableScenario) -> ScenarioExpectations:
        """What the scenario looks like on B: rendered from B with the facts the install learnt."""
        return render(installed.scenario, self.target, installed.facts).expectations

    def installer(self, installed: UpgradableScenario) -> Installer:
        label = f"{scenario_label(installed.scenario, installed.release)}-to-{self.target.version}"
        installer = Installer(
            scenario=label,
            topology=installed.topology,
            release=self.target,
            work_dir=self.work_root / label,
            istioctl=self.tools.istioctl(self.target),
            helm=self.tools.helm,
            samples=lambda: self.tools.samples(self.target),
            istio_source=lambda: self.tools.istio_source(self.target),
            load_balancers=self.load_balancers,
        )
        installer.add_listener(record_steps(installed.diagnostics_dir / "upgrade-steps.jsonl"))
        return installer

    def upgrade(
        self,
        installed: UpgradableScenario,
        client_pods: Mapping[Role, str],
        url: str,
        client_container: str,
        namespace: str,
    ) -> UpgradeOutcome:
        """Probe from each client pod, upgrade the control plane and workloads, stop, restart clients."""
        plan = self.plan(installed)
        if self.on_plan is not None:
            self.on_plan(plan)
        expectations = self.expectations(installed)
        installer = self.installer(installed)
        label = scenario_label(installed.scenario, installed.release)
        completed: list[str] = []
        probes = self._probes(installed, client_pods, url, client_container, namespace)
        error: BaseException | None = None
        started: float | None = None
        try:
            for probe in probes:
                probe.start()
            for probe in probes:
                # The probe must work before anything changes, or its ratio would blame the upgrade.
                if not probe.wait_ready(self.probe_start_deadline_s):
                    raise UpgradeError(
                        f"the background probe from {probe.vantage} did not work before the upgrade"
                    )
            # Right before the first control plane step, not after it: a step that fails
            # half-way has already applied some of B.
            self._hand_over_teardown(installed, installer, label)
            started = time.time()
            for step in plan.control_plane:
                self._run_step(installer, step, label, installed.facts.external_istiod_addr)
                completed.append(step.name)
            # Restarted pods must meet B's injector: Sail's Ready can still describe the old
            # revision right after spec.version changed, so wait for istiod itself.
            self._await_istiod(installed.topology["external"], expectations, label)
            for restart in plan.workloads:
                self._restart(installer, restart, label)
                completed.append(f"restart {restart.deployment}")
            for probe in probes:
                # One more look after the last restart: the probe also covers the new pods.
                probe.wait_settled(UPGRADE_PROBE_SETTLE.seconds())
        except (StepFailed, EnvironmentFault, UpgradeError, CommandError) as failure:
            error = failure
        finally:
            results = tuple(probe.stop() for probe in probes)
        window = (started, time.time()) if started is not None else None
        if error is None:
            error = self._restart_clients(installer, plan, label, completed)
        for result in results:
            log.info("traffic probe during the upgrade of %s: %s", label, result.summary())
        outcome = UpgradeOutcome(plan, expectations, results, tuple(completed), error, window)
        if self.on_finished is not None:
            self.on_finished(outcome)
        return outcome

    def _probes(
        self,
        installed: UpgradableScenario,
        client_pods: Mapping[Role, str],
        url: str,
        client_container: str,
        namespace: str,
    ) -> list[BackgroundProbe]:
        """The traffic probe from each client pod, or the provider's stand-in for it."""
        if self.probe_factory is not None:
            return list(
                self.probe_factory(
                    workloads=installed.expectations.workloads,
                    clients=client_pods,
                    namespace=namespace,
                    target_tag=self.target.tag,
                )
            )
        return [
            TrafficProbe(
                installed.topology[role],
                namespace,
                pod,
                client_container,
                url,
                batch_size=self.probe_batch_size,
            )
            for role, pod in sorted(client_pods.items())
        ]

    def _restart_clients(
        self, installer: Installer, plan: UpgradePlan, label: str, completed: list[str]
    ) -> BaseException | None:
        """The probe's own clients, last (the probe has stopped): the first failure, if any."""
        try:
            for restart in plan.clients:
                self._restart(installer, restart, label)
                completed.append(f"restart {restart.deployment}")
        except (StepFailed, EnvironmentFault, CommandError) as failure:
            return failure
        return None

    def _hand_over_teardown(self, installed: UpgradableScenario, installer: Installer, label: str) -> None:
        if self.on_control_plane_change is not None:
            target = render(installed.scenario, self.target, installed.facts).plan
            self.on_control_plane_change(label, installer, target)

    def _run_step(self, installer: Installer, step: Step, label: str, address: str | None = None) -> None:
        """Run one step of B's plan; a step that re-learns the gateway address must find ``address``."""
        with self.timeline.phase("upgrade", step.name, role=step.role, scenario=label):
            value = installer.run_step(step, "install")
        if step.params.get("provides") == "external_istiod_addr" and value != address:
            raise UpgradeError(
                f"after step {step.name!r} the external gateway's address is {value}, not {address}: "
                "the remotes are configured with the old one"
            )

    def _await_istiod(self, external: ClusterHandle, exp: ScenarioExpectations, label: str) -> None:
        resource = f"deployment/{exp.istiod_deployment}"

        def observe() -> tuple[bool, str]:
            result = external.kubectl(
                "get", resource, "-n", exp.external_namespace, "-o", "json", timeout_s=UPGRADE_POLL.seconds()
            )
            return istiod_rolled_out(json.loads(result.stdout), exp.proxy_image_tag)

        with self.timeline.phase(
            "upgrade", f"wait for {resource} to run {exp.proxy_image_tag}", role="external", scenario=label
        ):
            try:
                wait_until(
                    f"{exp.external_namespace}/{resource} on the external cluster to run {exp.proxy_image_tag}",
                    observe,
                    self.istiod_deadline_s,
                    until=lambda seen: seen[0],
                    show=lambda seen: seen[1],
                    initial_delay_s=1.0,
                )
            except WaitTimeout as timeout:
                raise UpgradeError(str(timeout)) from None

    def _restart(self, installer: Installer, restart: Restart, label: str) -> None:
        cluster: ClusterHandle = installer.topology[restart.role]
        name = f"restart {restart.namespace}/{restart.deployment}"
        with self.timeline.phase("upgrade", name, role=restart.role, scenario=label):
            cluster.kubectl(
                "rollout",
                "restart",
                f"deployment/{restart.deployment}",
                "-n",
                restart.namespace,
                timeout_s=UPGRADE_RESTART.seconds(),
            )
        self._run_step(installer, restart.wait, label)


def istiod_rolled_out(deployment: dict[str, Any], tag: str) -> tuple[bool, str]:
    """(done, state): the Deployment's template runs ``tag`` and its rollout has finished."""
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    images = [str(container.get("image", "")) for container in containers]
    wanted = int(spec.get("replicas", 1))
    current = int(status.get("observedGeneration", 0)) >= int(
        (deployment.get("metadata") or {}).get("generation", 0)
    )
    updated, available = int(status.get("updatedReplicas", 0)), int(status.get("availableReplicas", 0))
    runs_tag = any(image.rsplit(":", 1)[-1] == tag for image in images if ":" in image)
    done = runs_tag and current and updated == wanted == available and not status.get("unavailableReplicas")
    state = (
        f"images {', '.join(images) or 'none'}; replicas={wanted} updated={updated} available={available}"
        f"{'' if current else ' (generation not yet observed)'}"
    )
    return done, state


def record_steps(path: Path) -> Callable[[StepRecord], None]:
    """Upgrade step records as JSON lines next to the scenario's diagnostics."""

    def listener(record: StepRecord) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(record)) + "\n")

    return listener
