"""Upgrade (pre-upgrade mode, ``--upgrade-to B``): the mesh works on A, keeps working while its
external control plane is upgraded in place to B, and works on B with B's proxies.

Runs only with ``--upgrade-to`` (fixtures/upgrade_plugin.py deselects it otherwise), right after the
scenario's other checks on A. One test per scenario, so a release manager sees one verdict
per scenario: every part (the checks on A, each upgrade step, the traffic probe's success
ratio, the control plane, injection and traffic checks against B's expectations) is judged
and every problem is listed in its message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace

import pytest

from fixtures.scenario_plugin import scenario_label
from fixtures.upgrade_plugin import UpgradableScenario, UpgradeDriver, UpgradeOutcome, unfinished
from install.traffic_probe import ProbeResult
from scenarios.common import ScenarioUnavailable
from scenarios.releases import IstioRelease
from scenarios.steps import Role
from suites.evaluation.evaluators.controlplane import (
    evaluate_gateway,
    evaluate_istiod,
    evaluate_remote_secrets,
    evaluate_webhooks,
)
from suites.evaluation.evaluators.verdict import Verdict, combine
from suites.evaluation.judging import measure_traffic, proxies_synced, sidecar_verdicts
from suites.evaluation.readers import Observer
from suites.evaluation.reporting import Judge

pytestmark = pytest.mark.upgrade

SYNC_DEADLINE_S = 180.0  # proxies restarted last reconnect to the upgraded istiod
CONVERGENCE_DEADLINE_S = 300.0


def test_upgrade_external_control_plane_in_place(
    installed_scenario: UpgradableScenario,
    upgrade_driver: UpgradeDriver,
    checks_on_release_a: Callable[[str], dict[str, str]],
    diagnostics: str,
    verdict_of: Judge,
) -> None:
    before = Observer(installed_scenario.topology, installed_scenario.expectations)
    label = scenario_label(installed_scenario.scenario, installed_scenario.release)
    verdict_of(precondition_on_a(before, installed_scenario.release, checks_on_release_a(label), diagnostics))
    try:
        plan = upgrade_driver.plan(installed_scenario)
    except ScenarioUnavailable as why:
        pytest.fail(f"no upgrade of {label} to {upgrade_driver.target.version}: {why}", pytrace=False)
    exp = installed_scenario.expectations
    outcome = upgrade_driver.upgrade(
        installed_scenario,
        {role: before.client_pod(role) for role in sorted(exp.workloads)},
        before.mesh_url(),
        exp.client_app,
        exp.sample_namespace,
    )
    verdicts = [
        steps_verdict(outcome, diagnostics),
        *(probe_verdict(r, upgrade_driver, diagnostics) for r in outcome.probes),
    ]
    if outcome.ok and outcome.expectations is not None:
        after = Observer(installed_scenario.topology, outcome.expectations)
        verdicts += mesh_verdicts(after, upgrade_driver.target, diagnostics)
    verdict_of(
        replace(
            combine("upgrade", verdicts, diagnostics),
            expected=f"{plan.scenario} upgraded in place {plan.from_version} -> {plan.to_version}: "
            + "; ".join(v.expected for v in verdicts),
        )
    )


# -- the parts of the verdict -------------------------------------------------------------------------


def precondition_on_a(
    observer: Observer, release: IstioRelease, outcomes: dict[str, str], diagnostics: str
) -> Verdict:
    """All checks pass on A: the outcomes of the checks that ran, or (none ran) a fresh look."""
    failed = sorted(
        f"{nodeid}: {outcome}" for nodeid, outcome in outcomes.items() if outcome.startswith("failed")
    )
    if failed or outcomes:
        return Verdict(
            "upgrade/checks-on-A",
            f"every check of the scenario passed on {release.version} before the upgrade",
            ", ".join(
                f"{kind}={count}"
                for kind, count in sorted(Counter(o.split()[0] for o in outcomes.values()).items())
            ),
            diagnostics,
            problems=tuple(f"on {release.version}, before the upgrade: {entry}" for entry in failed),
        )
    # Run on its own (-m upgrade): judge A here, with the same evaluators.
    parts = mesh_verdicts(observer, release, diagnostics)
    return replace(
        combine("upgrade/checks-on-A", parts, diagnostics), facts=("no other check ran: A judged here",)
    )


def steps_verdict(outcome: UpgradeOutcome, diagnostics: str) -> Verdict:
    left = unfinished(outcome.plan, outcome.completed)
    problems = (
        (f"the upgrade failed: {outcome.error}", f"not carried out: {', '.join(left) or 'nothing'}")
        if outcome.error is not None
        else ()
    )
    return Verdict(
        "upgrade/steps",
        "every upgrade step of release B carried out",
        f"done: {', '.join(outcome.completed) or 'nothing'}",
        diagnostics,
        problems=problems,
    )


def probe_verdict(result: ProbeResult, driver: UpgradeDriver, diagnostics: str) -> Verdict:
    """The background probe's success ratio stayed at or above the bound, over enough requests."""
    problems = []
    if result.total < driver.min_probe_requests:
        problems.append(
            f"the probe made only {result.total} requests (at least {driver.min_probe_requests} needed "
            "to say anything about the whole upgrade)"
        )
    if result.ratio < driver.min_success_ratio:
        problems.append(
            f"traffic success ratio {result.ratio:.3f} is below {driver.min_success_ratio:.2f} during the "
            f"upgrade: {result.successes} of {result.total} succeeded, {result.failures} failed "
            f"({', '.join(f'{code}={count}' for code, count in result.counts.items())})"
        )
    return Verdict(
        f"upgrade/traffic-probe[{result.vantage}]",
        f"{result.vantage}: at least {driver.min_success_ratio:.0%} of at least "
        f"{driver.min_probe_requests} requests to {result.url} succeed throughout the upgrade",
        result.summary(),
        diagnostics,
        problems=tuple(problems),
        facts=(result.summary(),),
        evidence={
            f"probe {result.vantage}": [{"at": s.at, "code": s.code} for s in result.samples if not s.ok],
        },
    )


def mesh_verdicts(observer: Observer, release: IstioRelease, diagnostics: str) -> list[Verdict]:
    """Control plane, injection and traffic, judged against ``observer.exp`` (A's or B's)."""
    exp = observer.exp
    version_known = not release.custom
    deployment = observer.istiod_deployment()
    pods = observer.istiod_pods(deployment)
    verdicts = [
        evaluate_istiod(
            deployment,
            pods,
            observer.istiod_reported_version(pods),
            exp,
            diagnostics=diagnostics,
            check_reported_version=version_known,
        ),
        evaluate_gateway(observer.gateway_service(), exp, diagnostics=diagnostics),
        evaluate_remote_secrets(
            {role: observer.remote_secret_metadata(role) for role in exp.remote_secrets},
            exp,
            diagnostics=diagnostics,
        ),
    ]
    for role, expected in sorted(exp.webhooks.items()):
        mutating, validating = observer.webhook_configurations(role)
        verdicts.append(evaluate_webhooks(role, mutating, validating, expected, diagnostics=diagnostics))
    # The sidecars must be the release's proxy: after the upgrade this is "new pods run B's".
    verdicts.extend(sidecar_verdicts(observer, exp, release, diagnostics))
    verdicts.append(proxies_synced(observer, exp, version_known, diagnostics, SYNC_DEADLINE_S))
    for role in sorted(exp.workloads):
        verdicts.append(
            _traffic(observer, role, observer.mesh_url(), f"{exp.client_app} in {role}", diagnostics)
        )
    for ingress in exp.ingress:
        vantage = f"{ingress.kind} ingress gateway on {ingress.role}"
        verdicts.append(_traffic(observer, ingress.role, observer.ingress_url(ingress), vantage, diagnostics))
    return verdicts


def _traffic(observer: Observer, role: Role, url: str, vantage: str, diagnostics: str) -> Verdict:
    return measure_traffic(observer, role, url, vantage, diagnostics, CONVERGENCE_DEADLINE_S)
