"""Injection: sidecars injected by the external control plane, connected to it and synced."""

from __future__ import annotations

import pytest

from suites.checks.injection import evaluate_injection, evaluate_proxies_synced
from suites.checks.verdict import Verdict, combine
from suites.observe import InstalledScenarioLike, Observer
from suites.polling import verdict_until_ok
from suites.reporting import Judge

pytestmark = pytest.mark.injection

# Proxies connect within seconds of becoming Ready; a push in flight can leave one STALE briefly.
SYNC_DEADLINE_S = 120.0


def test_sidecars_injected_by_external_control_plane(
    installed_scenario: InstalledScenarioLike, observer: Observer, diagnostics: str, verdict_of: Judge
) -> None:
    exp = installed_scenario.expectations
    verdicts = []
    for role in sorted(exp.workloads):
        mutating, _ = observer.webhook_configurations(role)
        verdicts.append(
            evaluate_injection(
                role,
                observer.sample_pods(role),
                observer.local_injector_pods(role),
                mutating,
                exp,
                diagnostics=diagnostics,
                # A release is published to several registries (docker.io, registry.istio.io,
                # mirrors): its tag identifies it. A custom build is identified by hub and tag.
                expected_hub=installed_scenario.release.hub if installed_scenario.release.custom else None,
            )
        )
    verdict_of(combine("injection/sidecars", verdicts, diagnostics))


def test_proxies_connected_and_synced_to_external_istiod(
    installed_scenario: InstalledScenarioLike, observer: Observer, diagnostics: str, verdict_of: Judge
) -> None:
    exp = installed_scenario.expectations
    check_version = not installed_scenario.release.custom

    def evaluate() -> Verdict:
        syncz = observer.syncz()
        return combine(
            "injection/proxies-synced",
            [
                evaluate_proxies_synced(
                    role,
                    observer.sample_pods(role),
                    syncz,
                    exp,
                    diagnostics=diagnostics,
                    check_proxy_version=check_version,
                )
                for role in sorted(exp.workloads)
            ],
            diagnostics,
        )

    verdict_of(
        verdict_until_ok("sample proxies to be synced with the external istiod", evaluate, SYNC_DEADLINE_S)
    )
