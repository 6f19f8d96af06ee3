"""Injection: sidecars injected by the external control plane, connected to it and synced."""

from __future__ import annotations

import pytest

from run.timeouts import CHECK_INJECTION_SYNC
from suites.evaluation.evaluators.verdict import combine
from suites.evaluation.judging import proxies_synced, sidecar_verdicts
from suites.evaluation.readers import InstalledScenarioLike, Observer
from suites.evaluation.reporting import Judge

pytestmark = pytest.mark.injection


def test_sidecars_injected_by_external_control_plane(
    installed_scenario: InstalledScenarioLike, observer: Observer, diagnostics: str, verdict_of: Judge
) -> None:
    verdicts = sidecar_verdicts(
        observer, installed_scenario.expectations, installed_scenario.release, diagnostics
    )
    verdict_of(combine("injection/sidecars", verdicts, diagnostics))


def test_proxies_connected_and_synced_to_external_istiod(
    installed_scenario: InstalledScenarioLike, observer: Observer, diagnostics: str, verdict_of: Judge
) -> None:
    check_version = not installed_scenario.release.custom
    verdict_of(
        proxies_synced(
            observer,
            installed_scenario.expectations,
            check_version,
            diagnostics,
            CHECK_INJECTION_SYNC.seconds(),
        )
    )
