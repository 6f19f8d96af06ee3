"""Injection: sidecars and the remote's gateways injected by the external control plane, connected
to it and synced."""

from __future__ import annotations

import pytest

from run.timeouts import CHECK_INJECTION_SYNC
from scenarios.registry import EGRESS_GATEWAY
from suites.applicability import optional_part
from suites.evaluation.evaluators.verdict import combine
from suites.evaluation.judging import gateway_synced, proxies_synced, sidecar_verdicts
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


def test_ingress_gateways_injected_and_synced(
    installed_scenario: InstalledScenarioLike, observer: Observer, diagnostics: str, verdict_of: Judge
) -> None:
    """The sample's ingress gateway(s): the Istio-API gateway, or the Deployment and Service the
    external istiod's gateway controller made for the Gateway API ``Gateway`` (Programmed, with
    its Service's address), each pod injected by the external istiod and synced."""
    exp = installed_scenario.expectations
    if not exp.ingress:
        pytest.skip(f"{exp.scenario} installs no ingress gateway for the sample")
    verdicts = [
        gateway_synced(
            f"injection/ingress-gateway[{ingress.kind}]",
            observer,
            ingress.workload(),
            installed_scenario.release,
            diagnostics,
            CHECK_INJECTION_SYNC.seconds(),
            api_gateway=ingress.gateway,
        )
        for ingress in exp.ingress
    ]
    verdict_of(combine("injection/ingress-gateways", verdicts, diagnostics))


@optional_part(EGRESS_GATEWAY, "--egress-gateway helm")
def test_remote_egress_gateway_injected_and_synced(
    installed_scenario: InstalledScenarioLike, observer: Observer, diagnostics: str, verdict_of: Judge
) -> None:
    """The guide's optional egress gateway (--egress-gateway helm), as istio.io's doc test installs
    and checks it: rolled out, its pod injected by the external istiod and synced, ClusterIP."""
    exp = installed_scenario.expectations
    if exp.egress_gateway is None:
        # Left out where the run installs none (suites/applicability.py); a guard for direct calls.
        pytest.skip(
            f"{exp.scenario} installs no egress gateway (--egress-gateway none, or its guide has none)"
        )
    verdict_of(
        gateway_synced(
            "injection/egress-gateway",
            observer,
            exp.egress_gateway,
            installed_scenario.release,
            diagnostics,
            CHECK_INJECTION_SYNC.seconds(),
        )
    )
