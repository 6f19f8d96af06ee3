"""Traffic at the xDS level (kwok mode): what istiod tells the client's proxy about helloworld.

kwok runs no Envoy, so the real-traffic checks (suites/test_traffic.py) are skipped there; this
check reads instead the EDS the real external istiod pushed to the client pod's synthetic proxy
(clusters/kwok/xds_proxies.py): the local helloworld pods and, with a second network, its
east-west gateway, weighted equally per pod. On kind and existing clusters real traffic is
measured instead, so this check is skipped there.
"""

from __future__ import annotations

import pytest

from suites.evaluation.evaluators.verdict import Verdict
from suites.evaluation.evaluators.xds import evaluate_helloworld_eds, helloworld_cluster
from suites.evaluation.polling import verdict_until_ok
from suites.evaluation.readers import InstalledScenarioLike, Observer
from suites.evaluation.reporting import Judge
from suites.evaluation.xds_reader import read_helloworld_eds

pytestmark = pytest.mark.traffic

# istiod pushes EDS within a second of a pod becoming Ready; a second cluster's endpoints follow
# its remote secret's informer sync.
XDS_DEADLINE_S = 90.0
ROLE = "remote"
REAL_TRAFFIC_HERE = (
    "the xDS-level check stands in for real traffic in kwok mode only; on {mode} clusters real "
    "requests through the sidecars are measured (suites/test_traffic.py)"
)


def test_helloworld_endpoints_sent_to_client_proxy(
    installed_scenario: InstalledScenarioLike, observer: Observer, diagnostics: str, verdict_of: Judge
) -> None:
    mode = installed_scenario.topology.mode
    if mode != "kwok":
        pytest.skip(REAL_TRAFFIC_HERE.format(mode=mode))
    exp = installed_scenario.expectations
    if ROLE not in exp.workloads:
        pytest.skip(f"{exp.scenario} deploys no helloworld on the {ROLE} cluster")
    cluster = helloworld_cluster(exp.sample_namespace)

    def evaluate() -> Verdict:
        view = read_helloworld_eds(observer, ROLE)
        return evaluate_helloworld_eds(
            ROLE,
            view.client or exp.client_app,
            view.received,
            cluster,
            view.local_pod_ips,
            view.gateways,
            diagnostics=diagnostics,
            problems_before=view.problems,
        )

    verdict_of(verdict_until_ok(f"istiod's EDS for {cluster} at the {ROLE} client", evaluate, XDS_DEADLINE_S))
