"""Control plane evaluators: the external istiod, its gateway, the remote secrets, the webhooks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scenarios.expectations import ScenarioExpectations, WebhookExpectation
from scenarios.steps import Role
from suites.evaluation.evaluators.k8s import (
    Obj,
    condition_true,
    describe_condition,
    host_of,
    image_tag,
    is_ip,
    items,
    join,
    lb_addresses,
    name_of,
)
from suites.evaluation.evaluators.revision_tags import unlisted_revision_tag
from suites.evaluation.evaluators.verdict import Verdict

ISTIOD_CONTAINER = "discovery"
MULTICLUSTER_LABEL = "istio/multiCluster"
CLUSTER_ANNOTATION = "networking.istio.io/cluster"
CONFIG_SECRET_NAME = (
    "istio-kubeconfig"  # create-remote-secret --type=config (remote_secret.go configSecretName)
)
CONFIG_SECRET_KEY = "config"  # ... and its data key (configSecretKey)


def evaluate_istiod(
    deployment: Obj | None,
    pods: Obj | None,
    reported_version: str | None,
    exp: ScenarioExpectations,
    *,
    diagnostics: str,
    check_reported_version: bool = True,
) -> Verdict:
    """The external istiod Deployment is Available, fully rolled out and runs the release under test.

    ``pods`` are the Deployment's pods (their images prove what actually runs);
    ``reported_version`` is what ``pilot-discovery version`` says inside one of them. A custom
    build reports whatever its build stamped, so its version is not compared
    (``check_reported_version=False``); its image tag still is.
    """
    where = f"{exp.external_namespace}/{exp.istiod_deployment} on the external cluster"
    expected = f"Deployment {where} Available, every replica updated, images tagged {exp.proxy_image_tag}"
    if check_reported_version:
        expected += f", pilot-discovery reporting version {exp.istio_version}"
    if deployment is None:
        return Verdict(
            "controlplane/istiod",
            expected,
            "the Deployment does not exist",
            diagnostics,
            problems=(f"no Deployment {where}",),
        )
    problems, rollout = _rollout_problems(deployment)

    template_image = _container_image((deployment.get("spec") or {}).get("template") or {}, ISTIOD_CONTAINER)
    if template_image is None:
        problems.append(f"the pod template has no {ISTIOD_CONTAINER!r} container")
    elif image_tag(template_image) != exp.proxy_image_tag:
        problems.append(f"pod template image {template_image} is not tagged {exp.proxy_image_tag}")

    running = []
    for pod in items(pods):
        for status_entry in (pod.get("status") or {}).get("containerStatuses") or []:
            if status_entry.get("name") != ISTIOD_CONTAINER:
                continue
            image = str(status_entry.get("image", ""))
            running.append(f"{name_of(pod)}={image}")
            if image_tag(image) != exp.proxy_image_tag:
                problems.append(f"pod {name_of(pod)} runs {image}, not tag {exp.proxy_image_tag}")
    if not running:
        problems.append("no running istiod pod of this Deployment was found")

    if check_reported_version and reported_version != exp.istio_version:
        problems.append(f"pilot-discovery reports version {reported_version or '<nothing>'}")
    observed = (
        f"{describe_condition(deployment, 'Available')}, {rollout}, "
        f"template image {template_image}, pods {join(running)}, reported version {reported_version}"
    )
    return Verdict(
        "controlplane/istiod",
        expected,
        observed,
        diagnostics,
        problems=tuple(problems),
        evidence={"istiod-deployment": deployment, "istiod-pods": pods or {}},
    )


def _rollout_problems(deployment: Obj) -> tuple[list[str], str]:
    problems: list[str] = []
    status = deployment.get("status") or {}
    if not condition_true(deployment, "Available"):
        problems.append(f"Deployment is not Available: {describe_condition(deployment, 'Available')}")
    wanted = (deployment.get("spec") or {}).get("replicas", 1)
    updated, available = status.get("updatedReplicas", 0), status.get("availableReplicas", 0)
    if updated < wanted or available < wanted:
        problems.append(f"rollout incomplete: {updated} updated / {available} available of {wanted} replicas")
    generation = (deployment.get("metadata") or {}).get("generation")
    if generation is not None and status.get("observedGeneration", 0) < generation:
        problems.append(f"controller has not observed generation {generation} yet")
    return problems, f"{available}/{wanted} available"


def _container_image(pod_template: Obj, container: str) -> str | None:
    for entry in (pod_template.get("spec") or {}).get("containers") or []:
        if entry.get("name") == container:
            image = entry.get("image")
            return str(image) if image else None
    return None


def evaluate_gateway(service: Obj | None, exp: ScenarioExpectations, *, diagnostics: str) -> Verdict:
    """The external gateway Service has a LoadBalancer address, and it is the address proxies use."""
    where = f"Service {exp.gateway_namespace}/{exp.gateway_service} on the external cluster"
    discovery_host = host_of(exp.discovery_address) if exp.discovery_address else ""
    expected = f"{where} of type LoadBalancer with an ingress address"
    if discovery_host and is_ip(discovery_host):
        expected += f" equal to the discovery address host {discovery_host}"
    if service is None:
        return Verdict(
            "controlplane/gateway", expected, "no such Service", diagnostics, problems=(f"no {where}",)
        )
    problems: list[str] = []
    kind = (service.get("spec") or {}).get("type")
    if kind != "LoadBalancer":
        problems.append(f"Service type is {kind}, not LoadBalancer")
    addresses = lb_addresses(service)
    if not addresses:
        problems.append(
            "the LoadBalancer has no ingress address (is cloud-provider-kind or a cloud LB serving it?)"
        )
    elif discovery_host and is_ip(discovery_host) and discovery_host not in addresses:
        problems.append(
            f"proxies are told to reach istiod at {discovery_host}, "
            f"but the gateway's addresses are {join(addresses)}"
        )
    return Verdict(
        "controlplane/gateway",
        expected,
        f"type {kind}, load balancer addresses {join(addresses)}",
        diagnostics,
        problems=tuple(problems),
        evidence={"external-gateway-service": service},
    )


def evaluate_remote_secrets(
    secrets: dict[Role, Obj | None],
    exp: ScenarioExpectations,
    *,
    diagnostics: str,
    cluster_uids: Mapping[Role, str | None] | None = None,
) -> Verdict:
    """Each expected remote secret exists on the external cluster, labelled for istiod, for its cluster.

    What ``istioctl create-remote-secret`` writes (istioctl/pkg/multicluster/remote_secret.go):
    the ``networking.istio.io/cluster`` annotation holds ``--name`` or, without it, the UID of
    the source cluster's ``kube-system`` namespace; the kubeconfig is keyed by that same value,
    except in the config cluster's ``istio-kubeconfig`` (``--type=config``), keyed ``config``.
    ``cluster_uids`` are those UIDs per role, read from each cluster.

    ``secrets`` hold metadata and the *names* of the data keys only (see readers.py): the
    payload is a kubeconfig with a token and never reaches a check.
    """
    problems: list[str] = []
    observed: list[str] = []
    uids = cluster_uids or {}
    for role, (namespace, name) in sorted(exp.remote_secrets.items()):
        secret = secrets.get(role)
        if secret is None:
            problems.append(f"{role}: no Secret {namespace}/{name} on the external cluster")
            observed.append(f"{role}: missing")
            continue
        meta = secret.get("metadata") or {}
        labels = meta.get("labels") or {}
        named = (meta.get("annotations") or {}).get(CLUSTER_ANNOTATION)
        keys = list(secret.get("dataKeys") or [])
        observed.append(
            f"{role}: {namespace}/{name} label {MULTICLUSTER_LABEL}={labels.get(MULTICLUSTER_LABEL)}, "
            f"cluster {named}, keys {join(keys)}"
        )
        if _labelled(name, exp) and labels.get(MULTICLUSTER_LABEL) != "true":
            problems.append(f"{role}: Secret {namespace}/{name} lacks label {MULTICLUSTER_LABEL}=true")
        if not _labelled(name, exp) and MULTICLUSTER_LABEL in labels:
            problems.append(
                f"{role}: Secret {namespace}/{name} carries label {MULTICLUSTER_LABEL}, which the "
                "unlabelled-config-secret workaround removes"
            )
        if not keys:
            problems.append(f"{role}: Secret {namespace}/{name} holds no kubeconfig")
            continue
        problems.extend(_secret_identity_problems(role, namespace, name, named, keys, exp, uids.get(role)))
    if not exp.remote_secrets:
        problems.append("the scenario's expectations name no remote secret (a renderer bug)")
    expected = "; ".join(
        f"{role}: Secret {ns}/{name} "
        + (
            f"labelled {MULTICLUSTER_LABEL}=true"
            if _labelled(name, exp)
            else f"without label {MULTICLUSTER_LABEL}"
        )
        + " for cluster "
        f"{_accepted_ids(exp.cluster_names.get(role), uids.get(role))}, keyed "
        f"{CONFIG_SECRET_KEY if name == CONFIG_SECRET_NAME else 'by that cluster'}"
        for role, (ns, name) in sorted(exp.remote_secrets.items())
    )
    return Verdict(
        "controlplane/remote-secret",
        expected or "at least one remote secret",
        "; ".join(observed) or "nothing",
        diagnostics,
        problems=tuple(problems),
        evidence={f"remote-secret-{role}-metadata": secret for role, secret in secrets.items() if secret},
    )


def _labelled(name: str, exp: ScenarioExpectations) -> bool:
    """Whether the Secret must carry istio/multiCluster=true: every remote secret does, the config
    cluster's ``istio-kubeconfig`` unless the run applies the unlabelled-config-secret workaround."""
    return name != CONFIG_SECRET_NAME or exp.config_secret_multicluster_label


def _accepted_ids(cluster: str | None, uid: str | None) -> str:
    ids = [value for value in (cluster, uid and f"kube-system UID {uid}") if value]
    return " or ".join(ids) or "?"


def _secret_identity_problems(
    role: Role,
    namespace: str,
    name: str,
    named: str | None,
    keys: list[str],
    exp: ScenarioExpectations,
    uid: str | None,
) -> list[str]:
    """The annotation names the role's cluster (its name, or its kube-system UID without
    ``--name``) and the kubeconfig sits under the key istioctl uses for that form."""
    cluster = exp.cluster_names.get(role)
    accepted = {value for value in (cluster, uid) if value}
    problems: list[str] = []
    if accepted and named not in accepted:
        problems.append(
            f"{role}: Secret {namespace}/{name} is for cluster {named!r} (keys {join(keys)}), "
            f"not {_accepted_ids(cluster, uid)}"
        )
    wanted_key = CONFIG_SECRET_KEY if name == CONFIG_SECRET_NAME else named
    if wanted_key and wanted_key not in keys:
        problems.append(
            f"{role}: Secret {namespace}/{name} has no kubeconfig key {wanted_key!r} (keys {join(keys)})"
        )
    return problems


def evaluate_webhooks(
    role: Role,
    mutating: Obj | None,
    validating: Obj | None,
    expectations: tuple[WebhookExpectation, ...],
    *,
    diagnostics: str,
) -> Verdict:
    """The webhook configurations on one remote: names, webhook counts, clientConfig and caBundle."""
    observed_by_kind = {
        "mutating": {obj["metadata"]["name"]: obj for obj in items(mutating)},
        "validating": {obj["metadata"]["name"]: obj for obj in items(validating)},
    }
    problems: list[str] = []
    evidence: dict[str, Any] = {}
    for expectation in expectations:
        config = observed_by_kind[expectation.kind].get(expectation.name)
        label = f"{role}: {expectation.kind} webhook configuration {expectation.name}"
        if config is None:
            present = join(sorted(observed_by_kind[expectation.kind]))
            problems.append(f"{label} is missing (present: {present})")
            continue
        evidence[f"{role}-{expectation.kind}-{expectation.name}"] = config
        problems.extend(f"{label}: {problem}" for problem in _webhook_problems(config, expectation))
    summary = {
        kind: join(f"{name}({len(obj.get('webhooks') or [])})" for name, obj in sorted(configs.items()))
        for kind, configs in observed_by_kind.items()
    }
    finding = unlisted_revision_tag(role, observed_by_kind["mutating"], expectations)
    return Verdict(
        f"controlplane/webhooks[{role}]",
        f"{role}: " + "; ".join(_describe_expectation(expectation) for expectation in expectations),
        f"{role}: mutating {summary['mutating']}; validating {summary['validating']}",
        diagnostics,
        problems=tuple(problems) if expectations else (f"{role}: no webhook expectations (a renderer bug)",),
        evidence=evidence,
        findings=(finding,) if finding else (),
    )


def _describe_expectation(expectation: WebhookExpectation) -> str:
    target = f"url {expectation.url}" if expectation.url else f"service path {expectation.path}"
    bundle = ", non-empty caBundle" if expectation.ca_bundle_required else ""
    count = f"{expectation.webhook_count} webhook(s)"
    return f"{expectation.kind} {expectation.name} with {count} -> {target}{bundle}"


def _webhook_problems(config: Obj, expectation: WebhookExpectation) -> list[str]:
    problems: list[str] = []
    webhooks = config.get("webhooks") or []
    if len(webhooks) != expectation.webhook_count:
        problems.append(f"has {len(webhooks)} webhook(s), expected {expectation.webhook_count}")
    for webhook in webhooks:
        name = webhook.get("name", "<unnamed>")
        client = webhook.get("clientConfig") or {}
        url, service = client.get("url"), client.get("service")
        if expectation.url is not None and url != expectation.url:
            actual = url or f"service {_describe_service(service)}"
            problems.append(f"webhook {name} calls {actual}, expected url {expectation.url}")
        if expectation.path is not None:
            if not service:
                problems.append(
                    f"webhook {name} calls url {url}, expected a service with path {expectation.path}"
                )
            elif service.get("path") != expectation.path:
                problems.append(
                    f"webhook {name} calls path {service.get('path')}, expected {expectation.path}"
                )
        if expectation.ca_bundle_required and not client.get("caBundle"):
            problems.append(
                f"webhook {name} has no caBundle (the external istiod or the suite should have set it)"
            )
    return problems


def _describe_service(service: Obj | None) -> str:
    if not service:
        return "<none>"
    where = f"{service.get('namespace')}/{service.get('name')}:{service.get('port', 443)}"
    return where + str(service.get("path", ""))
