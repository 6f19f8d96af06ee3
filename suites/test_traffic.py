"""Traffic: helloworld answers inside the mesh and through the ingress gateway; v1/v2 in balance.

Each vantage point first polls with small batches until the mesh has converged (every
request answered, every deployed version seen) or the deadline passes; then one measured
batch of ``BATCH_SIZE`` requests is judged, including the balance bound when two versions
are deployed (see suites/evaluation/evaluators/balance.py for the bound and its error rates).
A failure from a client carries the xDS explanation beside it: what the client's sidecar
config does by Envoy's rules (suites/evaluation/traffic_explained.py).
"""

from __future__ import annotations

import pytest

from run.timeouts import CHECK_TRAFFIC
from scenarios.capabilities import Capability
from scenarios.steps import Role
from suites.applicability import needs
from suites.evaluation.evaluators.verdict import Verdict, combine
from suites.evaluation.judging import measure_traffic
from suites.evaluation.readers import InstalledScenarioLike, Observer
from suites.evaluation.reporting import Judge
from suites.evaluation.traffic_explained import explained

pytestmark = [
    pytest.mark.traffic,
    needs(Capability.REAL_DATA_PLANE, "real requests through the sidecars and gateways"),
]


def _measure(observer: Observer, role: Role, url: str, vantage: str, diagnostics: str) -> Verdict:
    return measure_traffic(observer, role, url, vantage, diagnostics, CHECK_TRAFFIC.seconds())


def test_mesh_traffic_from_each_client(
    installed_scenario: InstalledScenarioLike, observer: Observer, diagnostics: str, verdict_of: Judge
) -> None:
    exp = installed_scenario.expectations
    verdicts = [
        explained(
            _measure(observer, role, observer.mesh_url(), f"{exp.client_app} in {role}", diagnostics),
            observer,
            role,
        )
        for role in sorted(exp.workloads)
    ]
    verdict_of(combine("traffic/mesh", verdicts, diagnostics))


def test_ingress_gateway_traffic(
    installed_scenario: InstalledScenarioLike, observer: Observer, diagnostics: str, verdict_of: Judge
) -> None:
    exp = installed_scenario.expectations
    if not exp.ingress:
        pytest.skip(f"{exp.scenario} installs no ingress gateway for the sample")
    verdicts = [
        _measure(
            observer,
            ingress.role,
            observer.ingress_url(ingress),
            f"{ingress.kind} ingress gateway on {ingress.role}",
            diagnostics,
        )
        for ingress in exp.ingress
    ]
    verdict_of(combine("traffic/ingress", verdicts, diagnostics))
