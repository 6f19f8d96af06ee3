"""Every rendered scenario through the installer: the step sequence, and convergence of a rerun
after a failure at any command.

Two layers: fake executables (tests/fakeexec.py) run one full install+uninstall per scenario;
an in-process simulation of the clusters (``SimulatedRunner``: AlreadyExists on a second
create, NotFound for what is absent) makes it cheap to fail *every* command in turn.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from clusters.cluster import ClusterHandle, Topology
from clusters.providers import provider_spec
from install.installer import Installer, StepFailed
from programs.redaction import Redactor
from programs.runner import CommandError, CommandResult, CommandRunner
from scenarios import pki
from scenarios.facts import Facts
from scenarios.registry import SCENARIO_IDS
from scenarios.releases import IstioRelease, load_pins
from scenarios.steps import Action, Role, ScenarioPlan
from tests.fakeexec import FakeTools
from tests.installer_support import (
    API_SERVERS,
    CONTEXTS,
    FAST,
    cluster_fakes,
    finish_fakes,
    make_topology,
)

registry = pytest.importorskip("scenarios.registry")
ROLES: tuple[Role, ...] = ("external", "remote", "second")
# Publishing the suite's own name needs kind node containers: tests/test_installer_hostname.py.
NOT_IMPLEMENTED = {Action.PUBLISH_HOSTNAME}
NOT_IMPLEMENTED_CHECKS: set[str] = set()


HOSTNAME = "istiod.example.test"
PKI = pki.generate(HOSTNAME, run_label="selftest")


def facts_for(scenario: str = "ip-passthrough") -> Facts:
    """dns-tls gets a given hostname (publishing the suite's own name is tested with a simulated
    kind cluster in tests/test_installer_hostname.py) and the PKI's root."""
    facts = Facts(
        cluster_names={role: f"eicp-{role}" for role in ROLES},
        api_servers={role: API_SERVERS[role] for role in ("remote", "second")},
    )
    if scenario == "dns-tls":
        facts = replace(facts, external_hostname=HOSTNAME, mesh_root_ca_bundle=PKI.root_ca_bundle)
    return facts


def supported_releases() -> list[IstioRelease]:
    pins = load_pins()
    return [pins.resolve_release(minor) for minor in pins.supported]


def render_plan(scenario: str, release: IstioRelease, facts: Facts) -> ScenarioPlan:
    try:
        plan: ScenarioPlan = registry.render(scenario, release, facts).plan
    except registry.ScenarioUnavailable as unavailable:  # e.g. no Sail chart published for a release
        pytest.skip(str(unavailable))
    return plan


def runnable(plan: ScenarioPlan) -> int:
    """How many steps the installer can carry out before the first one it cannot."""
    for index, step in enumerate(plan.steps):
        if step.action in NOT_IMPLEMENTED or step.params.get("check") in NOT_IMPLEMENTED_CHECKS:
            return index
    return len(plan.steps)


def samples_for(tmp_path: Path, plans: Sequence[ScenarioPlan]) -> Path:
    """The files the plans read, made here (no path outside the repository is read: the real
    samples are install/samples.py's, tested in tests/test_samples.py)."""
    root = tmp_path / "samples"
    for plan in plans:
        for step in (*plan.steps, *plan.uninstall):
            if step.action is Action.APPLY_SAMPLE:
                path = root.joinpath(*Path(step.params["path"]).parts[1:])
                path.parent.mkdir(parents=True, exist_ok=True)
                # The client's Deployment: the dns-tls precondition probes with its image.
                path.write_text(
                    f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {path.stem}}}\nspec:\n"
                    f"  template:\n    spec:\n      containers:\n      - {{name: c, image: {path.stem}:t}}\n"
                )
    return root


def scenario_installer(
    tmp_path: Path, label: str, topology: Topology, release: IstioRelease, plan: ScenarioPlan
) -> Installer:
    """An installer with the test's samples, PKI and fast polling (and a ledger, the default)."""
    return Installer(
        scenario=label,
        topology=topology,
        release=release,
        work_dir=tmp_path / "work",
        istioctl=Path("istioctl"),
        helm=lambda: Path("helm"),
        samples=lambda: samples_for(tmp_path, [plan]),
        poll=FAST,
        pki=lambda: PKI,
    )


# -- an in-process model of the clusters ------------------------------------------------------


class SimulatedRunner(CommandRunner):
    """Answers kubectl/istioctl/helm from a small model of each cluster's objects."""

    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__(redactor=Redactor(), default_timeout_s=30)
        self.objects: dict[str, set[str]] = {context: set() for context in CONTEXTS.values()}
        self.calls: list[tuple[str, ...]] = []
        self.fail_at = fail_at

    def _run(self, args: tuple[str, ...], shown: tuple[str, ...], *rest: Any) -> CommandResult:
        stdin, check = rest[2], rest[4]  # (title, env, stdin, deadline, check, cwd, attach)
        index = len(self.calls)
        self.calls.append(args)
        if index == self.fail_at:
            code, out, err = 1, "", "Error from server (InternalError): injected failure"
        else:
            code, out, err = self._answer(args, stdin or "")
        if check and code:
            raise CommandError(shown, code, err, stdout=out, stderr=err)
        return CommandResult(args, code, out, err, 0.0)

    def _answer(self, args: tuple[str, ...], stdin: str | bytes) -> tuple[int, str, str]:
        tool = os.path.basename(args[0])
        context = (
            args[args.index("--context") + 1]
            if "--context" in args
            else args[args.index("--kube-context") + 1]
        )
        state = self.objects[context]
        text = stdin.decode() if isinstance(stdin, bytes) else stdin
        if tool == "kubectl":
            return self._kubectl(list(args[5:]), state, text)
        if tool == "istioctl":
            return self._istioctl(list(args[1:]), state)
        state.add(f"helm/{args[1]}/{args[3] if args[1] == 'upgrade' else args[2]}")
        return 0, "", ""

    def _kubectl(  # noqa: PLR0911, PLR0912 -- one branch per kubectl verb the installer uses
        self, args: list[str], state: set[str], stdin: str
    ) -> tuple[int, str, str]:
        verb = args[0]
        if verb == "create" and args[1] == "-f":
            return 0, "", ""  # the precondition's probe pod: it deletes itself
        if verb == "logs":
            return 0, "", ""
        if verb == "create":
            key = f"{args[1]}/{args[2]}"
            if key in state:
                return 1, "", f'Error from server (AlreadyExists): {args[1]} "{args[2]}" already exists'
            state.add(key)
            return 0, "", ""
        if verb in ("label", "annotate"):
            ok = f"namespace/{args[2]}" in state
            return (
                (0, "", "")
                if ok
                else (1, "", f'Error from server (NotFound): namespaces "{args[2]}" not found')
            )
        if verb == "apply":
            if "-" in args:
                for doc in yaml.safe_load_all(stdin):
                    if doc:
                        state.add(f"{doc['kind']}/{doc.get('metadata', {}).get('name')}")
            else:
                state.add("file/" + args[args.index("-f") + 1] + "/" + ",".join(args[args.index("-f") + 2 :]))
            return 0, "", ""
        if verb == "get" and ("," in args[1] or "--no-headers" in args):
            return 0, "", ""  # the ledger's and the snapshot's listings: see tests/test_ledger.py
        if verb == "get" and args[-2:] == ["-o", "json"]:
            return 0, json.dumps(READY), ""
        if verb == "get":
            return 1, "", 'Error from server (NotFound): "x" not found'
        if verb == "kustomize":
            return (
                0,
                "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: g}\n",
                "",
            )
        if verb == "delete":
            target = [arg for arg in args[1:] if not arg.startswith("-") and arg != "-"]
            if target:
                state.discard(target[0])
            return 0, "", ""
        raise AssertionError(f"unexpected kubectl call {args}")

    def _istioctl(self, args: list[str], state: set[str]) -> tuple[int, str, str]:
        if args[0] in ("create-remote-secret", "x"):
            name = (
                next(a.split("=", 1)[1] for a in args if a.startswith("--name="))
                if any(a.startswith("--name=") for a in args)
                else "eicp-remote"
            )
            secret = "istio-kubeconfig" if "--type=config" in args else f"istio-remote-secret-{name}"
            return (
                0,
                yaml.safe_dump(
                    {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "metadata": {"name": secret},
                        "stringData": {name: "users:\n- user: {token: abcdefghijklmnop}\n"},
                    }
                ),
                "",
            )
        if args[:2] == ["manifest", "generate"]:
            name = Path(args[3]).stem
            return 0, f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\n", ""
        state.add(f"istioctl/{args[0]}/{Path(args[3]).name if len(args) > 3 else ''}")
        return 0, "", ""


READY = {
    "metadata": {"generation": 1},
    "spec": {"replicas": 1, "type": "LoadBalancer"},
    "status": {
        "observedGeneration": 1,
        "updatedReplicas": 1,
        "availableReplicas": 1,
        "conditions": [{"type": t, "status": "True"} for t in ("Available", "Ready", "Programmed")],
        "loadBalancer": {"ingress": [{"ip": "172.18.0.200"}]},
        "phase": "Succeeded",
        "containerStatuses": [{"state": {"terminated": {"exitCode": 0}}}],
    },
}


def simulated_install(
    tmp_path: Path,
    scenario: str,
    release: IstioRelease,
    fail_at: int | None,
    runner: SimulatedRunner,
    samples: Path,
) -> None:
    facts = facts_for(scenario)
    plan = render_plan(scenario, release, facts)
    clusters = {
        role: ClusterHandle(
            role,
            f"eicp-{role}",
            CONTEXTS[role],
            tmp_path / f"{role}.kubeconfig",
            API_SERVERS[role],
            None,
            runner,
        )
        for role in ROLES
    }
    installer = Installer(
        scenario=scenario,
        topology=Topology(provider_spec("kind").capabilities, clusters, "eicp"),
        release=release,
        work_dir=tmp_path / "work",
        istioctl=Path("istioctl"),
        helm=lambda: Path("helm"),
        samples=lambda: samples,
        poll=FAST,
        pki=lambda: PKI,
        # Failing every command in turn is quadratic in the calls: the ledger's read-backs
        # (and their failure, which the uninstall sweep covers) are tests/test_ledger.py's.
        ledger=None,
    )
    runnable_plan = ScenarioPlan(plan.scenario, plan.release, plan.roles, plan.steps[: runnable(plan)])

    def rerender(learnt: Facts) -> ScenarioPlan:
        fresh = render_plan(scenario, release, learnt)
        return ScenarioPlan(fresh.scenario, fresh.release, fresh.roles, fresh.steps[: runnable(fresh)])

    installer.install(runnable_plan, facts, rerender)


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_a_rerun_after_a_failure_at_any_command_converges(tmp_path: Path, scenario: str) -> None:
    release = supported_releases()[-1]
    plan = render_plan(scenario, release, facts_for(scenario))
    samples = samples_for(tmp_path, [plan])
    clean = SimulatedRunner()
    simulated_install(tmp_path, scenario, release, None, clean, samples)
    assert len(clean.calls) > 5
    for fail_at in range(len(clean.calls)):
        runner = SimulatedRunner(fail_at=fail_at)
        failure: str | None = None
        try:
            simulated_install(tmp_path, scenario, release, fail_at, runner, samples)
        except StepFailed as error:
            failure = str(error)
        if failure is not None:
            assert "injected failure" in failure
        else:
            # Only the precondition's best-effort reads and cleanup may fail without failing it.
            failed = runner.calls[fail_at]
            assert failed[5] in ("logs", "delete") and "eicp-gateway-probe" in " ".join(failed), failed
        runner.fail_at = None
        simulated_install(tmp_path, scenario, release, None, runner, samples)  # the rerun completes
        assert runner.objects == clean.objects, f"{scenario}: state differs after failing command {fail_at}"


def expected_kubectl_verbs(plan: ScenarioPlan, count: int) -> list[tuple[str, str]]:
    """(context, first kubectl verb) each step runs, when it runs kubectl at all."""
    verbs = {
        Action.CREATE_NAMESPACE: "create",
        Action.LABEL_NAMESPACE: "label",
        Action.ANNOTATE_NAMESPACE: "annotate",
        Action.CREATE_SERVICE_ACCOUNT: "create",
        Action.APPLY: "apply",
        Action.APPLY_SAMPLE: "apply",
        Action.MANIFEST_GENERATE_APPLY: "apply",
        Action.CREATE_SECRET: "apply",
        Action.REMOTE_SECRET: "apply",
        Action.WAIT: "get",
        Action.DELETE: "delete",
        Action.MANIFEST_GENERATE_DELETE: "delete",
        Action.INSTALL_GATEWAY_API_CRDS: "get",
    }
    return [(CONTEXTS[s.role], verbs[s.action]) for s in plan.steps[:count] if s.action in verbs]


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_each_scenario_runs_its_steps_in_order_through_the_fake_tools(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner, scenario: str
) -> None:
    release = supported_releases()[-1]
    facts = facts_for(scenario)
    plan = render_plan(scenario, release, facts)
    tools = cluster_fakes(fake_tools)
    tools["kubectl"].on(r" get crd/\S+ -o name", exit=1, stderr='Error from server (NotFound): "x" not found')
    tools["kubectl"].on(r" kustomize ", stdout="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: crds}\n")
    tools["istioctl"].on(
        r"create-remote-secret .*--type=remote .*--name=(\S+)|create-remote-secret .*--name=(\S+) .*--type=remote",
        stdout="apiVersion: v1\nkind: Secret\nmetadata: {name: istio-remote-secret-eicp-second}\n",
    )
    finish_fakes(tools)
    topology = make_topology(tmp_path, runner, roles=("external", "remote", "second"))
    installer = scenario_installer(tmp_path, scenario, topology, release, plan)
    count = runnable(plan)

    def rerender(learnt: Facts) -> ScenarioPlan:
        return render_plan(scenario, release, learnt)

    if count < len(plan.steps):
        with pytest.raises(StepFailed, match="cannot"):
            installer.install(plan, facts, rerender)
    else:
        installer.install(plan, facts, rerender)
    final = render_plan(scenario, release, facts.with_fact("external_istiod_addr", "172.18.0.200"))
    seen = [(call.args[3], call.args[4]) for call in fake_tools.calls("kubectl")]
    expected = expected_kubectl_verbs(final, count)
    # Every step's kubectl call appears, in plan order (steps may add calls of their own).
    position = 0
    for wanted in expected:
        assert wanted in seen[position:], f"{scenario}: no {wanted} after call {position}: {seen}"
        position = seen.index(wanted, position) + 1
    istioctl_steps = [
        s
        for s in final.steps[:count]
        if s.action in (Action.ISTIOCTL_INSTALL, Action.MANIFEST_GENERATE_APPLY, Action.REMOTE_SECRET)
    ]
    assert len(fake_tools.calls("istioctl")) == len(istioctl_steps)
    helm_steps = [s for s in final.steps[:count] if s.action is Action.HELM_INSTALL]
    assert len(fake_tools.calls("helm")) == len(helm_steps)
    if count == len(plan.steps):
        failures = installer.uninstall(final)
        assert failures == [] or all("cannot" in str(f) for f in failures)
