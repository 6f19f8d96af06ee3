"""The guide's optional egress gateway on the remote (seed 001 §Enable gateways, "You can
optionally enable other gateways as well"), installed as istio.io's doc test for the page installs
it: the Helm tab, ``helm install istio-egressgateway istio/gateway -n external-istiod
--set service.type=ClusterIP`` on the config cluster, then its pod checked Running.

Rendered only with ``--egress-gateway helm`` (facts.egress_gateway), by the istioctl scenarios
(ip-passthrough, dns-tls and second-remote on either). The chart is Istio's ``gateway`` chart at
the release under test; for an Istio source build (no published chart) the installer takes the
chart from that source tree instead (``source_chart``: install/actions/helm.py), as the doc test
rewrites the Helm repository to the build under test.
"""

from __future__ import annotations

from scenarios.common import EXTERNAL_NS, RenderContext
from scenarios.expectations import GatewayExpectation
from scenarios.steps import Action, Step

EGRESS_GATEWAY = "istio-egressgateway"  # the Helm release, and so the Deployment and Service
# `helm repo add istio https://istio-release.storage.googleapis.com/charts` (istio.io's Helm install docs).
ISTIO_HELM_REPO = "https://istio-release.storage.googleapis.com/charts"
GATEWAY_CHART = "gateway"
GATEWAY_SOURCE_CHART = "manifests/charts/gateway"  # the same chart in Istio's source tree
SEED = "001 §Enable gateways (Helm tab, egress gateway)"


def egress_gateway_installed(ctx: RenderContext) -> bool:
    return ctx.facts.egress_gateway == "helm"


def egress_gateway_steps(ctx: RenderContext) -> list[Step]:
    """``helm install`` of the egress gateway on the remote, then its rollout waited for (the
    doc test waits for its pod to be Running)."""
    if not egress_gateway_installed(ctx):
        return []
    return [
        Step(
            "remote-egressgateway",
            "remote",
            Action.HELM_INSTALL,
            SEED,
            params={
                "release": EGRESS_GATEWAY,
                "repo": ISTIO_HELM_REPO,
                "chart": GATEWAY_CHART,
                "version": str(ctx.release.version),
                "namespace": EXTERNAL_NS,
                "create_namespace": False,
                "values": {"service": {"type": "ClusterIP"}},
                "source_chart": GATEWAY_SOURCE_CHART,
            },
        ),
        Step(
            "remote-wait-egressgateway",
            "remote",
            Action.WAIT,
            f"{SEED}; the doc test waits for its pod to be Running",
            params={
                "resource": f"deployment/{EGRESS_GATEWAY}",
                "namespace": EXTERNAL_NS,
                "for": "condition=Available",
                "deadline_s": ctx.deadline("rollout"),
            },
        ),
    ]


def egress_gateway_uninstall(ctx: RenderContext, seed: str) -> list[Step]:
    if not egress_gateway_installed(ctx):
        return []
    return [
        Step(
            "uninstall-remote-egressgateway",
            "remote",
            Action.HELM_UNINSTALL,
            seed,
            params={"release": EGRESS_GATEWAY, "namespace": EXTERNAL_NS},
        )
    ]


def egress_gateway_expectation(ctx: RenderContext) -> GatewayExpectation | None:
    if not egress_gateway_installed(ctx):
        return None
    return GatewayExpectation(
        "remote",
        EXTERNAL_NS,
        EGRESS_GATEWAY,
        EGRESS_GATEWAY,
        "ClusterIP",
        f"helm {GATEWAY_CHART} chart (service.type=ClusterIP)",
    )
