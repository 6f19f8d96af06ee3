"""A simulated pair of kind clusters with ip-passthrough installed, for the end-to-end wiring test.

Fake ``kind``/``docker``/``kubectl``/``istioctl``/``helm``/``cloud-provider-kind`` (tests/fakeexec.py)
answer every command a ``pytest suites --scenario ip-passthrough`` session runs, from topology
creation through the install plan, the checks and the teardown. The cluster state the checks
read is built with tests/checks_fakes.py from the real renderer's expectations, so a healthy
install is described the way the API describes it. Namespaces are real fake state: created by
``kubectl create namespace`` and ``istioctl install``, removed by ``kubectl delete``, listed by
the uninstall snapshot, so the "clusters restored" proof compares what the run did.

The one API call that is not a command (the remote secret, read through the Kubernetes client
so its token never reaches a log) is answered by ``SecretApi``, a plain-HTTP stand-in for the
external cluster's API server that the simulated kubeconfigs point at.

As a pytest plugin (``-p tests.e2e_cluster_sim``) it turns off the host-limit preflight
(inotify, free memory) of the child session: this machine's limits are not under test.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml

from scenarios.common import RenderedScenario
from scenarios.expectations import ScenarioExpectations
from scenarios.facts import Facts
from scenarios.registry import render
from scenarios.releases import load_pins
from scenarios.steps import Role
from suites.evaluation.evaluators.balance import BATCH_SIZE
from suites.evaluation.evaluators.traffic import STATUS_MARKER
from suites.evaluation.judging import CONVERGENCE_BATCH
from tests import checks_fakes as fakes
from tests import gateway_fakes, xds_dumps
from tests.fakeexec import FakeTools
from tests.topology_child import NODE_IPS, RUN_ID, first, install_cluster_fakes

PREFIX = "eicp"
ROLES: tuple[Role, ...] = ("external", "remote")
CLUSTERS: dict[Role, str] = {role: f"{PREFIX}-{RUN_ID}-{role}" for role in ROLES}
GATEWAY_IP = "172.18.0.200"  # the external gateway's LoadBalancer address
INGRESS_IP = "172.18.0.201"  # the remote ingress gateway's
# The service-account token create-remote-secret puts in the remote secret: must never be reported.
REMOTE_SECRET_TOKEN = "eyJhbGciOiJSUzI1NiJ9.e2e-remote-secret-token.c2lnbmF0dXJl"
KUBECONFIG_TOKEN = "e2e-kind-admin-token-5f2a9c"  # the simulated kind kubeconfigs' credential
# Real istioctl create-remote-secret --type=config without --name (recorded on the kwok tier):
# the cluster annotation, kubeconfig names and users are the remote's kube-system namespace
# UID, the Secret's key is "config" (istioctl/pkg/multicluster/remote_secret.go).
REMOTE_UID = fakes.KUBE_SYSTEM_UID
SECRET_KEY = "config"
VERSION = str(load_pins().resolve_release("1.30").version)  # the release under test, from the table
KUBERNETES = "v1.34.0"  # the simulated API servers' version  # create-remote-secret keys the kubeconfig by cluster name


def rendered() -> RenderedScenario:
    """ip-passthrough on these clusters, rendered with every fact the install learns."""
    release = load_pins().resolve_release("1.30")
    facts = Facts(
        cluster_names=dict(CLUSTERS),
        api_servers={role: f"https://{NODE_IPS[role]}:6443" for role in ROLES},
        external_istiod_addr=GATEWAY_IP,
    )
    return render("ip-passthrough", release, facts)


def expectations() -> ScenarioExpectations:
    """What the real renderer expects of ip-passthrough on these clusters."""
    return rendered().expectations


def kubeconfig_of(server: str) -> str:
    # Written as a kind rule's output template: \1 is the cluster name from the rule's pattern.
    return (
        "apiVersion: v1\nkind: Config\nclusters:\n"
        f"- cluster: {{server: '{server}'}}\n  name: kind-\\1\n"
        "contexts:\n- context: {cluster: kind-\\1, user: kind-\\1}\n  name: kind-\\1\n"
        "current-context: kind-\\1\n"
        f"users:\n- name: kind-\\1\n  user: {{token: {KUBECONFIG_TOKEN}}}\n"
    )


def _remote_secret_yaml() -> str:
    """create-remote-secret's output for the config cluster (type config: ``istio-kubeconfig``)."""
    kubeconfig = yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": REMOTE_UID, "cluster": {"server": f"https://{NODE_IPS['remote']}:6443"}}],
            "contexts": [{"name": REMOTE_UID, "context": {"cluster": REMOTE_UID, "user": REMOTE_UID}}],
            "current-context": REMOTE_UID,
            "users": [{"name": REMOTE_UID, "user": {"token": REMOTE_SECRET_TOKEN}}],
        }
    )
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "istio-kubeconfig",
                "namespace": "external-istiod",
                "labels": {"istio/multiCluster": "true"},
                "annotations": {"networking.istio.io/cluster": REMOTE_UID},
            },
            "stringData": {SECRET_KEY: kubeconfig},
        }
    )


def _responses(count: int) -> str:
    body = "Hello version: v1, instance: helloworld-v1-776f57d5f6-s7zfc\n"
    return (body + f"{STATUS_MARKER}200\n") * count


def _denial(webhook: str, reason: str) -> str:
    return (
        'Error from server: error when creating "STDIN": admission webhook '
        f'"{webhook}" denied the request: configuration is invalid: {reason}\n'
    )


def install(tools: FakeTools, api_server: str) -> None:
    """Every fake executable the session runs, answering as a healthy ip-passthrough install."""
    install_cluster_fakes(tools)
    exp = expectations()
    first(tools.tools["kind"], r"^get kubeconfig --name (\S+)$", stdout=kubeconfig_of(api_server))
    _istioctl(tools)
    tools.install("helm").on(r"^version", stdout=load_pins().tools["helm"]["version"] + "+g1234567\n")
    _kubectl_install(tools)
    _kubectl_checks(tools, exp)


def _istioctl(tools: FakeTools) -> None:
    istioctl = tools.install("istioctl")
    istioctl.on(r"^version --remote=false --short$", stdout=f"{VERSION}\n")
    istioctl.on(r"^create-remote-secret ", stdout=_remote_secret_yaml())
    istioctl.on(
        r"^manifest generate -f \S+/([a-z-]+)\.yaml",
        stdout="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \\1, namespace: external-istiod}\n",
    )
    # istioctl install creates the namespace of the external gateway.
    istioctl.on(
        r"^install -y -f \S+/controlplane-gateway\.yaml",
        add_state=("namespaces-external", "namespace/istio-system"),
    )


def _kubectl_install(tools: FakeTools) -> None:
    kubectl = tools.tools["kubectl"]
    kubectl.on(
        r"--context kind-\S+ version -o json$",
        expand=False,
        stdout=json.dumps(
            {"clientVersion": {"gitVersion": "v1.37.0"}, "serverVersion": {"gitVersion": KUBERNETES}}
        ),
    )
    for role, name in CLUSTERS.items():
        context = rf"--context kind-{name} "
        # kubectl's name printer: "namespace/NAME" (core kinds have no group), one line an object.
        kubectl.on(
            context + r"create namespace (\S+) -o name$",
            stdout="namespace/\\1\n",
            add_state=(f"namespaces-{role}", r"namespace/\1"),
        )
        kubectl.on(context + r"delete .*(namespace/\S+)$", remove_state=(f"namespaces-{role}", r"\1"))
        kubectl.on(context + r"apply --server-side .* -o name -f -$", names_from_stdin=True)
        # The uninstall proof's listing: the namespaces that exist now, and kind's own.
        kubectl.on(
            context + r"get namespaces,customresourcedefinitions,\S+ -o name$",
            stdout="namespace/default\nnamespace/kube-system\n",
            stdout_from_state=f"namespaces-{role}",
        )
    external = rf"--context kind-{CLUSTERS['external']} "
    kubectl.on(
        external + r"get service/istio-ingressgateway -n istio-system -o json$",
        expand=False,
        stdout=json.dumps(fakes.lb_service(ip=GATEWAY_IP)),
    )
    # The rollout waits: istiod, the samples and the remote ingress gateway are Available.
    kubectl.on(
        r" get deployment/\S+ -n \S+ -o json$", expand=False, stdout=json.dumps(fakes.istiod_deployment())
    )


def _kubectl_checks(tools: FakeTools, exp: ScenarioExpectations) -> None:
    kubectl = tools.tools["kubectl"]
    external = rf"--context kind-{CLUSTERS['external']} "
    remote = rf"--context kind-{CLUSTERS['remote']} "
    read = r" --ignore-not-found -o json$"
    remote_id = CLUSTERS["remote"]
    discovery = f"{GATEWAY_IP}:15012"
    pods = fakes.sample_pods(("v1",), client=exp.client_app, cluster_id=remote_id, discovery=discovery)
    client = fakes.as_list(*(p for p in pods["items"] if p["metadata"]["labels"]["app"] == exp.client_app))
    istiod_pods = fakes.istiod_pods()
    mutating, validating = fakes.healthy_webhooks(exp)
    ingress = exp.ingress[0]
    # The remote ingress gateway, injected by the external istiod with the gateway template.
    gateway_pods = fakes.as_list(
        gateway_fakes.gateway_pod(
            ingress.service, namespace=ingress.namespace, cluster_id=remote_id, discovery=discovery
        )
    )

    kubectl.on(
        remote + r"get namespace kube-system" + read,
        expand=False,
        stdout=json.dumps({"kind": "Namespace", "metadata": {"name": "kube-system", "uid": REMOTE_UID}}),
    )
    kubectl.on(
        external + r"get deployment istiod -n external-istiod" + read,
        expand=False,
        stdout=json.dumps(fakes.istiod_deployment()),
    )
    kubectl.on(
        external + r"get pods -n external-istiod -l \S+" + read, expand=False, stdout=json.dumps(istiod_pods)
    )
    kubectl.on(
        external + r"exec -n external-istiod \S+ -c discovery -- pilot-discovery version -o json$",
        expand=False,
        stdout=json.dumps(
            {"clientVersion": {"version": VERSION, "revision": "e2e", "golang_version": "go1.25"}}
        ),
    )
    kubectl.on(
        external + r"exec -n external-istiod \S+ -c discovery -- pilot-discovery request GET /debug/syncz$",
        expand=False,
        stdout=json.dumps(fakes.syncz_for(pods, remote_id) + fakes.syncz_for(gateway_pods, remote_id)),
    )
    # istiod's registered clusters as the real one lists them following the guide: the config
    # cluster, and `config` from istio-kubeconfig (known issue config-cluster-registered-twice).
    clusterz = [
        {"id": remote_id, "secretName": "", "syncStatus": "synced"},
        {"id": "config", "secretName": "external-istiod/istio-kubeconfig", "syncStatus": "synced"},
    ]
    kubectl.on(
        external
        + r"exec -n external-istiod \S+ -c discovery -- pilot-discovery request GET /debug/clusterz$",
        expand=False,
        stdout=json.dumps(clusterz),
    )
    # The client's Envoy config dump, shaped as the kwok tier's istiod wrote it (v1 listed twice,
    # once per cluster id, as the real istiod sends it: Envoy keeps the first).
    v1 = next(p["status"]["podIP"] for p in pods["items"] if p["metadata"]["labels"]["app"] == "helloworld")
    dump = xds_dumps.helloworld_dump((v1, 5000, "config"), (v1, 5000, remote_id))
    kubectl.on(
        remote
        + r"exec -n sample \S+ -c istio-proxy -- pilot-agent request GET config_dump\?include_eds=true$",
        expand=False,
        stdout=json.dumps(dump),
    )
    # The external cluster's own webhooks: its istio-system istiod's, none of the external istiod's.
    kubectl.on(
        external + r"get mutatingwebhookconfigurations" + read,
        expand=False,
        stdout=json.dumps(gateway_fakes.external_cluster_webhooks()),
    )
    kubectl.on(
        external + r"get service istio-ingressgateway -n istio-system" + read,
        expand=False,
        stdout=json.dumps(fakes.lb_service(ip=GATEWAY_IP)),
    )

    kubectl.on(
        remote + r"get mutatingwebhookconfigurations" + read, expand=False, stdout=json.dumps(mutating)
    )
    kubectl.on(
        remote + r"get validatingwebhookconfigurations" + read, expand=False, stdout=json.dumps(validating)
    )
    kubectl.on(
        remote + rf"get pods -n sample -l app={exp.client_app}" + read,
        expand=False,
        stdout=json.dumps(client),
    )
    kubectl.on(remote + r"get pods -n sample" + read, expand=False, stdout=json.dumps(pods))
    kubectl.on(
        remote + rf"get deployment {ingress.service} -n {ingress.namespace}" + read,
        expand=False,
        stdout=json.dumps(gateway_fakes.gateway_deployment(ingress.service, namespace=ingress.namespace)),
    )
    kubectl.on(
        remote + rf"get pods -n {ingress.namespace} -l app={ingress.service}\S*" + read,
        expand=False,
        stdout=json.dumps(gateway_pods),
    )
    kubectl.on(
        remote + rf"get service {ingress.service} -n {ingress.namespace}" + read,
        expand=False,
        stdout=json.dumps(fakes.lb_service(name=ingress.service, namespace=ingress.namespace, ip=INGRESS_IP)),
    )
    # istiod's validating webhooks: reject the invalid probes with its message, admit the rest.
    webhook = next(hook["name"] for config in validating["items"] for hook in config["webhooks"])
    dry_run = remote + r"create --dry-run=server -o name -f -$"
    kubectl.on(
        dry_run,
        stdin_pattern=r"name: eicp-validation-probe-invalid-vs",
        exit=1,
        stderr=_denial(webhook, "invalid destination host *"),
    )
    kubectl.on(
        dry_run,
        stdin_pattern=r"name: eicp-validation-probe-invalid-dr",
        exit=1,
        stderr=_denial(webhook, "subset name is invalid: Not_A_Subset"),
    )
    kubectl.on(dry_run, stdout="created (server dry run)\n")
    # The injection check's new pod, created with --dry-run=server: returned injected.
    kubectl.on(
        remote + r"create --dry-run=server -o json -f -$",
        expand=False,
        stdout=json.dumps(
            fakes.pod(
                "eicp-injection-probe",
                app="eicp-injection-probe",
                cluster_id=remote_id,
                discovery=discovery,
                ready=False,
            )
        ),
    )
    # curl from the client pod: every request answered by helloworld v1.
    for count in (CONVERGENCE_BATCH, BATCH_SIZE):
        kubectl.on(
            remote + rf"exec -n sample \S+ -c {exp.client_app} -- curl (?s:.*)\?eicp=\[1-{count}\]$",
            stdout=_responses(count),
        )


# -- the external cluster's API server, for the remote secret ---------------------------------


def secret_object() -> dict[str, Any]:
    """The remote secret as the API returns it (the token inside its base64 data)."""
    secret = yaml.safe_load(_remote_secret_yaml())
    data = {key: base64.b64encode(value.encode()).decode() for key, value in secret.pop("stringData").items()}
    return {**secret, "data": data, "type": "Opaque"}


class SecretApi:
    """Answers ``GET /api/v1/namespaces/<ns>/secrets/<name>`` for the remote secret, 404 otherwise."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        secret = secret_object()
        path = f"/api/v1/namespaces/{secret['metadata']['namespace']}/secrets/{secret['metadata']['name']}"
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(self.path)
                found = self.path.split("?")[0] == path
                body = json.dumps(secret if found else {"kind": "Status", "code": 404, "reason": "NotFound"})
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @contextmanager
    def serving(self) -> Iterator[SecretApi]:
        thread = threading.Thread(target=self.server.serve_forever, name="e2e-secret-api", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join(timeout=5)


# -- as a plugin of the child session -----------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    import clusters.kind.lifecycle

    # This host's inotify limits and free memory are not what the wiring test is about.
    patch = pytest.MonkeyPatch()
    patch.setattr(clusters.kind.lifecycle, "check_inotify", lambda proc=None: [])
    patch.setattr(clusters.kind.lifecycle, "check_memory", lambda clusters, proc=None: [])
