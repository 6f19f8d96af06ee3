"""Readers: the cluster state the checks judge, read through the suite's cluster handles.

Every read is a ``kubectl`` call through ``ClusterHandle`` (so the one command runner logs,
times and redacts it), except the remote secret, which is read through the Kubernetes API
so its payload (a kubeconfig with a token) never reaches a log or an attachment: only its
metadata and the names of its data keys leave this module.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from clusters.cluster import ClusterHandle, Topology
from install.upgrade_outcome import InstalledScenarioView
from run.timeouts import CHECK_CURL_CONNECT, CHECK_CURL_MAX, CHECK_READ
from scenarios.expectations import IngressExpectation, ScenarioExpectations
from scenarios.steps import Role
from suites.evaluation.evaluators.controlplane import ISTIOD_CONTAINER
from suites.evaluation.evaluators.injection import INJECTION_PROBE, InjectionProbe
from suites.evaluation.evaluators.k8s import Obj, condition_true, items, lb_addresses
from suites.evaluation.evaluators.traffic import STATUS_MARKER, Batch, parse_responses
from suites.evaluation.evaluators.validation import Probe, ProbeOutcome

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
LOCAL_INJECTOR_SELECTORS = ("app=istiod", "app=sidecar-injector")
HELLOWORLD_PORT = 5000


# What the checks need from an installed scenario (declared once, in install/upgrade_outcome.py).
InstalledScenarioLike = InstalledScenarioView


def _json_or_none(stdout: str) -> Obj | None:
    text = stdout.strip()
    if not text:
        return None
    parsed = json.loads(text)
    return parsed if isinstance(parsed, dict) else None


@dataclass
class Observer:
    """Reads one installed scenario's state. Thin on purpose: judging is for suites/evaluation/evaluators/."""

    topology: Topology
    exp: ScenarioExpectations

    @classmethod
    def of(cls, installed: InstalledScenarioLike) -> Observer:
        return cls(installed.topology, installed.expectations)

    def cluster(self, role: Role) -> ClusterHandle:
        return self.topology[role]

    def get(self, role: Role, *args: str) -> Obj | None:
        """``kubectl get ARGS -o json``; ``None`` when the named object does not exist."""
        result = self.cluster(role).kubectl(
            "get", *args, "--ignore-not-found", "-o", "json", timeout_s=CHECK_READ.seconds()
        )
        return _json_or_none(result.stdout)

    def get_list(self, role: Role, *args: str) -> Obj:
        return self.get(role, *args) or {"kind": "List", "items": []}

    # --- control plane ------------------------------------------------------------------

    def istiod_deployment(self) -> Obj | None:
        return self.get(
            "external", "deployment", self.exp.istiod_deployment, "-n", self.exp.external_namespace
        )

    def istiod_pods(self, deployment: Obj | None) -> Obj:
        return self.deployment_pods("external", self.exp.external_namespace, deployment)

    def deployment_pods(self, role: Role, namespace: str, deployment: Obj | None) -> Obj:
        """The pods a Deployment in ``namespace`` selects (its ``matchLabels``)."""
        if deployment is None:
            return {"kind": "List", "items": []}
        labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
        return self.get_list(role, "pods", "-n", namespace, "-l", selector)

    def istiod_reported_version(self, pods: Obj) -> str | None:
        """What ``pilot-discovery version`` says in the first Ready istiod pod."""
        pod = _first_ready(pods)
        if pod is None:
            return None
        result = self.cluster("external").kubectl(
            "exec",
            "-n",
            self.exp.external_namespace,
            pod,
            "-c",
            ISTIOD_CONTAINER,
            "--",
            "pilot-discovery",
            "version",
            "-o",
            "json",
            timeout_s=CHECK_READ.seconds(),
        )
        parsed = _json_or_none(result.stdout) or {}
        version = (parsed.get("clientVersion") or {}).get("version")
        return str(version) if version else None

    def gateway_service(self) -> Obj | None:
        return self.get("external", "service", self.exp.gateway_service, "-n", self.exp.gateway_namespace)

    def remote_secret_metadata(self, role: Role) -> Obj | None:
        """The remote secret's metadata and data key names; its values are dropped unread."""
        from kubernetes import client

        namespace, name = self.exp.remote_secrets[role]
        api = client.CoreV1Api(self.cluster("external").api())
        try:
            # A request timeout, like every kubectl read here: a hung API server fails the check.
            secret = api.read_namespaced_secret(name, namespace, _request_timeout=CHECK_READ.seconds())
        except client.ApiException as error:
            if error.status == 404:
                return None
            raise
        meta = secret.metadata or client.V1ObjectMeta()
        return secret_summary(
            meta.name, meta.namespace, meta.labels or {}, meta.annotations or {}, secret.data or {}
        )

    def cluster_uid(self, role: Role) -> str | None:
        """The UID of ``role``'s ``kube-system`` namespace: what istioctl names a cluster by
        when ``create-remote-secret`` is given no ``--name``."""
        namespace = self.get(role, "namespace", "kube-system")
        uid = ((namespace or {}).get("metadata") or {}).get("uid")
        return str(uid) if uid else None

    def webhook_configurations(self, role: Role) -> tuple[Obj, Obj]:
        """(mutating, validating) webhook configuration lists of a cluster."""
        return (
            self.get_list(role, "mutatingwebhookconfigurations"),
            self.get_list(role, "validatingwebhookconfigurations"),
        )

    # --- injection -----------------------------------------------------------------------

    def sample_pods(self, role: Role) -> Obj:
        return self.get_list(role, "pods", "-n", self.exp.sample_namespace)

    def injection_probe(self, role: Role) -> InjectionProbe:
        """A new pod in the sample namespace, created with ``--dry-run=server``: the API server
        calls the injection webhook now (nothing is stored), so the answer shows whether the
        external injector injects today, or the API server's error calling it."""
        manifest = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": INJECTION_PROBE,
                "namespace": self.exp.sample_namespace,
                "labels": {"app": INJECTION_PROBE},
            },
            "spec": {"containers": [{"name": "probe", "image": "registry.k8s.io/pause:3.10"}]},
        }
        result = self.cluster(role).kubectl(
            "create",
            "--dry-run=server",
            "-o",
            "json",
            "-f",
            "-",
            stdin=json.dumps(manifest),
            check=False,
            timeout_s=CHECK_READ.seconds(),
            title=f"[{role}] dry-run a new pod in {self.exp.sample_namespace} (is it injected now?)",
        )
        pod = _json_or_none(result.stdout) if result.returncode == 0 else None
        return InjectionProbe(role, result.returncode, pod, result.stderr.strip())

    def local_injector_pods(self, role: Role) -> Obj:
        found: list[Obj] = []
        for selector in LOCAL_INJECTOR_SELECTORS:
            found.extend(items(self.get_list(role, "pods", "--all-namespaces", "-l", selector)))
        return {"kind": "List", "items": found}

    def syncz(self) -> list[Obj]:
        """``/debug/syncz`` of every external istiod replica, merged (a proxy talks to one of them)."""
        entries: list[Obj] = []
        for parsed in self.istiod_debug("/debug/syncz").values():
            entries.extend(entry for entry in parsed or [] if isinstance(entry, dict))
        return entries

    def istiod_debug(self, path: str) -> dict[str, Any]:
        """istiod pod -> the parsed JSON its debug endpoint ``path`` returns, for every Ready
        replica (through ``kubectl exec``: in kwok mode that reaches the real process)."""
        answers: dict[str, Any] = {}
        for pod in items(self.istiod_pods(self.istiod_deployment())):
            if not condition_true(pod, "Ready"):
                continue
            name = pod["metadata"]["name"]
            result = self.cluster("external").kubectl(
                "exec", "-n", self.exp.external_namespace, name, "-c", ISTIOD_CONTAINER, "--",
                "pilot-discovery", "request", "GET", path,
                timeout_s=CHECK_READ.seconds(),
            )  # fmt: skip
            answers[name] = json.loads(result.stdout or "null")
        return answers

    # --- validation ----------------------------------------------------------------------

    def dry_run(
        self, role: Role, probe: Probe, labels: dict[str, str], configuration: str = ""
    ) -> ProbeOutcome:
        """Send one probe with ``kubectl create --dry-run=server``: admission runs, nothing is stored."""
        result = self.cluster(role).kubectl(
            "create",
            "--dry-run=server",
            "-o",
            "name",
            "-f",
            "-",
            stdin=yaml.safe_dump(probe.manifest, sort_keys=False),
            check=False,
            timeout_s=CHECK_READ.seconds(),
            title=f"[{role}] dry-run {probe.kind} {probe.name} {labels or ''}".rstrip(),
        )
        return ProbeOutcome(probe, labels, result.returncode, result.stdout, result.stderr, configuration)

    def probe_leftovers(self, role: Role, probes: Iterable[Probe]) -> list[str]:
        leftovers = []
        for probe in {(p.kind, p.name): p for p in probes}.values():
            namespace = str(probe.manifest["metadata"]["namespace"])
            kind = f"{probe.kind.lower()}s.networking.istio.io"
            if self.get(role, kind, probe.name, "-n", namespace) is not None:
                leftovers.append(f"{probe.kind} {namespace}/{probe.name}")
        return leftovers

    # --- traffic -------------------------------------------------------------------------

    def client_pod(self, role: Role) -> str:
        pods = self.get_list(
            role, "pods", "-n", self.exp.sample_namespace, "-l", f"app={self.exp.client_app}"
        )
        pod = _first_ready(pods)
        if pod is None:
            raise LookupError(
                f"no Ready {self.exp.client_app} pod in {self.exp.sample_namespace} on {role}; "
                f"pods: {[p['metadata']['name'] for p in items(pods)]}"
            )
        return pod

    def mesh_url(self) -> str:
        return f"http://helloworld.{self.exp.sample_namespace}:{HELLOWORLD_PORT}/hello"

    def ingress_url(self, ingress: IngressExpectation) -> str:
        """``http://<load balancer address>:<http port><path>`` of the sample's ingress gateway."""
        service = self.get(ingress.role, "service", ingress.service, "-n", ingress.namespace)
        if service is None:
            raise LookupError(f"no Service {ingress.namespace}/{ingress.service} on {ingress.role}")
        addresses = lb_addresses(service)
        if not addresses:
            raise LookupError(
                f"Service {ingress.namespace}/{ingress.service} on {ingress.role} has no LoadBalancer address"
            )
        host = f"[{addresses[0]}]" if ":" in addresses[0] else addresses[0]
        return f"http://{host}:{_http_port(service)}{ingress.path}"

    def curl_batch(self, role: Role, url: str, count: int, vantage: str) -> Batch:
        """``count`` sequential requests from the client pod in ``role``, one ``kubectl exec``.

        curl's URL globbing (``?eicp=[1-N]``) makes N transfers in one process; the query
        string does not take part in Envoy's path matching. ``--write-out`` ends each
        response with a status line so failed transfers are counted too.
        """
        pod = self.client_pod(role)
        result = self.cluster(role).kubectl(
            "exec",
            "-n",
            self.exp.sample_namespace,
            pod,
            "-c",
            self.exp.client_app,
            "--",
            "curl",
            "-sS",
            "--connect-timeout",
            str(CHECK_CURL_CONNECT.seconds()),
            "--max-time",
            str(CHECK_CURL_MAX.seconds()),
            "--write-out",
            f"\n{STATUS_MARKER}%{{http_code}}\n",
            f"{url}?eicp=[1-{count}]",
            check=False,
            timeout_s=CHECK_READ.seconds() + count * (CHECK_CURL_MAX.seconds() / 4),
            title=f"[{role}] {count} requests {vantage} -> {url}",
        )
        return Batch(vantage, url, count, tuple(parse_responses(result.stdout)), result.stderr)


def secret_summary(
    name: str | None,
    namespace: str | None,
    labels: dict[str, str],
    annotations: dict[str, str],
    data: dict[str, Any],
) -> Obj:
    """What a check may see of a Secret: metadata (no last-applied copy) and the names of its keys."""
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels),
            "annotations": {key: value for key, value in annotations.items() if key != LAST_APPLIED},
        },
        "dataKeys": sorted(data),
    }


def _first_ready(pods: Obj) -> str | None:
    for pod in items(pods):
        if condition_true(pod, "Ready") and not (pod.get("metadata") or {}).get("deletionTimestamp"):
            return str(pod["metadata"]["name"])
    return None


def _http_port(service: Obj) -> int:
    ports: list[dict[str, Any]] = (service.get("spec") or {}).get("ports") or []
    for wanted in ("http2", "http"):
        for port in ports:
            if port.get("name") == wanted:
                return int(port["port"])
    return 80
