"""Upgrade (pre-upgrade mode, ``--upgrade-to B``): the mesh works on A, keeps working while its
external control plane is upgraded in place to B, and works on B with B's proxies.

Runs only with ``--upgrade-to`` (fixtures/upgrade_plugin.py deselects it otherwise), right after the
scenario's other checks on A. One test per scenario, so a release manager sees one verdict
per scenario: every part (the checks on A, each upgrade step, the traffic probe's success
ratio and longest gap, or in kwok mode its xDS-level stand-in's (clusters/kwok/xds_probe.py), and every check family of the registry (suites/registry.py) against
B's expectations) is judged and every problem is listed in its message. The upgrade itself
is the scenario session's (install/session.py ``upgrade_driver``, install/upgrade.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace

import pytest

from clusters.upgrade_xds_probe import XdsProbeResult
from install.traffic_probe import ProbeResult
from install.upgrade_outcome import (
    UpgradableScenario,
    UpgradeDriving,
    UpgradeOutcome,
    max_gap_s,
    scenario_label,
    unfinished,
)
from scenarios.common import ScenarioUnavailable
from scenarios.releases import IstioRelease
from suites.evaluation.evaluators.upgrade_probe import evaluate_xds_probe
from suites.evaluation.evaluators.verdict import Verdict, combine
from suites.evaluation.readers import Observer
from suites.evaluation.reporting import Judge
from suites.registry import ScenarioView, judge_again

pytestmark = pytest.mark.upgrade


def test_upgrade_external_control_plane_in_place(
    installed_scenario: UpgradableScenario,
    upgrade_driver: UpgradeDriving,
    checks_on_release_a: Callable[[str], dict[str, str]],
    diagnostics: str,
    verdict_of: Judge,
) -> None:
    before = Observer(installed_scenario.topology, installed_scenario.expectations)
    label = scenario_label(installed_scenario.scenario, installed_scenario.release)
    verdict_of(precondition_on_a(installed_scenario, before, checks_on_release_a(label), diagnostics))
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
        *(
            evaluate_xds_probe(r, diagnostics)
            if isinstance(r, XdsProbeResult)
            else probe_verdict(r, upgrade_driver, diagnostics)
            for r in outcome.probes
        ),
    ]
    if not outcome.probes and outcome.ok:
        verdicts.append(
            Verdict(
                "upgrade/probe",
                "a background probe per client throughout the upgrade",
                "no probe ran",
                diagnostics,
                problems=("no background probe ran during the upgrade: nothing says the mesh kept working",),
            )
        )
    if outcome.ok and outcome.expectations is not None:
        after = Observer(installed_scenario.topology, outcome.expectations)
        verdicts += mesh_verdicts(installed_scenario, after, upgrade_driver.target, diagnostics)
    verdict_of(
        replace(
            combine("upgrade", verdicts, diagnostics),
            expected=f"{plan.scenario} upgraded in place {plan.from_version} -> {plan.to_version}: "
            + "; ".join(v.expected for v in verdicts),
        )
    )


# -- the parts of the verdict -------------------------------------------------------------------------


def precondition_on_a(
    installed: UpgradableScenario, observer: Observer, outcomes: dict[str, str], diagnostics: str
) -> Verdict:
    """All checks pass on A: the outcomes of the checks that ran, or (none ran, or every one
    skipped: no evidence that A works) a fresh look with every check of the registry."""
    release = installed.release
    failed = sorted(
        f"{nodeid}: {outcome}" for nodeid, outcome in outcomes.items() if outcome.startswith("failed")
    )
    if failed or "passed" in outcomes.values():
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
    # Run on its own (-m upgrade), or every other check skipped: judge A here, with every check.
    parts = mesh_verdicts(installed, observer, release, diagnostics)
    why = "every other check skipped" if outcomes else "no other check ran"
    return replace(combine("upgrade/checks-on-A", parts, diagnostics), facts=(f"{why}: A judged here",))


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


def probe_verdict(result: ProbeResult, driver: UpgradeDriving, diagnostics: str) -> Verdict:
    """The background probe's success ratio stayed at or above the bound, over enough requests,
    and no stretch longer than the gap bound passed without a successful response."""
    problems = []
    if result.total < driver.min_probe_requests:
        problems.append(
            f"the probe made only {result.total} requests (at least {driver.min_probe_requests} needed "
            "to say anything about the whole upgrade)"
        )
    if result.ratio < driver.min_success_ratio:
        problems.append(
            f"traffic success ratio {result.ratio:.3f} is below {driver.min_success_ratio:g} during the "
            f"upgrade: {result.successes} of {result.total} succeeded, {result.failures} failed "
            f"({', '.join(f'{code}={count}' for code, count in result.counts.items())})"
        )
    gap = max_gap_s(result)
    if gap > driver.max_gap_s:
        problems.append(
            f"{gap:.1f}s passed without a successful response during the upgrade (at most {driver.max_gap_s:g}s)"
        )
    return Verdict(
        f"upgrade/traffic-probe[{result.vantage}]",
        f"{result.vantage}: at least {driver.min_success_ratio:.1%} of at least "
        f"{driver.min_probe_requests} requests to {result.url} succeed throughout the upgrade, "
        f"never {driver.max_gap_s:g}s without a success",
        result.summary() + f"; longest gap without a success {gap:.1f}s",
        diagnostics,
        problems=tuple(problems),
        facts=(result.summary(), f"longest gap without a success: {gap:.1f}s"),
        evidence={
            f"probe {result.vantage}": [{"at": s.at, "code": s.code} for s in result.samples if not s.ok],
        },
    )


def mesh_verdicts(
    installed: UpgradableScenario, observer: Observer, release: IstioRelease, diagnostics: str
) -> list[Verdict]:
    """Every check family of the registry, judged against ``observer.exp`` (A's or B's)."""
    view = ScenarioView(
        installed.scenario,
        release,
        installed.topology,
        observer.exp,
        installed.diagnostics_dir,
        installed.facts,
    )
    return judge_again(view, observer, diagnostics)
