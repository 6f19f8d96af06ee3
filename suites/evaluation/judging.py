"""Check bodies shared by the check families and the upgrade check.

The families judge one release; the upgrade check judges the same things again after the
upgrade. Both call these, passing their own deadlines (module constants the self-tests shorten).
"""

from __future__ import annotations

from dataclasses import replace

from scenarios.expectations import GatewayExpectation, ScenarioExpectations
from scenarios.releases import IstioRelease
from scenarios.steps import Role
from suites.evaluation.evaluators.balance import BATCH_SIZE
from suites.evaluation.evaluators.gateways import evaluate_gateway_workload
from suites.evaluation.evaluators.injection import evaluate_injection, evaluate_proxies_synced
from suites.evaluation.evaluators.traffic import Batch, converged, evaluate_batch
from suites.evaluation.evaluators.verdict import Verdict, combine
from suites.evaluation.polling import observe_until, verdict_until_ok
from suites.evaluation.readers import Observer

# Requests per probe while waiting for the mesh to converge (the measured batch is BATCH_SIZE).
CONVERGENCE_BATCH = 20


def measure_traffic(
    observer: Observer, role: Role, url: str, vantage: str, diagnostics: str, deadline_s: float
) -> Verdict:
    """Poll with small batches until every expected version answers, then judge one full batch."""
    expected = observer.exp.expected_versions
    probe, timeout = observe_until(
        f"{vantage} to reach {', '.join(expected)} at {url}",
        lambda: observer.curl_batch(role, url, CONVERGENCE_BATCH, vantage),
        lambda batch: converged(batch, expected),
        deadline_s,
        show=Batch.summary,
    )
    if timeout is not None:
        # Judge the last probe batch: its evidence explains why the mesh never converged.
        verdict = evaluate_batch(probe, expected, diagnostics=diagnostics)
        return replace(verdict, problems=(f"the mesh did not converge: {timeout}", *verdict.problems))
    return evaluate_batch(
        observer.curl_batch(role, url, BATCH_SIZE, vantage), expected, diagnostics=diagnostics
    )


def sidecar_verdicts(
    observer: Observer, exp: ScenarioExpectations, release: IstioRelease, diagnostics: str
) -> list[Verdict]:
    """Per workload cluster: every sample pod carries the release's sidecar from the external istiod."""
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
                expected_hub=release.hub if release.custom else None,
                probe=observer.injection_probe(role),
            )
        )
    return verdicts


def proxies_synced(
    observer: Observer, exp: ScenarioExpectations, check_version: bool, diagnostics: str, deadline_s: float
) -> Verdict:
    """Wait until the external istiod reports every sample proxy connected and synced."""

    def evaluate() -> Verdict:
        syncz = observer.syncz()
        parts = [
            evaluate_proxies_synced(
                role,
                observer.sample_pods(role),
                syncz,
                exp,
                diagnostics=diagnostics,
                check_proxy_version=check_version,
            )
            for role in sorted(exp.workloads)
        ]
        return combine("injection/proxies-synced", parts, diagnostics)

    return verdict_until_ok("sample proxies to be synced with the external istiod", evaluate, deadline_s)


def gateway_synced(
    check: str,
    observer: Observer,
    gateway: GatewayExpectation,
    release: IstioRelease,
    diagnostics: str,
    deadline_s: float,
    api_gateway: str | None = None,
) -> Verdict:
    """Wait until a remote gateway is rolled out, injected by the external istiod and synced;
    ``api_gateway`` names the Gateway API ``Gateway`` it was made from, if any."""
    role, namespace = gateway.role, gateway.namespace

    def evaluate() -> Verdict:
        deployment = observer.get(role, "deployment", gateway.deployment, "-n", namespace)
        return evaluate_gateway_workload(
            check,
            gateway,
            deployment,
            observer.deployment_pods(role, namespace, deployment),
            observer.get(role, "service", gateway.service, "-n", namespace),
            observer.syncz(),
            observer.exp,
            diagnostics=diagnostics,
            api_gateway=(
                observer.get(role, "gateways.gateway.networking.k8s.io", api_gateway, "-n", namespace)
                if api_gateway
                else None
            ),
            api_gateway_name=api_gateway,
            expected_hub=release.hub if release.custom else None,
            check_proxy_version=not release.custom,
        )

    return verdict_until_ok(
        f"{gateway.deployment} on {role} to be rolled out and synced", evaluate, deadline_s
    )
