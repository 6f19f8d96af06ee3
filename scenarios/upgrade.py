"""The in-place upgrade of an installed scenario's external control plane from release A to B.

No upstream test upgrades an external control plane, so the procedure is derived from the
install itself plus Istio's in-place upgrade practice:

- The install steps that own the control plane are idempotent (``istioctl install -f``,
  ``istioctl manifest generate | kubectl apply``, ``kubectl apply`` of Sail ``Istio``
  resources). Re-running them as rendered for release B *is* the in-place upgrade: istio.io's
  in-place upgrade runs ``istioctl upgrade``/``install`` of the same configuration with the new
  istioctl; the Sail Operator's ``InPlace`` strategy (its default) upgrades when an ``Istio``
  resource's ``spec.version`` changes, and re-applying B's resource changes exactly that field
  (and hub/tag for a custom build). The steps are *taken* from ``render(scenario, B, facts)``
  by name, role and action, never re-typed, so they cannot drift from the install.
- Order: the install order of those steps, which puts the remote config cluster's manifests
  (CRDs, webhook configurations, the ``istio`` ConfigMap) before the external istiod, as
  Istio's rule "CRDs before the control plane" wants.
- Nothing that holds state is redone: no namespace, service account, remote secret, PKI
  secret, routing or sample manifest step (they do not depend on the release).
- Then, as both upgrade guides end, the sample workloads are restarted
  (``kubectl rollout restart``) so their new pods get B's proxy, and their rollouts are
  awaited with B's own wait steps. Clients restart last: the background traffic probe runs
  from a client pod, so it covers everything up to the clients' own replacement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from scenarios import sail, sail_support
from scenarios.common import GATEWAY_SERVICE, ISTIO_SYSTEM, SAMPLE_NS, ScenarioUnavailable, step_deadline
from scenarios.facts import Facts
from scenarios.registry import render
from scenarios.releases import IstioRelease
from scenarios.steps import Action, Role, Step

ISTIO_INPLACE_SEED = "istio.io §In-place upgrades (re-install with the new istioctl)"
SAIL_INPLACE_SEED = (
    "Sail Operator docs §Update Strategy, InPlace (change spec.version, then restart workloads)"
)
RESTART_SEED = "istio.io §In-place upgrades / Sail §InPlace: kubectl rollout restart deployment"

ControlPlaneStep = tuple[str, Role, Action | str]


# "remote-profile" in the table: the action the guide revision puts the remote profile on a
# remote with (manifest generate | kubectl apply, or istioctl install).
REMOTE_PROFILE = "remote-profile"
REMOTE_PROFILE_ACTIONS = frozenset({Action.MANIFEST_GENERATE_APPLY, Action.ISTIOCTL_INSTALL})


def _table(text: str) -> tuple[ControlPlaneStep, ...]:
    """Rows of ``<step name> <role> <action>``, one step a line."""
    rows = []
    for line in text.strip().splitlines():
        name, role, action = line.split()
        rows.append((name, cast(Role, role), action if action == REMOTE_PROFILE else Action(action)))
    return tuple(rows)


def _action_fits(action: Action, wanted: Action | str) -> bool:
    return action in REMOTE_PROFILE_ACTIONS if wanted == REMOTE_PROFILE else action == wanted


# The control plane steps of the istioctl scenarios (seeds 001/000/003), in the roles and with
# the actions the renderers give them. "external-gateway-address" re-reads the gateway's
# address: the upgrade must not move it, the remotes are configured with it.
_ISTIOCTL_CONTROL_PLANE = _table(
    """
    external-gateway            external istioctl-install
    external-gateway-address    external wait
    remote-config-cluster       remote   remote-profile
    external-istiod             external istioctl-install
    external-wait-istiod        external wait
    """
)
_SECOND_REMOTE_CONTROL_PLANE = _table("second-remote-cluster second remote-profile")
# Seed 004: the three Istio resources and their Ready waits.
_SAIL_CONTROL_PLANE = _table(
    """
    external-istio-default      external apply
    external-wait-istio-default external wait
    remote-istio                remote   apply
    external-istio              external apply
    external-wait-istio         external wait
    remote-wait-istio           remote   wait
    """
)
_CONTROL_PLANE: dict[str, tuple[ControlPlaneStep, ...]] = {
    "ip-passthrough": _ISTIOCTL_CONTROL_PLANE,
    "dns-tls": _ISTIOCTL_CONTROL_PLANE,
    "second-remote": _ISTIOCTL_CONTROL_PLANE + _SECOND_REMOTE_CONTROL_PLANE,
    "sail": _SAIL_CONTROL_PLANE,
}


@dataclass(frozen=True)
class Restart:
    """``kubectl rollout restart deployment/<deployment> -n <namespace>`` on ``role``, then ``wait``.

    ``wait`` is the release-B step that waits for the Deployment's rollout (Available with
    every replica updated).
    """

    role: Role
    namespace: str
    deployment: str
    seed: str
    wait: Step

    def describe(self) -> str:
        return (
            f"[{self.role}] restart deployment/{self.deployment} -n {self.namespace} (rollout-restart) "
            f"-- seed {self.seed}\n  then: {self.wait.describe()}"
        )


@dataclass(frozen=True)
class UpgradePlan:
    """The upgrade of one scenario from ``from_version`` to ``to_version``, in three phases.

    ``control_plane`` then ``workloads`` run while the traffic probe runs; ``clients`` (the
    probe's own client Deployments) after it stopped.
    """

    scenario: str
    from_version: str
    to_version: str
    control_plane: tuple[Step, ...]
    workloads: tuple[Restart, ...]
    clients: tuple[Restart, ...]

    @property
    def steps(self) -> tuple[Step, ...]:
        """Every Step of the plan (the restarts' waits included), in execution order."""
        return self.control_plane + tuple(r.wait for r in (*self.workloads, *self.clients))

    def describe(self) -> str:
        header = f"# upgrade {self.scenario}: Istio {self.from_version} -> {self.to_version}"
        lines = [header]
        lines += [f"{i:02d}. {step.describe()}" for i, step in enumerate(self.control_plane, 1)]
        offset = len(self.control_plane)
        for i, restart in enumerate((*self.workloads, *self.clients), offset + 1):
            lines.append(f"{i:02d}. {restart.describe()}")
        return "\n".join(lines)


def plan_upgrade(
    scenario_id: str, from_release: IstioRelease, to_release: IstioRelease, facts: Facts
) -> UpgradePlan:
    """The upgrade plan, or ``ScenarioUnavailable`` naming why this pair cannot be upgraded."""
    if not to_release.is_newer_than(from_release):
        raise ScenarioUnavailable(
            f"cannot upgrade {scenario_id} from Istio {from_release.version_text} to {to_release.version_text}: "
            "the target must be newer"
        )
    old_client, new_client = from_release.profile.sample_client, to_release.profile.sample_client
    if old_client != new_client:
        raise ScenarioUnavailable(
            f"cannot upgrade {scenario_id} from {from_release.version} to {to_release.version}: the "
            f"sample client changes from {old_client} to {new_client}; the upgrade restarts the "
            "installed workloads, it does not redeploy them"
        )
    if scenario_id == sail.SCENARIO:
        _require_same_sail_operator(from_release, to_release)
    target = render(scenario_id, to_release, facts).plan
    by_name = {step.name: step for step in target.steps}
    wanted = _CONTROL_PLANE[scenario_id]
    for name, role, action in wanted:
        step = by_name.get(name)
        if step is None or step.role != role or not _action_fits(step.action, action):
            found = f"{step.role}/{step.action.value}" if step else "no such step"
            shown = action.value if isinstance(action, Action) else action
            raise ScenarioUnavailable(
                f"upgrade of {scenario_id}: release {to_release.version}'s plan has no step {name!r} "
                f"[{role}] ({shown}); found {found} (a renderer changed: update scenarios/upgrade.py)"
            )
    names = {name for name, _, _ in wanted}
    control_plane = tuple(
        _reseeded(step, SAIL_INPLACE_SEED if scenario_id == sail.SCENARIO else ISTIO_INPLACE_SEED)
        for step in target.steps
        if step.name in names
    )
    restarts = _sample_restarts(target.steps, new_client)
    workloads = tuple(r for r in restarts if r.deployment != new_client)
    if scenario_id == sail.SCENARIO:
        # Sail's external gateway is gateway-injected (image: auto): only a restart gives it
        # B's proxy. istioctl's external gateway is rolled by its own install step.
        workloads = (_sail_gateway_restart(facts), *workloads)
    clients = tuple(r for r in restarts if r.deployment == new_client)
    return UpgradePlan(
        scenario_id,
        from_release.version_text,
        to_release.version_text,
        control_plane,
        workloads,
        clients,
    )


def render_upgrade(
    scenario_id: str, from_release: IstioRelease, to_release: IstioRelease, facts: Facts
) -> tuple[Step, ...]:
    """The Steps of the upgrade (control plane, then the restarted workloads' rollout waits).

    The restarts themselves are ``Restart`` records of ``plan_upgrade``: the installer has no
    rollout-restart action yet, so fixtures/upgrade_plugin.py carries them out.
    """
    return plan_upgrade(scenario_id, from_release, to_release, facts).steps


def _reseeded(step: Step, upgrade_seed: str) -> Step:
    """The step as B renders it, its seed saying it now serves the upgrade."""
    return Step(
        step.name, step.role, step.action, f"{upgrade_seed}; {step.seed}", step.manifests, step.params
    )


def _sample_restarts(steps: tuple[Step, ...], client: str) -> list[Restart]:
    """One restart per sample Deployment, found through B's own rollout waits in ``sample``."""
    restarts = []
    for step in steps:
        resource = str(step.params.get("resource", ""))
        if step.action != Action.WAIT or step.params.get("namespace") != SAMPLE_NS:
            continue
        if not resource.startswith("deployment/"):
            continue
        deployment = resource.removeprefix("deployment/")
        if deployment.startswith("helloworld-") or deployment == client:
            restarts.append(Restart(step.role, SAMPLE_NS, deployment, RESTART_SEED, step))
    return restarts


def _sail_gateway_restart(facts: Facts) -> Restart:
    wait = Step(
        "external-wait-gateway-rollout",
        "external",
        Action.WAIT,
        f"{SAIL_INPLACE_SEED} (the gateway-injected external gateway)",
        params={
            "resource": f"deployment/{GATEWAY_SERVICE}",
            "namespace": ISTIO_SYSTEM,
            "for": "condition=Available",
            "deadline_s": step_deadline(facts, "rollout"),
        },
    )
    return Restart("external", ISTIO_SYSTEM, GATEWAY_SERVICE, SAIL_INPLACE_SEED, wait)


def _require_same_sail_operator(from_release: IstioRelease, to_release: IstioRelease) -> None:
    reason = sail_support.upgrade_refusal(from_release, to_release)
    if reason is not None:
        raise ScenarioUnavailable(reason)
