"""Carries out a rendered scenario: one method per step ``Action``, every one idempotent.

The renderers (scenarios/) decide *what* happens; this module only executes, through the
clusters' ``kubectl``/``istioctl`` and the one command runner. Rerunning a plan after a
partial failure converges: creates tolerate ``AlreadyExists``, applies are server-side,
Helm uses ``upgrade --install``, deletes ignore what is already gone.

Step parameters are the table ``scenarios.steps.PARAMS`` (required keys, then optional ones);
``deadline_s`` bounds waits and preconditions, ``provides`` names the fact a wait's value is
(scenarios/facts.py): after such a step the plan is re-rendered and the rest of it continues.
``publish-hostname`` and the ``hostname-resolves-and-tls-verifies`` precondition are
install/hostname.py's; publishing needs the kind node containers (``nodes``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal, TypeVar

import allure
import yaml

from clusters.cloud_provider_kind import LoadBalancerProvider
from clusters.cluster import ClusterHandle, Topology
from install.hostname import (
    PROBE_CONTAINER,
    PROBE_START_ALLOWANCE_S,
    HostnameFault,
    HostnamePublisher,
    KindNodes,
    ProbeRequest,
    PublishRefused,
    client_image,
    pod_state,
    probe_fault,
    probe_manifests,
    probe_names,
)
from programs.runner import CommandError, CommandResult, CommandTimeout, phase
from programs.waits import WaitTimeout, wait_until
from scenarios.facts import Facts
from scenarios.pki import PRIVATE_MATERIAL, SuitePki
from scenarios.releases import IstioRelease
from scenarios.steps import Action, Role, ScenarioPlan, Step

DEFAULT_TIMEOUTS_S: dict[Action, float] = {
    Action.ISTIOCTL_INSTALL: 900.0,
    Action.MANIFEST_GENERATE_APPLY: 300.0,
    Action.HELM_INSTALL: 600.0,
    Action.WAIT: 300.0,
    Action.REMOTE_SECRET: 120.0,
    Action.DELETE: 300.0,
    Action.PUBLISH_HOSTNAME: 300.0,
}
DEFAULT_COMMAND_TIMEOUT_S = 120.0
POLL_COMMAND_TIMEOUT_S = 30.0
FIELD_MANAGER = "eicp"
# What scenarios.facts.placeholder() leaves for a fact not known yet: never act on one.
_PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*[A-Z0-9]>")

# kubectl/API answers that mean "try again shortly", not "this is broken".
_TRANSIENT = re.compile(
    r"connection refused|i/o timeout|TLS handshake timeout|connection reset by peer|"
    r"the server is currently unable to handle the request|etcdserver: leader changed|"
    r"http2: client connection lost|context deadline exceeded|EOF$",
    re.IGNORECASE | re.MULTILINE,
)
_NOT_FOUND = re.compile(r"\(NotFound\)|not found", re.IGNORECASE)
_ALREADY_EXISTS = re.compile(r"\(AlreadyExists\)|already exists", re.IGNORECASE)
# A kind whose CRD is already gone has nothing left to delete.
_KIND_GONE = re.compile(
    r"no matches for kind|resource mapping not found|the server doesn't have a resource type"
)

Outcome = Literal["passed", "failed", "environment-fault"]
StepPhase = Literal["install", "uninstall"]
T = TypeVar("T")
log = logging.getLogger("eicp.installer")


class EnvironmentFault(RuntimeError):
    """The environment, not Istio, is at fault: a precondition failed or no LoadBalancer address came.

    Reports file these apart from product failures (DESIGN §7, categories.json).
    """


class StepFailed(RuntimeError):
    """A step failed; the message names the step, its role, action and seed, and the cause."""

    def __init__(self, step: Step, cause: BaseException) -> None:
        self.step = step
        self.cause = cause
        super().__init__(
            f"step {step.name!r} [{step.role}] ({step.action.value}, seed {step.seed}) failed: {cause}"
        )


class PlanError(ValueError):
    """A step lacks a parameter or holds a value the installer cannot act on (a renderer bug)."""


@dataclass(frozen=True)
class PollSettings:
    """Backoff between polls: exponential from ``min_s`` to ``max_s``."""

    min_s: float = 1.0
    max_s: float = 10.0


def poll_until(
    what: str,
    observe: Callable[[], tuple[bool, str, T]],
    timeout_s: float,
    poll: PollSettings | None = None,
) -> T:
    """Call ``observe`` with backoff (programs.waits) until it reports done; return its value.

    ``observe`` returns ``(done, state shown on timeout, value)``. An exception from it stops
    the wait at once: observations, not errors, decide to go on polling.
    """
    settings = poll or PollSettings()
    _done, _state, value = wait_until(
        what,
        observe,
        timeout_s,
        until=lambda seen: seen[0],
        show=lambda seen: seen[1],
        initial_delay_s=settings.min_s,
        max_delay_s=settings.max_s,
    )
    return value


def is_transient(error: CommandError) -> bool:
    return bool(_TRANSIENT.search(error.stderr or error.stderr_tail))


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
    poll: PollSettings = field(default_factory=PollSettings)
    _listeners: list[StepListener] = field(default_factory=list)
    _facts: Facts = field(default_factory=Facts)

    def add_listener(self, listener: StepListener) -> None:
        self._listeners.append(listener)

    # -- plans -------------------------------------------------------------------------

    def install(self, plan: ScenarioPlan, facts: Facts, rerender: Renderer) -> InstallResult:
        """Run ``plan.steps`` in order; after a step that ``provides`` a fact, re-render and go on."""
        self._facts = facts
        if self.load_balancers is not None:
            # Gateways get LoadBalancer Services: their provider must run before the first one.
            self.load_balancers.ensure_started()
        steps = list(plan.steps)
        index = 0
        while index < len(steps):
            step = steps[index]
            value = self.run_step(step, "install")
            fact = step.params.get("provides")
            if fact:
                if not value:
                    raise StepFailed(step, PlanError(f"step provides {fact!r} but found no value"))
                self._facts = self._facts.with_fact(str(fact), value)
                plan = rerender(self._facts)
                _check_prefix_unchanged(steps[: index + 1], plan.steps, fact)
                steps = list(plan.steps)
            index += 1
        return InstallResult(plan=plan, facts=self._facts)

    @property
    def facts(self) -> Facts:
        """What the last ``install`` knew and learnt (also after it failed half-way)."""
        return self._facts

    def uninstall(self, plan: ScenarioPlan) -> list[StepFailed]:
        """Run every uninstall step, even after one fails; return the failures.

        A step still holding a placeholder is skipped: the install refuses such steps, so what
        it would undo was never made (a fact was never learnt); the caller's snapshot
        comparison still proves nothing was left behind.
        """
        failures: list[StepFailed] = []
        for step in plan.uninstall:
            missing = _placeholder_in(step)
            if missing:
                log.info(
                    "uninstall: skipping %s: %s was never learnt, so it was never installed",
                    step.name,
                    missing,
                )
                continue
            try:
                self.run_step(step, "uninstall")
            except StepFailed as failure:
                failures.append(failure)
        return failures

    def run_step(self, step: Step, step_phase: StepPhase = "install") -> str | None:
        """Execute one step inside an Allure step, timed and reported to the listeners."""
        started_wall = time.time()
        started = time.monotonic()
        outcome: Outcome = "failed"
        error: BaseException | None = None
        try:
            with phase(f"{step_phase}: [{step.role}] {step.name}"):
                _refuse_placeholders(step)
                cluster = self.topology[step.role]
                self._attach_manifests(step)
                value = self._dispatch(step, cluster)
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

    def _dispatch(self, step: Step, cluster: ClusterHandle) -> str | None:
        handlers: dict[Action, Callable[[Step, ClusterHandle], str | None]] = {
            Action.CREATE_NAMESPACE: self.create_namespace,
            Action.LABEL_NAMESPACE: self.label_namespace,
            Action.ANNOTATE_NAMESPACE: self.annotate_namespace,
            Action.APPLY: self.apply,
            Action.ISTIOCTL_INSTALL: self.istioctl_install,
            Action.MANIFEST_GENERATE_APPLY: self.manifest_generate_apply,
            Action.MANIFEST_GENERATE_DELETE: self.manifest_generate_delete,
            Action.CREATE_SERVICE_ACCOUNT: self.create_service_account,
            Action.CREATE_SECRET: self.create_secret,
            Action.REMOTE_SECRET: self.remote_secret,
            Action.HELM_INSTALL: self.helm_install,
            Action.HELM_UNINSTALL: self.helm_uninstall,
            Action.APPLY_SAMPLE: self.apply_sample,
            Action.INSTALL_GATEWAY_API_CRDS: self.install_gateway_api_crds,
            Action.WAIT: self.wait,
            Action.PRECONDITION: self.precondition,
            Action.PUBLISH_HOSTNAME: self.publish_hostname,
            Action.DELETE: self.delete,
        }
        handler = handlers.get(step.action)
        if handler is None:
            raise PlanError(
                f"step {step.name!r}: the installer has no method for action {step.action.value!r}"
            )
        return handler(step, cluster)

    # -- namespaces and service accounts ------------------------------------------------

    def create_namespace(self, step: Step, cluster: ClusterHandle) -> str | None:
        namespace = _param(step, "namespace", str)
        self._create(step, cluster, "namespace", namespace)
        return None

    def label_namespace(self, step: Step, cluster: ClusterHandle) -> str | None:
        self._set_metadata(step, cluster, "label", "labels")
        return None

    def annotate_namespace(self, step: Step, cluster: ClusterHandle) -> str | None:
        self._set_metadata(step, cluster, "annotate", "annotations")
        return None

    def create_service_account(self, step: Step, cluster: ClusterHandle) -> str | None:
        namespace = _param(step, "namespace", str)
        self._create(step, cluster, "serviceaccount", _param(step, "name", str), "-n", namespace)
        return None

    def _create(self, step: Step, cluster: ClusterHandle, kind: str, name: str, *extra: str) -> None:
        try:
            cluster.kubectl("create", kind, name, *extra, timeout_s=self._timeout(step))
        except CommandError as error:
            if not _ALREADY_EXISTS.search(error.stderr):
                raise
            # A rerun after a partial failure: the object is there, which is the goal.

    def _set_metadata(self, step: Step, cluster: ClusterHandle, verb: str, key: str) -> None:
        namespace = _param(step, "namespace", str)
        pairs = _param(step, key, dict)
        if not pairs:
            raise PlanError(f"step {step.name!r}: {key} is empty")
        cluster.kubectl(
            verb,
            "namespace",
            namespace,
            *(f"{name}={value}" for name, value in pairs.items()),
            "--overwrite",
            timeout_s=self._timeout(step),
        )

    # -- applying manifests ---------------------------------------------------------------

    def apply(self, step: Step, cluster: ClusterHandle) -> str | None:
        if not step.manifests:
            raise PlanError(f"step {step.name!r} applies nothing: it has no manifests")
        self._register_secrets(step.manifests)
        extra = ["-n", str(step.params["namespace"])] if step.params.get("namespace") else []
        self._server_side_apply(cluster, _dump(step.manifests), self._timeout(step), *extra)
        return None

    def _server_side_apply(
        self, cluster: ClusterHandle, documents: str, timeout_s: float, *extra: str
    ) -> CommandResult:
        return cluster.kubectl(
            "apply",
            "--server-side",
            f"--field-manager={FIELD_MANAGER}",
            "--force-conflicts",
            *extra,
            "-f",
            "-",
            stdin=documents,
            timeout_s=timeout_s,
        )

    def istioctl_install(self, step: Step, cluster: ClusterHandle) -> str | None:
        iop = self._iop_file(step)
        cluster.istioctl(
            self.istioctl,
            "install",
            "-y",
            "-f",
            str(iop),
            *self._set_flags(step),
            timeout_s=self._timeout(step),
            title=f"[{cluster.role}] istioctl install -f {iop.name}",
        )
        return None

    def manifest_generate_apply(self, step: Step, cluster: ClusterHandle) -> str | None:
        generated = self._manifest_generate(step, cluster)
        self._server_side_apply(cluster, generated, self._timeout(step))
        return None

    def manifest_generate_delete(self, step: Step, cluster: ClusterHandle) -> str | None:
        generated = self._manifest_generate(step, cluster)
        self._tolerant_delete(cluster, self._timeout(step), "-f", "-", stdin=generated)
        return None

    def _manifest_generate(self, step: Step, cluster: ClusterHandle) -> str:
        iop = self._iop_file(step)
        result = cluster.istioctl(
            self.istioctl,
            "manifest",
            "generate",
            "-f",
            str(iop),
            *self._set_flags(step),
            timeout_s=self._timeout(step),
            title=f"[{cluster.role}] istioctl manifest generate -f {iop.name}",
        )
        if not result.stdout.strip():
            raise PlanError(f"step {step.name!r}: istioctl manifest generate printed nothing")
        return result.stdout

    def _iop_file(self, step: Step) -> Path:
        """The step's IstioOperator, written where istioctl reads it: ``<work dir>/<role>/<file>``."""
        name = _param(step, "file", str)
        if "/" in name or name.startswith("."):
            raise PlanError(f"step {step.name!r}: file {name!r} must be a plain file name")
        if len(step.manifests) != 1:
            raise PlanError(
                f"step {step.name!r} needs exactly one IstioOperator manifest, has {len(step.manifests)}"
            )
        directory = self.work_dir / step.role
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / name
        path.write_text(_dump(step.manifests), encoding="utf-8")
        path.chmod(0o600)
        return path

    def _set_flags(self, step: Step) -> list[str]:
        flags: list[str] = []
        for item in step.params.get("set") or ():
            if "=" not in str(item):
                raise PlanError(f"step {step.name!r}: --set {item!r} is not key=value")
            flags += ["--set", str(item)]
        return flags

    # -- secrets ---------------------------------------------------------------------------

    def create_secret(self, step: Step, cluster: ClusterHandle) -> str | None:
        """A Secret whose data is PKI material (``data_from_pki``: data key -> material name)."""
        if self.pki is None:
            raise PlanError(f"step {step.name!r} needs the run's PKI, but the installer was given none")
        layout = _param(step, "data_from_pki", dict)
        suite_pki = self.pki()
        redactor = cluster.runner.redactor
        for text in suite_pki.private_texts():
            redactor.register(text)
        data = {key: base64.b64encode(value).decode() for key, value in suite_pki.secret_data(layout).items()}
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": _param(step, "name", str), "namespace": _param(step, "namespace", str)},
            "type": _param(step, "type", str),
            "data": data,
        }
        self._server_side_apply(cluster, _dump([secret]), self._timeout(step))
        return None

    # -- remote secrets -----------------------------------------------------------------

    def remote_secret(self, step: Step, cluster: ClusterHandle) -> str | None:
        """istioctl create-remote-secret with ``source_role``'s credentials, applied on ``target_role``."""
        source_role, target_role = _secret_roles(step)
        source, target = self.topology[source_role], self.topology[target_role]
        params = step.params
        command = [str(part) for part in _param(step, "command", list)]
        argv = [str(self.istioctl), *command]
        for flag, key in (
            ("--name", "name"),
            ("--type", "type"),
            ("--namespace", "namespace"),
            ("--service-account", "service_account"),
        ):
            if params.get(key):
                argv.append(f"{flag}={params[key]}")
        create_sa = bool(_param(step, "create_service_account", bool))
        server = str(params.get("server") or source.internal_api_server)
        argv += [f"--create-service-account={str(create_sa).lower()}", f"--server={server}"]
        # attach=False: the output holds a service-account token. The runner's shape patterns
        # redact its ``token:`` line for listeners; registering the value right after makes
        # every later mention (apply errors, reports) redacted too.
        result = source.runner.run(
            [*argv, *source.kube_args()],
            timeout_s=self._timeout(step),
            title=f"[{source_role}] istioctl {' '.join(command)} --name={params.get('name', '')}",
            attach=False,
        )
        names = _register_remote_secret(result.stdout, source.runner.redactor)
        expected = _param(step, "secret_name", str)
        if names != [expected]:
            raise PlanError(
                f"step {step.name!r}: create-remote-secret printed Secret(s) {names}, expected [{expected!r}]"
            )
        self._server_side_apply(target, result.stdout, self._timeout(step))
        return None

    # -- helm and samples ------------------------------------------------------------------

    def helm_install(self, step: Step, cluster: ClusterHandle) -> str | None:
        params = step.params
        argv = [
            str(self._helm(step)),
            "upgrade",
            "--install",
            _param(step, "release", str),
            _param(step, "chart", str),
            "--repo",
            _param(step, "repo", str),
            "--version",
            _param(step, "version", str),
            "--namespace",
            _param(step, "namespace", str),
            *self._helm_kube_args(cluster),
            "--wait",
            "--timeout",
            f"{int(self._timeout(step))}s",
        ]
        if params.get("create_namespace", True):
            argv.append("--create-namespace")
        if params.get("values"):
            values = self.work_dir / step.role / f"{_slug(step.name)}-values.yaml"
            values.parent.mkdir(parents=True, exist_ok=True)
            values.write_text(yaml.safe_dump(params["values"], sort_keys=False), encoding="utf-8")
            values.chmod(0o600)
            argv += ["--values", str(values)]
        cluster.runner.run(
            argv,
            timeout_s=self._timeout(step) + 60,
            title=f"[{cluster.role}] helm upgrade --install {params['release']}",
        )
        return None

    def helm_uninstall(self, step: Step, cluster: ClusterHandle) -> str | None:
        release = _param(step, "release", str)
        cluster.runner.run(
            [
                str(self._helm(step)),
                "uninstall",
                release,
                "--namespace",
                _param(step, "namespace", str),
                *self._helm_kube_args(cluster),
                "--ignore-not-found",
                "--wait",
                "--timeout",
                f"{int(self._timeout(step))}s",
            ],
            timeout_s=self._timeout(step) + 60,
            title=f"[{cluster.role}] helm uninstall {release}",
        )
        return None

    def _helm(self, step: Step) -> Path:
        if self.helm is None:
            raise PlanError(f"step {step.name!r} needs helm, but the installer was given none")
        return self.helm()

    @staticmethod
    def _helm_kube_args(cluster: ClusterHandle) -> list[str]:
        return ["--kubeconfig", str(cluster.kubeconfig), "--kube-context", cluster.context]

    def apply_sample(self, step: Step, cluster: ClusterHandle) -> str | None:
        path = self._sample_path(step)
        args = ["apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "--force-conflicts"]
        args += ["-f", str(path), "-n", _param(step, "namespace", str)]
        if step.params.get("selector"):
            args += ["-l", str(step.params["selector"])]
        cluster.kubectl(
            *args,
            timeout_s=self._timeout(step),
            title=f"[{cluster.role}] kubectl apply -f {step.params['path']}",
        )
        return None

    def _sample_path(self, step: Step) -> Path:
        """``path`` is ``samples/...`` inside the release archive of the version under test."""
        if self.samples is None:
            raise PlanError(f"step {step.name!r} needs the release's samples/, but none were given")
        relative = _param(step, "path", str)
        pure = PurePosixPath(relative)
        if pure.is_absolute() or ".." in pure.parts or pure.parts[:1] != ("samples",):
            raise PlanError(f"step {step.name!r}: sample path {relative!r} must be samples/<file>")
        root = self.samples()
        path = root.joinpath(*pure.parts[1:])
        if not path.is_file():
            raise PlanError(f"step {step.name!r}: {relative} is not in the release's samples ({root})")
        return path

    def install_gateway_api_crds(self, step: Step, cluster: ClusterHandle) -> str | None:
        """Seed 001: ``kubectl get crd ... || kubectl kustomize <source> | kubectl apply -f -``."""
        probe = _param(step, "skip_if_present", str)
        try:
            cluster.kubectl("get", probe, "-o", "name", timeout_s=POLL_COMMAND_TIMEOUT_S)
            return None  # present (installed by someone else or an earlier run): leave them be
        except CommandError as error:
            if not _NOT_FOUND.search(error.stderr):
                raise
        rendered = cluster.kubectl(
            "kustomize",
            _param(step, "source", str),
            timeout_s=self._timeout(step),
            title=f"[{cluster.role}] kubectl kustomize Gateway API CRDs {step.params['version']}",
        )
        self._server_side_apply(cluster, rendered.stdout, self._timeout(step))
        return None

    # -- waits ----------------------------------------------------------------------------

    def wait(self, step: Step, cluster: ClusterHandle) -> str | None:
        """Poll ``resource`` until ``for`` holds (``condition=X`` or ``load-balancer-address``)."""
        resource, wanted = _param(step, "resource", str), _param(step, "for", str)
        if "/" not in resource:
            raise PlanError(f"step {step.name!r}: resource {resource!r} is not TYPE/NAME")
        extra = ["-n", str(step.params["namespace"])] if step.params.get("namespace") else []
        what = f"[{cluster.role}] {resource} {wanted}"
        if wanted == "load-balancer-address":
            try:
                return poll_until(
                    what, self._observe_address(cluster, resource, extra), self._timeout(step), self.poll
                )
            except WaitTimeout as timeout:
                # No address means nothing serves LoadBalancer Services (cloud-provider-kind
                # down, a cloud quota): the environment's fault, not Istio's.
                raise EnvironmentFault(
                    f"{timeout}. No LoadBalancer address was assigned: is cloud-provider-kind (kind "
                    "mode) or the cloud's load balancer controller running?"
                ) from None
        kind, _, condition = wanted.partition("=")
        if kind != "condition" or not condition:
            raise PlanError(
                f"step {step.name!r}: wait for {wanted!r} is unknown; "
                "use condition=<Type> or load-balancer-address"
            )
        poll_until(
            what, self._observe_condition(cluster, resource, extra, condition), self._timeout(step), self.poll
        )
        return None

    def _get_json(self, cluster: ClusterHandle, *args: str) -> tuple[dict[str, Any] | None, str]:
        """``kubectl get ... -o json``; (None, why) while it is absent or the API blinks."""
        try:
            result = cluster.kubectl("get", *args, "-o", "json", timeout_s=POLL_COMMAND_TIMEOUT_S)
        except CommandError as error:
            stderr = error.stderr.strip() or error.stderr_tail
            if _NOT_FOUND.search(stderr) or _KIND_GONE.search(stderr):
                return None, f"{' '.join(args)}: not there yet ({stderr})"
            if isinstance(error, CommandTimeout) or is_transient(error):
                return None, f"API not answering: {stderr}"
            raise
        return json.loads(result.stdout), ""

    def _observe_address(
        self, cluster: ClusterHandle, resource: str, extra: list[str]
    ) -> Callable[[], tuple[bool, str, str | None]]:
        def observe() -> tuple[bool, str, str | None]:
            obj, why = self._get_json(cluster, resource, *extra)
            if obj is None:
                return False, why, None
            ingress = obj.get("status", {}).get("loadBalancer", {}).get("ingress") or []
            address = next((entry.get("ip") or entry.get("hostname") for entry in ingress if entry), None)
            state = f"{resource} type={obj.get('spec', {}).get('type')} ingress={ingress}"
            return address is not None, state, address

        return observe

    def _observe_condition(
        self, cluster: ClusterHandle, resource: str, extra: list[str], condition: str
    ) -> Callable[[], tuple[bool, str, None]]:
        rollout = resource.startswith(("deployment/", "deployments/", "deployment.apps/"))

        def observe() -> tuple[bool, str, None]:
            obj, why = self._get_json(cluster, resource, *extra)
            if obj is None:
                return False, why, None
            found = next(
                (c for c in obj.get("status", {}).get("conditions") or [] if c.get("type") == condition), None
            )
            done = found is not None and found.get("status") == "True"
            state = (
                f"{resource}: {condition}={found.get('status')} "
                f"({found.get('reason', '')}: {found.get('message', '')})"
                if found
                else f"{resource}: no {condition} condition yet"
            )
            stale = _stale_status(obj, found)
            if stale:
                # A Ready from before the last spec change (e.g. Sail's Istio after spec.version
                # changed) describes the old spec: not done until the controller saw the new one.
                done = False
                state += f"; {stale}"
            if rollout:
                # Available can be True from the old pods: also wait for the rollout to finish.
                status, wanted = obj.get("status", {}), obj.get("spec", {}).get("replicas", 1)
                current = status.get("observedGeneration", 0) >= obj.get("metadata", {}).get("generation", 0)
                updated = status.get("updatedReplicas", 0) == wanted == status.get("availableReplicas", 0)
                done = done and current and updated
                state += (
                    f"; replicas={wanted} updated={status.get('updatedReplicas', 0)} "
                    f"available={status.get('availableReplicas', 0)}"
                )
            return done, state, None

        return observe

    # -- the gateway hostname (dns-tls) -------------------------------------------------------

    def publish_hostname(self, step: Step, cluster: ClusterHandle) -> str | None:
        """Make ``hostname`` resolve to ``address`` for the cluster's pods and API server, or
        (``remove``) take exactly that back; see install/hostname.py."""
        hostname, scopes = _param(step, "hostname", str), _param(step, "scopes", list)
        nodes = self.nodes if self.topology.mode == "kind" else None
        remove = bool(step.params.get("remove"))
        if nodes is None and not remove:
            why = (
                "the installer was given no access to the kind node containers (no kind binary)"
                if self.topology.mode == "kind"
                else f"the suite publishes its own test name only in kind clusters ({self.topology.mode} mode)"
            )
            raise PlanError(
                f"step {step.name!r}: cannot publish {hostname} in {cluster.name}: {why}. The remote API "
                "server resolves webhook URLs through its node, which only kind lets the suite reach; "
                "pass --external-hostname with a name real DNS resolves to the external gateway "
                f"({step.params.get('address')})"
            )
        publisher = HostnamePublisher(cluster, nodes, self._timeout(step))
        try:
            if remove:
                publisher.withdraw(hostname, scopes)
            else:
                publisher.publish(hostname, _param(step, "address", str), scopes)
        except PublishRefused as refused:
            raise PlanError(f"step {step.name!r}: {refused}") from None
        except HostnameFault as fault:
            raise EnvironmentFault(f"step {step.name!r}: {fault}") from None
        return None

    def precondition(self, step: Step, cluster: ClusterHandle) -> str | None:
        check = _param(step, "check", str)
        if check != "hostname-resolves-and-tls-verifies":
            raise PlanError(
                f"step {step.name!r}: unknown precondition {check!r}; known: hostname-resolves-and-tls-verifies"
            )
        request = self._probe_request(step)
        if self.nodes is not None and self.topology.mode == "kind":
            self._check_node_resolution(step, cluster, request)
        self._probe_from_pod(step, cluster, request)
        return None

    def _probe_request(self, step: Step) -> ProbeRequest:
        hostname = _param(step, "hostname", str)
        ports = tuple(int(port) for port in _param(step, "ports", list))
        if not ports or not all(0 < port < 65536 for port in ports):
            raise PlanError(f"step {step.name!r}: ports {list(ports)} must be TCP ports")
        ca = _param(step, "ca", str)
        ca_pem: bytes | None = None
        if ca == "system":
            description = "the probe image's system roots (a publicly trusted CA)"
        elif ca.startswith("pki:"):
            material = ca.removeprefix("pki:")
            if material in PRIVATE_MATERIAL:
                raise PlanError(f"step {step.name!r}: ca {ca!r} names a private key; name a certificate")
            if self.pki is None:
                raise PlanError(f"step {step.name!r} needs the run's PKI for ca {ca!r}, but none was given")
            ca_pem = self.pki().material(material)
            description = f"the mesh root CA of this run's PKI ({material})"
        else:
            raise PlanError(f"step {step.name!r}: ca {ca!r} is unknown; use 'system' or 'pki:<certificate>'")
        address = self._facts.external_istiod_addr
        return ProbeRequest(
            hostname=hostname,
            ports=ports,
            namespace=_param(step, "namespace", str),
            image=self._client_image(step),
            ca_pem=ca_pem,
            ca_description=description,
            expected_address=address,
            published=self._facts.external_hostname != hostname,
            deadline_s=self._timeout(step),
        )

    def _client_image(self, step: Step) -> str:
        """The release's own client sample image (samples/<client>/<client>.yaml), which has curl."""
        client = self.release.profile.sample_client
        if self.samples is None:
            raise PlanError(f"step {step.name!r} needs the release's samples/ for the {client} image")
        path = self.samples() / client / f"{client}.yaml"
        image = client_image(path.read_text(encoding="utf-8"), client) if path.is_file() else None
        if image is None:
            raise PlanError(f"step {step.name!r}: no {client} Deployment with an image in {path}")
        return image

    def _check_node_resolution(self, step: Step, cluster: ClusterHandle, request: ProbeRequest) -> None:
        """What the API server resolves (webhook calls): the node containers' resolver."""
        assert self.nodes is not None
        nodes, hostname, expected = self.nodes, request.hostname, request.expected_address

        def observe() -> tuple[bool, str, None]:
            problems = []
            for node in nodes.names(cluster.name):
                address, answer = nodes.resolve(node, hostname)
                if address is None:
                    problems.append(f"{node}: does not resolve ({answer})")
                elif request.published and expected and address != expected:
                    problems.append(f"{node}: resolves to {address}, not {expected}")
            return not problems, "; ".join(problems) or "every node resolves it", None

        try:
            poll_until(
                f"{hostname} to resolve on the nodes of {cluster.name}",
                observe,
                request.deadline_s,
                self.poll,
            )
        except WaitTimeout as timeout:
            fix = (
                "the suite writes a marked line into each node's /etc/hosts and the API server's copy of "
                "it when it publishes the name: did the publish step run?"
                if request.published
                else f"the nodes' DNS must resolve it to {expected or 'the external gateway'}"
            )
            raise EnvironmentFault(
                f"step {step.name!r}: the remote API server's nodes cannot resolve {hostname}, so its webhook "
                f"calls to https://{hostname}:15017 fail: {timeout.last_state}; {fix}"
            ) from None

    def _probe_from_pod(self, step: Step, cluster: ClusterHandle, request: ProbeRequest) -> None:
        """A short-lived pod resolves the name and verifies TLS on every port; always deleted."""
        suffix = secrets.token_hex(4)
        pod, configmap = probe_names(suffix)
        namespace = request.namespace
        where = f"pod {namespace}/{pod} in {cluster.name} ({request.image})"
        try:
            cluster.kubectl(
                "create", "-f", "-", stdin=_dump(probe_manifests(request, suffix)),
                timeout_s=POLL_COMMAND_TIMEOUT_S,
                title=f"[{cluster.role}] probe {request.hostname} from pod {namespace}/{pod}",
            )  # fmt: skip

            def observe() -> tuple[bool, str, tuple[bool, str, int | None] | None]:
                obj, why = self._get_json(cluster, f"pod/{pod}", "-n", namespace)
                if obj is None:
                    return False, why, None
                state = pod_state(obj)
                return state[0], state[1], state

            try:
                finished = poll_until(
                    f"probe pod {namespace}/{pod} to finish",
                    observe,
                    request.deadline_s + PROBE_START_ALLOWANCE_S,
                    self.poll,
                )
            except WaitTimeout as timeout:
                raise EnvironmentFault(
                    f"step {step.name!r}: the probe {where} did not finish: {timeout.last_state}; can the "
                    "cluster pull and run that image?"
                ) from None
            exit_code = finished[2] if finished is not None and finished[2] is not None else -1
            logs = cluster.kubectl(
                "logs", f"pod/{pod}", "-n", namespace, "-c", PROBE_CONTAINER,
                timeout_s=POLL_COMMAND_TIMEOUT_S, check=False,
            ).stdout  # fmt: skip
            fault = probe_fault(request, exit_code, logs, where)
            if fault is not None:
                raise EnvironmentFault(f"step {step.name!r}: {fault}")
        finally:
            with contextlib.suppress(CommandError):
                cluster.kubectl(
                    "delete", "--ignore-not-found", "--wait=false", "-n", namespace,
                    f"pod/{pod}", f"configmap/{configmap}",
                    timeout_s=POLL_COMMAND_TIMEOUT_S,
                )  # fmt: skip

    # -- deletes ------------------------------------------------------------------------------

    def delete(self, step: Step, cluster: ClusterHandle) -> str | None:
        """Delete the step's manifests, or ``resource`` (TYPE/NAME, in ``namespace``?)."""
        timeout = self._timeout(step)
        if step.manifests:
            self._tolerant_delete(cluster, timeout, "-f", "-", stdin=_dump(step.manifests))
        elif step.params.get("resource"):
            extra = ["-n", str(step.params["namespace"])] if step.params.get("namespace") else []
            self._tolerant_delete(cluster, timeout, str(step.params["resource"]), *extra)
        else:
            raise PlanError(f"step {step.name!r} deletes nothing: no manifests and no resource")
        return None

    def _tolerant_delete(
        self, cluster: ClusterHandle, timeout_s: float, *args: str, stdin: str | None = None
    ) -> None:
        try:
            cluster.kubectl(
                "delete",
                "--ignore-not-found",
                "--wait=true",
                f"--timeout={int(timeout_s)}s",
                *args,
                stdin=stdin,
                timeout_s=timeout_s + 30,
            )
        except CommandError as error:
            lines = [line for line in error.stderr.splitlines() if line.strip()]
            if not lines or not all(_KIND_GONE.search(line) or _NOT_FOUND.search(line) for line in lines):
                raise
            # What remains to delete has no type any more (its CRD went first): already gone.

    # -- helpers --------------------------------------------------------------------------------

    def _timeout(self, step: Step) -> float:
        if "deadline_s" in step.params:
            return float(step.params["deadline_s"])
        return DEFAULT_TIMEOUTS_S.get(step.action, DEFAULT_COMMAND_TIMEOUT_S)

    def _register_secrets(self, manifests: Sequence[dict[str, Any]]) -> None:
        """Secret payloads in a step's manifests (e.g. the PKI's keys) become redacted values."""
        redactor = self.topology.clusters[next(iter(self.topology.clusters))].runner.redactor
        for manifest in manifests:
            if manifest.get("kind") != "Secret":
                continue
            for value in (manifest.get("stringData") or {}).values():
                redactor.register(str(value))
            for value in (manifest.get("data") or {}).values():
                with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                    redactor.register(base64.b64decode(str(value), validate=True).decode())
                redactor.register(str(value))

    def _attach_manifests(self, step: Step) -> None:
        if not step.manifests:
            return
        redactor = self.topology[step.role].runner.redactor
        self._register_secrets(step.manifests)
        shown = [redactor.redact_manifest(manifest) for manifest in step.manifests]
        allure.attach(
            _dump(shown), name=f"{step.name} manifests", attachment_type=allure.attachment_type.YAML
        )

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
        )
        for listener in list(self._listeners):
            with contextlib.suppress(Exception):  # a broken report must not break the install
                listener(record)


# -- module helpers ---------------------------------------------------------------------------


def _param(step: Step, key: str, kind: type[T]) -> T:
    if key not in step.params:
        raise PlanError(
            f"step {step.name!r} ({step.action.value}) lacks parameter {key!r}; it has: "
            f"{', '.join(step.params) or 'none'}"
        )
    value = step.params[key]
    if not isinstance(value, kind):
        raise PlanError(f"step {step.name!r}: parameter {key!r} should be a {kind.__name__}, got {value!r}")
    return value


def _secret_roles(step: Step) -> tuple[Role, Role]:
    """(source, target) of a remote-secret step; the step itself runs on the target."""
    source, target = _param(step, "source_role", str), _param(step, "target_role", str)
    if source == target:
        raise PlanError(f"step {step.name!r}: remote secret source and target are both {source!r}")
    if target != step.role:
        raise PlanError(
            f"step {step.name!r}: target_role {target!r} differs from the step's role {step.role!r}"
        )
    return source, target  # type: ignore[return-value]


def _register_remote_secret(output: str, redactor: Any) -> list[str]:
    """Register every credential in create-remote-secret's output; return the Secrets' names."""
    names: list[str] = []
    for document in yaml.safe_load_all(output):
        if not isinstance(document, dict) or document.get("kind") != "Secret":
            continue
        names.append(str(document.get("metadata", {}).get("name")))
        for kubeconfig in (document.get("stringData") or {}).values():
            redactor.register(str(kubeconfig))  # long values: lines of 32+ chars count too
            with contextlib.suppress(yaml.YAMLError, AttributeError):
                parsed = yaml.safe_load(str(kubeconfig))
                for user in (parsed or {}).get("users") or []:
                    for key in ("token", "client-key-data", "password"):
                        secret = (user.get("user") or {}).get(key)
                        if secret:
                            redactor.register(str(secret))
    return names


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


def _stale_status(obj: dict[str, Any], condition: dict[str, Any] | None) -> str:
    """Why the object's status describes an older spec ("" when it is current or cannot tell)."""
    generation = (obj.get("metadata") or {}).get("generation")
    if not isinstance(generation, int):
        return ""
    observed = (obj.get("status") or {}).get("observedGeneration")
    if isinstance(observed, int) and observed < generation:
        return f"status.observedGeneration {observed} < metadata.generation {generation}"
    observed = (condition or {}).get("observedGeneration")
    if isinstance(observed, int) and observed < generation:
        return f"the condition's observedGeneration {observed} < metadata.generation {generation}"
    return ""


def _condition(obj: dict[str, Any], name: str) -> str | None:
    for condition in obj.get("status", {}).get("conditions") or []:
        if condition.get("type") == name:
            status = condition.get("status")
            return str(status) if status is not None else None
    return None


def _dump(manifests: Sequence[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(list(manifests), sort_keys=False)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "step"
