"""Traffic at the xDS level, every mode: what each client's sidecar would do with a helloworld request.

From the client pod's proxy config (a real Envoy's config dump on kind and existing clusters,
the synthetic proxy's in kwok mode: clusters/proxy_config.py) the route for
``helloworld.<ns>:5000`` is followed to its cluster (Istio mutual TLS expected) and its
endpoints, and the split a sidecar makes of them is computed by Envoy's rules
(suites/evaluation/evaluators/xds.py). Every helloworld pod must get the same share. On kind
and existing clusters the real-traffic checks (suites/test_traffic.py) then measure what the
data plane does with that config.
"""

from __future__ import annotations

import pytest

from run.timeouts import CHECK_XDS
from suites.evaluation.evaluators.verdict import Verdict, combine
from suites.evaluation.evaluators.xds import evaluate_helloworld_xds
from suites.evaluation.polling import verdict_until_ok
from suites.evaluation.readers import InstalledScenarioLike, Observer
from suites.evaluation.reporting import Judge
from suites.evaluation.xds_reader import read_helloworld_xds

pytestmark = pytest.mark.traffic


def test_client_sidecars_route_helloworld_evenly(
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
        verdict_until_ok(
            "helloworld's route and endpoints at every client sidecar", evaluate, CHECK_XDS.seconds()
        )
    )
