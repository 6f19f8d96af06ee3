"""Injection evaluators: sidecars from the external injector, and proxies known and synced by istiod."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from scenarios.expectations import ScenarioExpectations
from scenarios.steps import Role
from suites.evaluation.evaluators.k8s import (
    Obj,
    condition_true,
    container_env,
    describe_condition,
    image_repository,
    image_tag,
    items,
    join,
    name_of,
    proxy_config,
)
from suites.evaluation.evaluators.verdict import Finding, Verdict

SIDECAR = "istio-proxy"
PROXY_IMAGE_NAME = "proxyv2"
INJECTOR_WEBHOOK_SUFFIX = "sidecar-injector.istio.io"
# istiod's /debug/syncz fields per xDS type: (sent nonce, acked nonce). CDS and LDS are sent
# to every sidecar; the others only when the proxy asked for them.
XDS_TYPES: dict[str, tuple[str, str]] = {
    "CDS": ("cluster_sent", "cluster_acked"),
    "LDS": ("listener_sent", "listener_acked"),
    "EDS": ("endpoint_sent", "endpoint_acked"),
    "RDS": ("route_sent", "route_acked"),
    "ECDS": ("extensionconfig_sent", "extensionconfig_acked"),
}
REQUIRED_XDS_TYPES = ("CDS", "LDS")
DEFAULT_DISCOVERY_ADDRESS = "istiod.istio-system.svc:15012"


@dataclass(frozen=True)
class Sidecar:
    """The proxy container of a pod, and how it was injected."""

    container: Obj
    native: bool  # an init container with restartPolicy: Always (Kubernetes native sidecar)


INJECTION_PROBE = "eicp-injection-probe"
# Known issue (suites/known_issues.yaml): the gateway refused istiod's certificate. Envoy answers
# the webhook call 503 "... transport failure reason: TLS_error:...CERTIFICATE_VERIFY_FAILED";
# the kwok tier's HAProxy stand-in 503 "... TLS: error:0A000086:SSL routines::certificate verify
# failed" (clusters/kwok/haproxy_config.py); the API server quotes either body.
GATEWAY_SYSTEM_ROOTS = "gateway-verifies-istiod-with-system-roots"
UPSTREAM_VERIFY_FAILED = re.compile(r"certificate[ _]verify[ _]failed", re.IGNORECASE)


@dataclass(frozen=True)
class InjectionProbe:
    """A pod created with ``--dry-run=server`` in the sample namespace: admission ran now."""

    role: Role
    returncode: int
    pod: Obj | None  # the admitted (mutated) pod
    stderr: str  # the API server's error, e.g. from calling the injection webhook


def probe_problems(probe: InjectionProbe, exp: ScenarioExpectations, expected_hub: str | None) -> list[str]:
    """Is a new pod injected by the external injector right now?"""
    where = f"{probe.role}: a new pod in {exp.sample_namespace} (dry run)"
    if probe.returncode != 0 or probe.pod is None:
        return [f"{where} was not admitted: {probe.stderr or f'kubectl exited with {probe.returncode}'}"]
    problems, _ = pod_problems(probe.pod, exp, exp.cluster_names.get(probe.role), expected_hub, ready=False)
    return [f"{where}: {problem}" for problem in problems]


def live_pods(pods: Obj | None) -> list[Obj]:
    return [pod for pod in items(pods) if not (pod.get("metadata") or {}).get("deletionTimestamp")]


def find_sidecar(pod: Obj) -> tuple[Sidecar | None, str | None]:
    """The pod's ``istio-proxy`` container, or why it has none that counts as a sidecar."""
    spec = pod.get("spec") or {}
    for container in spec.get("containers") or []:
        if container.get("name") == SIDECAR:
            return Sidecar(container, native=False), None
    for container in spec.get("initContainers") or []:
        if container.get("name") == SIDECAR:
            if container.get("restartPolicy") == "Always":
                return Sidecar(container, native=True), None
            return (
                None,
                f"{SIDECAR} is an init container without restartPolicy: Always (it would not keep running)",
            )
    return None, f"no {SIDECAR} container (the pod was not injected)"


def evaluate_injection(
    role: Role,
    pods: Obj | None,
    local_injector_pods: Obj | None,
    mutating: Obj | None,
    exp: ScenarioExpectations,
    *,
    diagnostics: str,
    expected_hub: str | None = None,
    probe: InjectionProbe | None = None,
) -> Verdict:
    """Every pod in the sample namespace of ``role`` is Ready with a sidecar from the external injector,
    and a new pod (``probe``, a server-side dry run) is injected by it now.

    Evidence that the *external* injector did it: the sidecar's ``PROXY_CONFIG`` names the
    external control plane as discovery address, its ``ISTIO_META_CLUSTER_ID`` is the cluster
    name the external injector learnt from this remote's injection path, no istiod or
    sidecar-injector pod runs on the remote, and no injector webhook other than the expected
    ones is configured there.
    """
    namespace = exp.sample_namespace
    cluster_name = exp.cluster_names.get(role)
    expected_mutating = {hook.name for hook in exp.webhooks.get(role, ()) if hook.kind == "mutating"}
    expected_targets = {
        hook.url if hook.url else f"service {exp.external_namespace}/{exp.istiod_deployment}{hook.path or ''}"
        for hook in exp.webhooks.get(role, ())
        if hook.kind == "mutating"
    }
    # Pods being deleted (an old ReplicaSet's) are on their way out, not part of the mesh's state.
    pod_list = live_pods(pods)
    problems: list[str] = []
    observed: list[str] = []

    problems.extend(_missing_workloads(role, pod_list, exp))
    for pod in pod_list:
        found, summary = pod_problems(pod, exp, cluster_name, expected_hub)
        observed.append(summary)
        problems.extend(f"{role}: pod {name_of(pod)}: {problem}" for problem in found)

    findings: list[Finding] = []
    if probe is not None:
        for problem in probe_problems(probe, exp, expected_hub):
            if probe.returncode != 0 and UPSTREAM_VERIFY_FAILED.search(problem):
                findings.append(Finding(GATEWAY_SYSTEM_ROOTS, problem))
            else:
                problems.append(problem)
        observed.append(f"a new pod {'is injected' if probe.returncode == 0 else 'is refused'} (dry run)")
    for injector in items(local_injector_pods):
        problems.append(f"{role}: a local injector runs on the remote cluster: pod {name_of(injector)}")
    for config in items(mutating):
        name = (config.get("metadata") or {}).get("name", "")
        injector_hooks = [
            hook
            for hook in config.get("webhooks") or []
            if str(hook.get("name", "")).endswith(INJECTOR_WEBHOOK_SUFFIX)
        ]
        if injector_hooks and name not in expected_mutating:
            # A revision tag's webhooks (``istio-revision-tag-default-...``, rendered by the
            # remote profile with ``defaultRevision``) calling the same external injector are
            # the external control plane's too; anything calling elsewhere is a local injector.
            targets = {_client_target(hook.get("clientConfig") or {}) for hook in injector_hooks}
            foreign = sorted(targets - expected_targets)
            if foreign:
                problems.append(
                    f"{role}: unexpected sidecar injector webhook configuration {name} -> {join(foreign)}"
                )

    expected = (
        f"{role}: every pod in {namespace} Ready with an {SIDECAR} sidecar (container or native sidecar), "
        f"image {(expected_hub + '/') if expected_hub else ''}{PROXY_IMAGE_NAME}:{exp.proxy_image_tag}, "
        f"discovery address {exp.discovery_address}"
        + (f", cluster id {cluster_name}" if cluster_name else "")
        + f"; pods for helloworld {join(exp.workloads.get(role, ()))} and {exp.client_app}; "
        f"no local injector (only webhooks {join(sorted(expected_mutating))})"
    )
    return Verdict(
        f"injection/sidecars[{role}]",
        expected,
        f"{role}: " + (join(observed) if observed else f"no pods in {namespace}"),
        diagnostics,
        problems=tuple(problems),
        findings=tuple(findings),
        evidence={
            f"{role}-pods": pods or {},
            f"{role}-local-injector-pods": local_injector_pods or {},
            f"{role}-mutating-webhook-configurations": mutating or {},
        },
    )


def _missing_workloads(role: Role, pods: list[Obj], exp: ScenarioExpectations) -> list[str]:
    def labels(pod: Obj) -> dict[str, str]:
        return dict((pod.get("metadata") or {}).get("labels") or {})

    problems = []
    for version in exp.workloads.get(role, ()):
        if not any(
            labels(pod).get("app") == "helloworld" and labels(pod).get("version") == version for pod in pods
        ):
            problems.append(f"{role}: no helloworld {version} pod in {exp.sample_namespace}")
    if not any(labels(pod).get("app") == exp.client_app for pod in pods):
        problems.append(f"{role}: no {exp.client_app} client pod in {exp.sample_namespace}")
    return problems


def pod_problems(
    pod: Obj,
    exp: ScenarioExpectations,
    cluster_name: str | None,
    expected_hub: str | None,
    *,
    ready: bool = True,
) -> tuple[list[str], str]:
    """Why ``pod`` is not Ready with the release's proxy from the external injector (its image,
    discovery address and cluster ID), and a one-line summary of it."""
    problems: list[str] = []
    if ready and not condition_true(pod, "Ready"):
        problems.append(
            f"not Ready ({describe_condition(pod, 'Ready')}, phase {(pod.get('status') or {}).get('phase')})"
        )
    sidecar, why_not = find_sidecar(pod)
    if sidecar is None:
        problems.append(str(why_not))
        return problems, f"{name_of(pod)} without sidecar"
    image = str(sidecar.container.get("image", ""))
    if image_tag(image) != exp.proxy_image_tag or not image_repository(image).endswith(
        f"/{PROXY_IMAGE_NAME}"
    ):
        problems.append(
            f"{SIDECAR} image {image} is not {PROXY_IMAGE_NAME}:{exp.proxy_image_tag} "
            "(the release under test)"
        )
    elif expected_hub and not image.startswith(f"{expected_hub}/"):
        problems.append(f"{SIDECAR} image {image} is not from hub {expected_hub}")
    # The injector omits fields equal to Istio's defaults from PROXY_CONFIG.
    discovery = proxy_config(sidecar.container).get("discoveryAddress") or DEFAULT_DISCOVERY_ADDRESS
    if discovery != exp.discovery_address:
        problems.append(
            f"{SIDECAR} discovery address is {discovery}, not the external control plane "
            f"{exp.discovery_address} (injected by another injector?)"
        )
    cluster = container_env(sidecar.container, "ISTIO_META_CLUSTER_ID")
    if cluster_name and cluster != cluster_name:
        problems.append(
            f"{SIDECAR} was injected for cluster {cluster!r}, not {cluster_name!r} "
            "(the external injector takes it from this remote's injection path)"
        )
    form = "native sidecar" if sidecar.native else "sidecar container"
    return problems, f"{name_of(pod)} ({form} {image}, discovery {discovery}, cluster {cluster})"


def _client_target(client: Obj) -> str:
    if client.get("url"):
        return str(client["url"])
    service = client.get("service") or {}
    return f"service {service.get('namespace')}/{service.get('name')}{service.get('path', '')}"


def sidecar_proxy_ids(pods: Obj | None) -> dict[str, Obj]:
    """``<pod>.<namespace>`` (the proxy id istiod knows a sidecar by) -> pod, for injected pods."""
    result: dict[str, Obj] = {}
    for pod in live_pods(pods):
        sidecar, _ = find_sidecar(pod)
        if sidecar is not None:
            meta = pod.get("metadata") or {}
            result[f"{meta.get('name')}.{meta.get('namespace')}"] = pod
    return result


def sync_problems(entry: Obj) -> list[str]:
    """Why istiod does not consider this proxy synced (every sent xDS type acked with the same nonce)."""
    problems = []
    for short, (sent_key, acked_key) in XDS_TYPES.items():
        sent, acked = entry.get(sent_key) or "", entry.get(acked_key) or ""
        if not sent:
            if short in REQUIRED_XDS_TYPES:
                problems.append(f"{short} never sent")
        elif acked != sent:
            problems.append(f"{short} stale (sent {sent}, acked {acked or 'nothing'})")
    for type_url, status in sorted((entry.get("resources") or {}).items()):
        if status.get("lastError"):
            problems.append(f"{type_url.rsplit('.', 1)[-1]} rejected: {status['lastError']}")
    return problems


def evaluate_proxies_synced(
    role: Role,
    pods: Obj | None,
    syncz: list[Obj],
    exp: ScenarioExpectations,
    *,
    diagnostics: str,
    check_proxy_version: bool = True,
) -> Verdict:
    """The external istiod lists every injected pod of ``role`` as connected and synced.

    ``syncz`` is the union of ``/debug/syncz`` from every external istiod replica (a proxy is
    connected to one of them).
    """
    by_id: dict[str, list[Obj]] = {}
    for entry in syncz:
        by_id.setdefault(str(entry.get("proxy")), []).append(entry)
    cluster_name = exp.cluster_names.get(role)
    proxies = sidecar_proxy_ids(pods)
    problems: list[str] = []
    observed: list[str] = []
    if not proxies:
        problems.append(f"{role}: no injected pods in {exp.sample_namespace} to look up")
    for proxy_id in sorted(proxies):
        # Two clusters may run pods of the same name: prefer the entry from this cluster.
        candidates = by_id.get(proxy_id, [])
        own = [candidate for candidate in candidates if candidate.get("cluster_id") == cluster_name]
        matches = own or candidates
        if not matches:
            problems.append(f"{role}: proxy {proxy_id} is not connected to the external istiod")
            observed.append(f"{proxy_id}: unknown")
            continue
        entry = matches[0]
        entry_problems = sync_problems(entry)
        if cluster_name and entry.get("cluster_id") != cluster_name:
            entry_problems.append(
                f"connected as cluster {entry.get('cluster_id')!r}, expected {cluster_name!r}"
            )
        version = entry.get("istio_version")
        if check_proxy_version and version and version != exp.istio_version:
            entry_problems.append(f"proxy reports Istio {version}, expected {exp.istio_version}")
        problems.extend(f"{role}: proxy {proxy_id}: {problem}" for problem in entry_problems)
        observed.append(
            f"{proxy_id}: {'NOT synced' if entry_problems else 'synced'} (cluster {entry.get('cluster_id')})"
        )
    evidence: dict[str, Any] = {f"{role}-syncz": syncz}
    return Verdict(
        f"injection/proxies-synced[{role}]",
        f"{role}: the external istiod lists every injected pod in {exp.sample_namespace} as connected"
        + (f" from cluster {cluster_name}" if cluster_name else "")
        + ", with CDS and LDS sent and every sent xDS type acked",
        f"{role}: {join(observed)}; istiod knows {len(syncz)} proxies in total",
        diagnostics,
        problems=tuple(problems),
        evidence=evidence,
    )
