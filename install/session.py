"""One scenario x release from install to proof of uninstall: ``ScenarioSession``.

``install()`` renders the plan (PKI included when needed), takes the cluster set's lock,
snapshots the clusters, runs the plan; ``diagnose()`` collects diagnostics once (first failed
check, or teardown after a failed install); ``upgrade_driver()`` hands out release B's driver
(teardown uninstalls B's objects too); ``close()`` uninstalls newest first, proves the clusters
back to their snapshot, releases the lock. Events go to ``SessionEvents`` (the scenario plugin's
pytest hooks); the executed plan is ``executed_plan()``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from filelock import FileLock

from clusters.capabilities import Capability
from clusters.cluster import Topology
from clusters.provider import LoadBalancerProvider
from install import session_setup as setup
from install.executed_plan import PlanRecorder
from install.hostname import KindNodes
from install.installer import Installer, StepFailed, StepRecord
from install.session_setup import InstallerTools, WaitHeartbeat, initial_facts, installer_tools_from
from install.snapshot import UninstallLeftovers, take_topology_snapshot, verify_restored
from install.upgrade import UpgradeDriver
from install.upgrade_outcome import UpgradeOutcome, UpgradeProbeFactory, scenario_label
from programs import cancellation
from programs.runner import CommandRunner
from programs.waits import WaitTimeout
from run.timeline import Timeline
from scenarios.expectations import ScenarioExpectations
from scenarios.facts import Facts
from scenarios.registry import guide_of
from scenarios.releases import IstioRelease
from scenarios.steps import Action, ScenarioPlan
from scenarios.upgrade import UpgradePlan

__all__ = [
    "InstalledScenario",
    "InstallerTools",
    "ScenarioSession",
    "UninstallFailed",
    "initial_facts",
    "installer_tools_from",
    "scenario_label",
]

log = logging.getLogger("eicp.scenario")

DOCKER_BIN = "docker"  # as the topology runs it


class Rendered(Protocol):
    """What ``scenarios.registry.render`` returns (``RenderedScenario``)."""

    @property
    def plan(self) -> ScenarioPlan: ...

    @property
    def expectations(self) -> ScenarioExpectations: ...


RenderFunction = Callable[[str, IstioRelease, Facts], Rendered]


class ScenarioRefused(ValueError):
    """The scenario cannot run on this topology with these options (a usage error)."""


class UninstallFailed(RuntimeError):
    """Uninstall steps failed or the clusters did not come back to their pre-install state."""


@dataclass(frozen=True)
class InstalledScenario:
    """A scenario installed on a topology: what checks read."""

    scenario: str
    release: IstioRelease
    topology: Topology
    plan: ScenarioPlan
    expectations: ScenarioExpectations
    facts: Facts
    diagnostics_dir: Path

    @property
    def label(self) -> str:
        return scenario_label(self.scenario, self.release)


@dataclass(frozen=True)
class DiagnosticsNote:
    """Where a scenario's diagnostics are (relative to the report directory) and what they say."""

    relative: str
    text: str
    collected_now: bool


class SessionEvents(Protocol):
    def scenario_started(self, label: str, steps: int) -> None: ...
    def step_recorded(self, label: str, record: StepRecord, index: int, total: int) -> None: ...
    def wait_progress(
        self, label: str, description: str, elapsed_s: float, deadline_s: float | None, state: str
    ) -> None: ...
    def torn_down(self, label: str, executed_plan: dict[str, Any], error: str | None) -> None: ...
    def upgrade_finished(
        self, label: str, outcome: UpgradeOutcome, min_ratio: float, max_gap_s: float
    ) -> None: ...


# (topology, plan, out_dir, kind binary) -> a summary of what was collected
Diagnose = Callable[[Topology, ScenarioPlan, Path, str | None], str]


@dataclass
class SessionContext:
    """What every session of a run shares: the clusters, the tools and where things go."""

    topology: Topology
    run_dir: Path
    report_dir: Path
    lock_dir: Path
    runner: CommandRunner
    render: RenderFunction
    tools: InstallerTools
    initial_facts: Facts
    events: SessionEvents
    diagnose: Diagnose
    timeline: Timeline = field(default_factory=Timeline)
    load_balancers: LoadBalancerProvider | None = None
    kind_bin: str | None = None
    # The provider's stand-in for the upgrade's traffic probe (kwok); None: the traffic probe.
    upgrade_probes: UpgradeProbeFactory | None = None


class ScenarioSession:
    """Install -> checks -> diagnostics -> uninstall -> restore check, for one scenario x release."""

    def __init__(self, scenario_id: str, release: IstioRelease, context: SessionContext) -> None:
        self.scenario_id = scenario_id
        self.release = release
        self.context = context
        self.label = scenario_label(scenario_id, release)
        self.diagnostics_dir = context.report_dir / "diagnostics" / self.label
        guide = guide_of(scenario_id, release)
        self.recorder = PlanRecorder(
            self.label, scenario_id, release.version_text, context.runner.redactor, guide
        )
        self.failed = False  # a check failed, or the install did
        self._note: DiagnosticsNote | None = None
        self._installations: list[tuple[Installer, ScenarioPlan]] = []
        self._before: dict[Any, Any] | None = None
        self._lock: FileLock | None = None
        self._installer: Installer | None = None
        self._facts: Facts | None = None
        self.closed = False

    # -- install ---------------------------------------------------------------------------

    def install(self) -> InstalledScenario:
        """Render, lock, snapshot, install. On failure the session is closed (uninstalled) first."""
        ctx, scenario_id, release = self.context, self.scenario_id, self.release
        facts = ctx.initial_facts
        suite_pki = setup.suite_pki(scenario_id, facts, self.label, ctx.runner)
        if suite_pki is not None:
            facts = replace(facts, mesh_root_ca_bundle=suite_pki.root_ca_bundle)
        plan = ctx.render(scenario_id, release, facts).plan
        self._refuse(plan)
        self.diagnostics_dir.mkdir(parents=True, exist_ok=True)
        (self.diagnostics_dir / "plan.txt").write_text(plan.describe() + "\n", encoding="utf-8")
        installer = Installer(
            scenario=self.label,
            topology=ctx.topology,
            release=release,
            work_dir=ctx.run_dir / self.label,
            istioctl=ctx.tools.istioctl(release),
            helm=ctx.tools.helm,
            samples=lambda: ctx.tools.samples(release),
            istio_source=lambda: ctx.tools.istio_source(release),
            load_balancers=ctx.load_balancers,
            pki=(lambda: suite_pki) if suite_pki is not None else None,
            nodes=KindNodes(ctx.runner, ctx.kind_bin, DOCKER_BIN) if ctx.kind_bin is not None else None,
        )
        installer.add_listener(self._listener(self.diagnostics_dir / "steps.jsonl"))
        self._installer = installer
        self._installations = [(installer, plan)]
        self.recorder.planned(plan)
        self._lock = setup.cluster_set_lock(ctx.topology, ctx.lock_dir, self.label)
        try:
            self._before = take_topology_snapshot(ctx.topology, plan.roles)
            if installer.ledger is not None:
                for role, snapshot in self._before.items():  # the same listing: not read twice
                    installer.ledger.set_baseline(role, snapshot.objects)
            ctx.events.scenario_started(self.label, len(plan.steps))

            def rerender(learnt: Facts) -> ScenarioPlan:
                fresh = ctx.render(scenario_id, release, learnt).plan
                self.recorder.planned(fresh)
                return fresh

            with WaitHeartbeat(self._tell_wait, self._running_deadline):
                result = installer.install(plan, facts, rerender)
            final = ctx.render(scenario_id, release, result.facts)
        except BaseException:
            self.failed = True
            # Undo what was installed with what the install learnt before it failed.
            self._installations = [(installer, self._rendered_plan(installer.facts, plan))]
            self._facts = installer.facts
            self.close()
            raise
        self._facts = result.facts
        self._installations = [(installer, result.plan)]
        self.recorder.planned(result.plan)
        return InstalledScenario(
            scenario_id,
            release,
            ctx.topology,
            result.plan,
            final.expectations,
            result.facts,
            self.diagnostics_dir,
        )

    def _refuse(self, plan: ScenarioPlan) -> None:
        topology = self.context.topology
        missing = [role for role in plan.roles if not topology.has(role)]
        if missing:
            raise ScenarioRefused(
                f"scenario {self.scenario_id} needs the {', '.join(missing)} cluster(s); this topology has "
                f"{', '.join(topology.clusters)}"
            )
        publishes = any(step.action is Action.PUBLISH_HOSTNAME for step in plan.steps)
        if publishes and not topology.can(Capability.PUBLISHES_HOSTNAMES):
            raise ScenarioRefused(
                f"scenario {self.scenario_id} on {topology.capabilities.clusters} needs --external-hostname: "
                "a name real DNS resolves to the external gateway's address. "
                + topology.capabilities.why_not(Capability.PUBLISHES_HOSTNAMES)
            )

    def _tell_wait(self, description: str, elapsed_s: float, deadline_s: float | None, state: str) -> None:
        redact = self.context.runner.redactor.redact  # the state is what a tool or an object said
        self.context.events.wait_progress(
            self.label, redact(description), elapsed_s, deadline_s, redact(state)
        )

    def _running_deadline(self) -> float | None:
        """The running step's deadline: the step after the last one recorded."""
        plan, done = self.recorder.plan, len(self.recorder.records("install"))
        if plan is None or done >= len(plan.steps):
            return None
        value = plan.steps[done].params.get("deadline_s")
        return float(value) if isinstance(value, int | float) else None

    def _rendered_plan(self, facts: Facts, fallback: ScenarioPlan) -> ScenarioPlan:
        try:
            return self.context.render(self.scenario_id, self.release, facts).plan
        except Exception as error:  # a renderer bug must not cost the uninstall of what was made
            log.warning(
                "re-rendering %s after its failed install failed (%s): uninstalling as planned",
                self.label,
                error,
            )
            return fallback

    def _listener(self, path: Path) -> Callable[[StepRecord], None]:
        """Step records to ``steps.jsonl``, the timeline, the executed plan and the events."""
        ctx = self.context
        lock = threading.Lock()  # the uninstall's chains report from their own threads

        def listener(record: StepRecord) -> None:
            with lock, path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(asdict(record)) + "\n")
            kind = (
                "cleanup" if record.phase == "uninstall" else "wait" if record.action == "wait" else "install"
            )
            outcome = {"passed": "passed", "failed": "failed", "environment-fault": "error"}[record.outcome]
            ctx.timeline.record(
                kind, record.step, record.role, record.scenario, record.started_at, record.duration_s, outcome
            )
            index, total = self.recorder.record(record)
            ctx.events.step_recorded(self.label, record, index, total)

        return listener

    # -- during the checks -------------------------------------------------------------------

    def diagnose(self) -> DiagnosticsNote:
        """Collect the scenario's diagnostics, once: later calls say where they are."""
        self.failed = True
        relative = _relative(self.diagnostics_dir, self.context.report_dir)
        if self._note is not None:
            return replace(self._note, collected_now=False)
        plan = self._installations[0][1] if self._installations else None
        if cancellation.cancelled() is not None:
            self._note = DiagnosticsNote(
                "", f"diagnostics not collected: the run was cancelled ({cancellation.cancelled()})", True
            )
            return self._note
        if plan is None:
            self._note = DiagnosticsNote(
                "", "nothing was installed for this scenario: nothing to collect", True
            )
            return self._note
        with self.context.timeline.phase(
            "diagnostics", f"collect diagnostics of {self.label}", scenario=self.label
        ):
            summary = self.context.diagnose(
                self.context.topology, plan, self.diagnostics_dir, self.context.kind_bin
            )
        log.warning("diagnostics of %s: %s", self.label, summary)
        self._note = DiagnosticsNote(relative, summary, True)
        return self._note

    def upgrade_driver(self, target: IstioRelease, **bounds: Any) -> UpgradeDriver:
        """Release B's driver: its installer reports like A's, and hands teardown B's plan."""
        ctx = self.context
        driver = UpgradeDriver(
            target,
            ctx.tools,
            ctx.run_dir,
            ctx.load_balancers,
            timeline=ctx.timeline,
            probe_factory=ctx.upgrade_probes,
            **bounds,
        )
        driver.on_control_plane_change = lambda _label, installer, plan: self.replace_installation(
            installer, plan
        )
        driver.on_plan = self._planned_upgrade
        driver.on_finished = lambda outcome: ctx.events.upgrade_finished(
            self.label, outcome, driver.min_success_ratio, driver.max_gap_s
        )
        return driver

    def _planned_upgrade(self, plan: UpgradePlan) -> None:
        self.recorder.upgrade_steps = plan.steps

    def replace_installation(self, installer: Installer, plan: ScenarioPlan) -> None:
        """From now on the scenario is (also) what ``plan`` installs with ``installer``: teardown
        uninstalls with it first. It inherits the original's node access, PKI and LB provider."""
        installer.add_listener(self._listener(self.diagnostics_dir / "steps.jsonl"))
        if self._installer is not None:
            installer.nodes = installer.nodes or self._installer.nodes
            installer.pki = installer.pki or self._installer.pki
            installer.load_balancers = installer.load_balancers or self._installer.load_balancers
        self._installations.append((installer, plan))

    # -- teardown ------------------------------------------------------------------------------

    def close(self) -> None:
        """Diagnostics if anything failed, uninstall newest first, prove the clusters restored."""
        if self.closed:
            return
        self.closed = True
        error: str | None = None
        # A signal never cuts an uninstall short: the clusters would be left half installed.
        with cancellation.cleanup(f"the uninstall of {self.label} and its restore check"):
            try:
                if self.failed and self._note is None:
                    self.diagnose()
                if self._before is not None:
                    self._uninstall(self._before)
            except UninstallFailed as failure:
                error = str(failure)
                raise
            finally:
                if self._lock is not None:
                    self._lock.release()
                self.context.events.torn_down(self.label, self.executed_plan(error), error)

    def _uninstall(self, before: dict[Any, Any]) -> None:
        failures: list[StepFailed] = []
        for installer, plan in reversed(self._installations):
            failures += installer.uninstall(plan)
        problems = [f"step failed: {failure}" for failure in failures]
        try:
            verify_restored(self.label, self.context.topology, before)
        except (UninstallLeftovers, WaitTimeout) as error:
            problems.append(str(error))
        if problems:
            raise UninstallFailed(
                f"uninstall of {self.label} failed; later scenarios on these clusters are not safe:\n"
                + "\n".join(f"  - {problem}" for problem in problems)
            )

    def executed_plan(self, teardown_error: str | None = None) -> dict[str, Any]:
        return self.recorder.as_dict(self._facts, teardown_error)


def _relative(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
