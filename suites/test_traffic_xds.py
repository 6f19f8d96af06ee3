"""Traffic at the xDS level, every mode: what each client's sidecar would do with a helloworld request.

kwok runs no Envoy, so the real-traffic checks (suites/test_traffic.py) are skipped there; this
check reads instead the EDS the real external istiod pushed to the client pod's synthetic proxy
(clusters/kwok/xds_proxies.py): the local helloworld pods and, with a second network, its
east-west gateway, weighted equally per pod. It exists only where the clusters have synthetic
proxies (``only_with``, suites/applicability.py): on kind and existing clusters real traffic is
measured instead, and this check is no part of their conformance.
"""

from __future__ import annotations

import pytest

from run.timeouts import CHECK_XDS
from scenarios.capabilities import Capability
from suites.applicability import only_with
from suites.evaluation.evaluators.verdict import Verdict
from suites.evaluation.evaluators.xds import evaluate_helloworld_eds, helloworld_cluster
from suites.evaluation.polling import verdict_until_ok
from suites.evaluation.readers import InstalledScenarioLike, Observer
from suites.evaluation.reporting import Judge
from suites.evaluation.xds_reader import read_helloworld_xds

pytestmark = pytest.mark.traffic

ROLE = "remote"


@only_with(
    Capability.SYNTHETIC_XDS_PROXIES,
    "it stands in for real traffic where no Envoy runs; elsewhere suites/test_traffic.py measures real requests",
)
def test_helloworld_endpoints_sent_to_client_proxy(
    installed_scenario: InstalledScenarioLike, observer: Observer, diagnostics: str, verdict_of: Judge
) -> None:
    exp = installed_scenario.expectations
    if not exp.workloads:
        pytest.skip(f"{exp.scenario} deploys no helloworld")

    def evaluate() -> Verdict:
        parts = []
        for role in sorted(exp.workloads):
            view = read_helloworld_xds(observer, role)
            parts.append(
                evaluate_helloworld_xds(
                    role,
                    view.client or exp.client_app,
                    view.dump,
                    view.source,
                    exp.sample_namespace,
                    view.local_pod_ips,
                    view.gateways,
                    diagnostics=diagnostics,
                    problems_before=view.problems,
                )
            )
        return combine("traffic/xds-endpoints", parts, diagnostics)

    verdict_of(
        verdict_until_ok(f"istiod's EDS for {cluster} at the {ROLE} client", evaluate, CHECK_XDS.seconds())
    )
