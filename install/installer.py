"""Carries out a rendered scenario: the step loop, re-rendering on learnt facts, and the ledger.

The renderers (scenarios/) decide *what* happens; the actions (install/actions/, one module
per family: kubectl, istioctl, helm, secrets, waits, the gateway hostname) carry each step out
through the clusters' ``kubectl``/``istioctl`` and the one command runner. Every action is
idempotent: rerunning a plan after a partial failure converges (creates tolerate
``AlreadyExists``, applies are server-side, Helm uses ``upgrade --install``, deletes ignore
what is already gone).

Step parameters are the table ``scenarios.steps.PARAMS``; ``deadline_s`` bounds waits and
preconditions, ``provides`` names the fact a wait's value is (scenarios/facts.py): after such a
step the plan is re-rendered and the rest of it continues.

What each step created goes into the ledger (install/ledger.py); ``uninstall`` undoes the
ledger newest first (install/teardown.py) and never touches what the clusters had before.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import allure

from clusters.cluster import Topology
from clusters.provider import LoadBalancerProvider
from install.actions import HANDLERS, ActionContext
from install.faults import EnvironmentFault, PlanError, StepFailed
from install.hostname import KindNodes
from install.kubectl import dump, is_transient
from install.ledger import Ledger
from install.snapshot import take_snapshot
from install.uninstall import undo_ledger
from programs.runner import CommandError, phase
from programs.waits import Backoff, WaitTimeout
from run.lanes import concurrently
from scenarios.facts import Facts
from scenarios.pki import SuitePki
from scenarios.releases import IstioRelease
from scenarios.steps import Action, Role, ScenarioPlan, Step

# The plugins and the upgrade driver import these from here.
__all__ = [
    "EnvironmentFault",
    "InstallResult",
    "Installer",
    "Ledger",
    "PlanError",
    "StepFailed",
    "StepRecord",
    "is_transient",
]

# What scenarios.facts.placeholder() leaves for a fact not known yet: never act on one.
_PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*[A-Z0-9]>")

Outcome = Literal["passed", "failed", "environment-fault"]
StepPhase = Literal["install", "uninstall"]
log = logging.getLogger("eicp.installer")


@dataclass(frozen=True)
class StepRecord:
    """One executed step, for the HTML timeline and the conformance report."""

    scenario: str
    step: str
    role: Role
    action: str
    phase: StepPhase
    started_at: float  # time.time()
    duration_s: float
    outcome: Outcome
    error: str | None = None
    # The guide revision and section the step follows (uninstall steps: what they undo).
    seed: str = ""


StepListener = Callable[[StepRecord], None]
Renderer = Callable[[Facts], ScenarioPlan]


@dataclass(frozen=True)
class InstallResult:
    plan: ScenarioPlan
    facts: Facts


@dataclass
class Installer:
    """Executes one scenario's plan on one topology, for one Istio release."""

    scenario: str  # label for records, e.g. "ip-passthrough-1.30.3"
    topology: Topology
    release: IstioRelease
    work_dir: Path
    istioctl: Path
    helm: Callable[[], Path] | None = None
    samples: Callable[[], Path] | None = None
    load_balancers: LoadBalancerProvider | None = None
    pki: Callable[[], SuitePki] | None = None
    # kind mode: the node containers, where the remote API server's hosts file is.
    nodes: KindNodes | None = None
    # The Istio source tree the release under test was built from (None: a published release).
    istio_source: Callable[[], Path | None] | None = None
    poll: Backoff = field(default_factory=Backoff)
    # What the install created; None: nothing is recorded and ``uninstall`` runs the plan's
    # uninstall steps instead (only for callers that have no ledger, e.g. some self-tests).
    ledger: Ledger | None = field(default_factory=Ledger)
    _listeners: list[StepListener] = field(default_factory=list)
    _ledger_lock: threading.Lock = field(default_factory=threading.Lock)
    _facts: Facts = field(default_factory=Facts)
    _roles: tuple[Role, ...] = ()

    def add_listener(self, listener: StepListener) -> None:
        self._listeners.append(listener)

    # -- plans -------------------------------------------------------------------------

    def install(self, plan: ScenarioPlan, facts: Facts, rerender: Renderer) -> InstallResult:
        """Run ``plan.steps`` in order; after a step that ``provides`` a fact, re-render and go on.

        Consecutive waits run side by side (``side_by_side``): a wait only observes, so the
        order of waits that follow one another never matters, and the step after them starts
        once all are done, as before. A wait that provides a fact ends its group (what follows
        may need the fact).
        """
        self._facts = facts
        self._roles = tuple(role for role in plan.roles if self.topology.has(role))
        if self.load_balancers is not None:
            # Gateways get LoadBalancer Services: their provider must run before the first one.
            self.load_balancers.ensure_started()
        steps = list(plan.steps)
        index = 0
        while index < len(steps):
            group = side_by_side(steps, index)
            values = concurrently(
                [(f"[{s.role}] {s.name}", functools.partial(self.run_step, s, "install")) for s in group]
            )
            for offset, (step, value) in enumerate(zip(group, values, strict=True)):
                fact = step.params.get("provides")
                if not fact:
                    continue
                if not value:
                    raise StepFailed(step, PlanError(f"step provides {fact!r} but found no value"))
                self._facts = self._facts.with_fact(str(fact), value)
                plan = rerender(self._facts)
                _check_prefix_unchanged(steps[: index + offset + 1], plan.steps, fact)
                steps = list(plan.steps)
            index += len(group)
        return InstallResult(plan=plan, facts=self._facts)

    @property
    def facts(self) -> Facts:
        """What the last ``install`` knew and learnt (also after it failed half-way)."""
        return self._facts

    def uninstall(self, plan: ScenarioPlan | None = None) -> list[StepFailed]:
        """Undo the install, running every step even after one fails; return the failures.

        With a ledger: what it recorded, newest first, each cluster's chain beside the others'
        (install/teardown.py ``uninstall_chains``: each ends waiting for its deferred deletions
        to be gone), then a sweep of what controllers made again meanwhile. Without one,
        ``plan.uninstall``; a step still holding a placeholder is skipped there (the install
        refuses such steps, so what it would undo was never made).
        """
        if self.ledger is not None:
            return undo_ledger(self.ledger, self.topology, self.run_all, self._ledger_lock)
        steps = []
        for step in plan.uninstall if plan is not None else ():
            missing = _placeholder_in(step)
            if missing:
                log.info(
                    "uninstall: skipping %s: %s was never learnt, so it was never installed",
                    step.name,
                    missing,
                )
                continue
            steps.append(step)
        return self.run_all(steps)

    def run_all(self, steps: Sequence[Step]) -> list[StepFailed]:
        """Run every step (``uninstall``), even after one fails; return the failures."""
        failures: list[StepFailed] = []
        for step in steps:
            try:
                self.run_step(step, "uninstall")
            except StepFailed as failure:
                failures.append(failure)
            except EnvironmentFault as fault:
                failures.append(StepFailed(step, fault))
        return failures

    def run_step(self, step: Step, step_phase: StepPhase = "install") -> str | None:
        """Execute one step inside an Allure step, timed and reported to the listeners."""
        started_wall = time.time()
        started = time.monotonic()
        outcome: Outcome = "failed"
        error: BaseException | None = None
        recording = self.ledger is not None and step_phase == "install"
        try:
            with phase(f"{step_phase}: [{step.role}] {step.name}"):
                _refuse_placeholders(step)
                cluster = self.topology[step.role]
                self._attach_manifests(step)
                handler = HANDLERS.get(step.action)
                if handler is None:
                    raise PlanError(
                        f"step {step.name!r}: the installer has no method for action {step.action.value!r}"
                    )
                if recording and self.ledger is not None:
                    for role in {*self._roles, step.role}:
                        self._ensure_baseline(role)
                    self.ledger.begin(step)
                try:
                    value = handler(self._context(), step, cluster)
                finally:
                    if recording and self.ledger is not None:
                        self.ledger.end()
            outcome = "passed"
            return value
        except EnvironmentFault as fault:
            outcome, error = "environment-fault", fault
            raise
        except StepFailed as failure:
            error = failure
            raise
        except (CommandError, PlanError, WaitTimeout, KeyError, OSError) as cause:
            error = cause
            raise StepFailed(step, cause) from cause
        finally:
            self._notify(step, step_phase, started_wall, time.monotonic() - started, outcome, error)

    def _ensure_baseline(self, role: Role) -> None:
        """The cluster's listing before this installer's first step on it: what is never undone.
        (An upgrade's installer starts from what release A left: A's ledger undoes that.)"""
        if self.ledger is not None and role not in self.ledger.baseline:
            self.ledger.set_baseline(role, take_snapshot(self.topology[role]).objects)

    def _context(self) -> ActionContext:
        return ActionContext(
            topology=self.topology,
            release=self.release,
            work_dir=self.work_dir,
            istioctl=self.istioctl,
            helm=self.helm,
            samples=self.samples,
            pki=self.pki,
            nodes=self.nodes,
            poll=self.poll,
            facts=self._facts,
            ledger=self.ledger,
            istio_source=self.istio_source,
        )

    # -- reporting ------------------------------------------------------------------------

    def _attach_manifests(self, step: Step) -> None:
        if not step.manifests:
            return
        redactor = self.topology[step.role].runner.redactor
        self._context().register_secrets(step.manifests)
        shown = [redactor.redact_manifest(manifest) for manifest in step.manifests]
        allure.attach(dump(shown), name=f"{step.name} manifests", attachment_type=allure.attachment_type.YAML)

    def _notify(
        self,
        step: Step,
        step_phase: StepPhase,
        started_wall: float,
        duration: float,
        outcome: Outcome,
        error: BaseException | None,
    ) -> None:
        redactor = self.topology.clusters[next(iter(self.topology.clusters))].runner.redactor
        record = StepRecord(
            scenario=self.scenario,
            step=step.name,
            role=step.role,
            action=step.action.value,
            phase=step_phase,
            started_at=started_wall,
            duration_s=duration,
            outcome=outcome,
            error=redactor.redact(str(error)) if error is not None else None,
            seed=step.seed,
        )
        for listener in list(self._listeners):
            try:
                listener(record)
            except Exception:  # a broken report must not break the install, nor be hidden
                log.exception("step listener %r failed on step %s", listener, record.step)


# -- plan checks ------------------------------------------------------------------------------


def side_by_side(steps: Sequence[Step], index: int) -> list[Step]:
    """The steps from ``index`` that may run at the same time: the step itself, and when it is a
    wait, the waits that follow it up to (and with) the first one that provides a fact."""
    group = [steps[index]]
    while (
        group[-1].action is Action.WAIT
        and not group[-1].params.get("provides")
        and index + len(group) < len(steps)
        and steps[index + len(group)].action is Action.WAIT
    ):
        group.append(steps[index + len(group)])
    return group


def _check_prefix_unchanged(done: Sequence[Step], fresh: Sequence[Step], fact: object) -> None:
    """Re-rendering with a new fact must not change the steps already executed."""
    for index, step in enumerate(done):
        if index >= len(fresh) or fresh[index] != step:
            raise PlanError(
                f"re-rendering with fact {fact!r} changed step {index + 1} ({step.name!r}), which "
                "already ran; renderers must only change steps after the one that provides a fact"
            )


def _placeholder_in(step: Step) -> str | None:
    params = dict(step.params)
    if step.action is Action.PUBLISH_HOSTNAME and params.get("remove"):
        params.pop("address", None)  # withdrawing a name does not read the address
    found = _PLACEHOLDER.search(json.dumps([params, list(step.manifests)], default=str))
    return found.group(0) if found else None


def _refuse_placeholders(step: Step) -> None:
    found = _placeholder_in(step)
    if found:
        raise PlanError(
            f"step {step.name!r} still holds the placeholder {found}: the fact it needs was "
            "never provided by an earlier step"
        )
