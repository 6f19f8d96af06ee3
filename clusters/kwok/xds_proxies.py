"""Synthetic proxies (kwok mode): one xDS client per injected pod, as its sidecar would connect.

A kwok pod runs nothing, so the sidecar the external istiod injected never asks for
configuration. For every injected pod of a remote cluster this starts the suite's own xDS
client (programs/xdsclient, built from Istio's packages) with what the sidecar would use:

- the pod's service-account token, issued by that remote API server (``kubectl create token``,
  bound to the pod, registered with the redactor before it is ever passed on);
- the mesh root from the ``istio-ca-root-cert`` ConfigMap istiod wrote into the pod's namespace;
- the discovery address (``CA_ADDR``), cluster ID, network and the rest of the node metadata
  from the injected ``istio-proxy`` container's environment.

istiod then lists the pod's proxy in syncz and pushes it xDS; the client writes what it
received as an Envoy config dump, which the topology's proxy-config reader
(clusters/kwok/proxy_configs.py) hands to the data-plane checks. This is a stand-in, named as one
in the reports: no Envoy runs and no request is sent. It runs in the pod's cluster's network
namespace (``netns_of``), so it reaches the discovery address from that cluster's network and
resolves a discovery hostname (dns-tls) through that cluster's hosts file.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusters.cluster import ClusterHandle, ProviderError
from clusters.kwok.pilot_binaries import pilot_source
from clusters.kwok.proxy_roots import discovery_root, image_roots
from clusters.provider import ProviderContext, StepRecordLike
from programs.background import BackgroundProcess
from programs.private_files import make_private_dir, write_private
from programs.redaction import Redactor
from programs.runner import CommandError, CommandRunner
from programs.waits import wait_until
from programs.xds_client import XdsClientBuild, XdsClientUnavailable, go_revision_of
from run.timeouts import KWOK_PROXY_SYNC
from scenarios.releases import IstioRelease, load_pins
from scenarios.steps import Role

log = logging.getLogger("eicp.kwok.xds")

PROXY_CONTAINER = "istio-proxy"
TOKEN_DURATION = "2h"
STAND_IN = "sidecar proxies (synthetic xDS clients built from Istio's pkg/adsc; no Envoy, no traffic)"
TOKEN_VOLUME = "istio-token"  # the projected token the injector mounts for istio-agent


@dataclass
class SyntheticProxy:
    """One running client: which pod it speaks for, its process and its output file."""

    cluster: str
    namespace: str
    pod: str
    process: BackgroundProcess
    out_file: Path

    def received(self) -> dict[str, Any] | None:
        """The xDS the client last wrote (``None`` before its first CDS/EDS arrived)."""
        try:
            data: dict[str, Any] = json.loads(self.out_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data


@dataclass
class SyntheticProxies:
    binary: Path
    runner: CommandRunner
    redactor: Redactor
    work_dir: Path  # private (0700): tokens, workload keys and certificates live here
    netns_of: Callable[[Role], str] | None = None  # the network namespace of a role's pods
    image_roots: bytes = b""  # a proxy image's system roots, stood in (clusters/kwok/proxy_roots.py)
    proxies: dict[tuple[str, str, str], SyntheticProxy] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def step_recorded(self, record: StepRecordLike, clusters: Mapping[Role, ClusterHandle]) -> None:
        """After a passed wait of an install or upgrade step on a remote cluster (its workloads
        are Running: injected pods to speak for), attach; at the first uninstall step, stop all.
        Errors are logged and kept in ``problems``: the checks report them, the install goes on."""
        if record.phase == "uninstall":
            self.stop_all()
            return
        if record.action != "wait" or record.outcome != "passed" or record.role == "external":
            return
        cluster = clusters.get(record.role)
        if cluster is None:
            return
        try:
            self.attach(cluster)
        except (CommandError, OSError, ValueError, KeyError) as error:
            problem = f"{record.role}: synthetic proxies could not be started: {cluster.runner.redactor.redact(str(error))}"
            log.warning("%s", problem)
            self.problems.append(problem)

    def attach(self, cluster: ClusterHandle) -> list[SyntheticProxy]:
        """Start a client for every injected, running pod of ``cluster`` that has none yet, and
        stop those whose pod is gone (an old ReplicaSet's after a rollout)."""
        pods = injected_pods(cluster)
        current = {(cluster.role, pod["metadata"]["namespace"], pod["metadata"]["name"]) for pod in pods}
        for key in [key for key in self.proxies if key[0] == cluster.role and key not in current]:
            self.proxies.pop(key).process.stop()
        started = []
        for pod in pods:
            meta = pod["metadata"]
            key = (cluster.role, meta["namespace"], meta["name"])
            if key in self.proxies and self.proxies[key].process.running():
                continue
            address = container_env(pod, PROXY_CONTAINER)["CA_ADDR"]
            if _cluster_internal(address):
                log.info(
                    "no synthetic proxy for %s/%s (%s): its CA address %s needs cluster DNS",
                    meta["namespace"], meta["name"], cluster.role, address,
                )  # fmt: skip
                continue
            proxy = self._start(cluster, pod)
            self.proxies[key] = proxy
            started.append(proxy)
        for proxy in started:
            self._wait_synced(proxy)
        return started

    def of(self, role: str, namespace: str, pod: str) -> SyntheticProxy | None:
        return self.proxies.get((role, namespace, pod))

    def stop_all(self) -> None:
        for proxy in self.proxies.values():
            proxy.process.stop()
        self.proxies.clear()

    def _start(self, cluster: ClusterHandle, pod: dict[str, Any]) -> SyntheticProxy:
        meta, spec = pod["metadata"], pod["spec"]
        namespace, name = meta["namespace"], meta["name"]
        env = container_env(pod, PROXY_CONTAINER)
        account = spec.get("serviceAccountName") or "default"
        home = self.work_dir / cluster.role / namespace / name
        make_private_dir(home)
        # The token is a secret: not attached, and registered with the redactor at once.
        audience = token_audience(pod)
        token = cluster.runner.run(
            [
                cluster.kubectl_bin,
                *cluster.kube_args(),
                "create",
                "token",
                account,
                "-n",
                namespace,
                "--duration",
                TOKEN_DURATION,
                "--bound-object-kind",
                "Pod",
                "--bound-object-name",
                name,
                *(["--audience", audience] if audience else []),
            ],
            title=f"[{cluster.role}] kubectl create token {account} (for {namespace}/{name}'s synthetic proxy)",
            attach=False,
        ).stdout.strip()
        self.redactor.register(token)
        write_private(home / "token", token)
        root = cluster.kubectl(
            "get",
            "configmap",
            "istio-ca-root-cert",
            "-n",
            namespace,
            "-o",
            "jsonpath={.data.root-cert\\.pem}",
        ).stdout
        root, _ = discovery_root(env, root, self.image_roots)
        write_private(home / "root-cert.pem", root)
        write_private(home / "metadata.json", json.dumps(node_metadata(pod, env)))
        out_file = home / "xds.json"
        netns = ["ip", "netns", "exec", self.netns_of(cluster.role)] if self.netns_of else []
        process = self.runner.start(
            [
                *netns,
                self.binary,
                "-address",
                env["CA_ADDR"],
                "-root-cert",
                home / "root-cert.pem",
                "-token-file",
                home / "token",
                "-cluster-id",
                env.get("ISTIO_META_CLUSTER_ID", cluster.role),
                "-namespace",
                namespace,
                "-service-account",
                account,
                "-pod-name",
                name,
                "-pod-ip",
                pod.get("status", {}).get("podIP", ""),
                "-node-type",
                node_type(pod),
                "-metadata",
                home / "metadata.json",
                "-cert-dir",
                home / "certs",
                "-out",
                out_file,
                "-hold",
            ],
            log_file=home / "xdsclient.log",
            title=f"[{cluster.role}] synthetic proxy for {namespace}/{name}",
        )
        return SyntheticProxy(cluster.role, namespace, name, process, out_file)

    def _wait_synced(self, proxy: SyntheticProxy) -> None:
        def state() -> str:
            if not proxy.process.running():
                return f"exited {proxy.process.returncode()}: {_tail(proxy.process.log_file)}"
            return "running, nothing received yet" if proxy.received() is None else "synced"

        wait_until(
            f"synthetic proxy of {proxy.namespace}/{proxy.pod} ({proxy.cluster}) to receive CDS and EDS",
            state,
            deadline_s=KWOK_PROXY_SYNC.seconds(),
            until=lambda s: s == "synced" or s.startswith("exited"),
            show=lambda s: s,
        )
        if not proxy.process.running() and proxy.received() is None:
            raise CommandError(
                tuple(proxy.process.shown), proxy.process.returncode(), _tail(proxy.process.log_file)
            )


def injected_pods(cluster: ClusterHandle) -> list[dict[str, Any]]:
    """Running pods of ``cluster`` whose spec has the injected ``istio-proxy`` container
    (as a container, or as a restartable init container with native sidecars)."""
    listing = json.loads(cluster.kubectl("get", "pods", "-A", "-o", "json").stdout)
    pods = []
    for pod in listing.get("items", []):
        if pod.get("status", {}).get("phase") != "Running" or not pod.get("status", {}).get("podIP"):
            continue
        if _container(pod, PROXY_CONTAINER) is not None and "CA_ADDR" in container_env(pod, PROXY_CONTAINER):
            pods.append(pod)
    return pods


def container_env(pod: dict[str, Any], container: str) -> dict[str, str]:
    """The container's environment as the kubelet would give it (plain values and the
    downward-API field references a sidecar uses)."""
    spec = _container(pod, container) or {}
    env: dict[str, str] = {}
    for item in spec.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
            continue
        path = item.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        if path is not None:
            value = _field(pod, path)
            if value is not None:
                env[item["name"]] = value
    return env


def node_type(pod: dict[str, Any]) -> str:
    """``router`` for a gateway (its proxy runs ``proxy router``), else ``sidecar``."""
    return "router" if "router" in (_container(pod, PROXY_CONTAINER) or {}).get("args", []) else "sidecar"


def token_audience(pod: dict[str, Any]) -> str | None:
    """The audience of the pod's ``istio-token`` projected token (what istio-agent presents)."""
    for volume in pod.get("spec", {}).get("volumes", []):
        if volume.get("name") != TOKEN_VOLUME:
            continue
        for source in volume.get("projected", {}).get("sources", []):
            audience = source.get("serviceAccountToken", {}).get("audience")
            if audience:
                return str(audience)
    return None


def node_metadata(pod: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """What istio-agent sends as node metadata: ``ISTIO_META_*`` with the prefix cut, plus
    the pod's identity fields istiod keys proxies by. ``ISTIO_VERSION`` (istio-agent sends its
    own build's) is the injected proxy image's tag: the version that sidecar would report."""
    meta: dict[str, Any] = {
        key.removeprefix("ISTIO_META_"): value for key, value in env.items() if key.startswith("ISTIO_META_")
    }
    image = str((_container(pod, PROXY_CONTAINER) or {}).get("image", ""))
    tag = image.split("@", 1)[0].rsplit("/", 1)[-1].partition(":")[2]
    if tag and "ISTIO_VERSION" not in meta:
        meta["ISTIO_VERSION"] = tag
    meta.update(
        {
            "NAMESPACE": pod["metadata"]["namespace"],
            "NAME": pod["metadata"]["name"],
            "LABELS": pod["metadata"].get("labels", {}),
            "INSTANCE_IPS": pod.get("status", {}).get("podIP", ""),
            "SERVICE_ACCOUNT": pod["spec"].get("serviceAccountName") or "default",
        }
    )
    return meta


def _container(pod: dict[str, Any], name: str) -> dict[str, Any] | None:
    spec = pod.get("spec", {})
    for container in (*spec.get("containers", []), *spec.get("initContainers", [])):
        if container.get("name") == name:
            return dict(container)
    return None


def _field(pod: dict[str, Any], path: str) -> str | None:
    simple = {
        "metadata.name": pod["metadata"].get("name"),
        "metadata.namespace": pod["metadata"].get("namespace"),
        "metadata.uid": pod["metadata"].get("uid"),
        "spec.serviceAccountName": pod.get("spec", {}).get("serviceAccountName"),
        "spec.nodeName": pod.get("spec", {}).get("nodeName"),
        "status.podIP": pod.get("status", {}).get("podIP"),
        "status.hostIP": pod.get("status", {}).get("hostIP"),
    }
    if path in simple:
        value = simple[path]
        return None if value is None else str(value)
    for kind in ("labels", "annotations"):
        prefix = f"metadata.{kind}['"
        if path.startswith(prefix) and path.endswith("']"):
            value = pod["metadata"].get(kind, {}).get(path[len(prefix) : -2])
            return None if value is None else str(value)
    return None


def _cluster_internal(address: str) -> bool:
    """A Service name (``*.svc``, ``*.svc.cluster.local``): kwok clusters have no DNS for it."""
    host = address.rsplit(":", 1)[0].strip("[]").rstrip(".")
    return host.endswith((".svc", ".svc.cluster.local"))


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def build_synthetic_proxies(context: ProviderContext, release: IstioRelease) -> SyntheticProxies:
    """The client built from the Istio source of ``release``'s pilot-discovery (the one the
    run installs first), before any cluster exists; a ``ProviderError`` says why not."""
    try:
        offline = load_pins().offline_istioctl
        source = pilot_source(release, context.runner, offline)
    except (CommandError, ValueError) as error:
        raise ProviderError(
            f"Istio {release.label}: which Istio source for the synthetic proxy? {error}"
        ) from None
    revision = source.go_revision or go_revision_of(source.version, offline)
    try:
        binary = XdsClientBuild(revision, context.config.tools_dir, context.runner).resolve()
    except XdsClientUnavailable as error:
        raise ProviderError(str(error)) from None
    work_dir = context.run_dir / "kwok" / "xds"
    make_private_dir(work_dir)
    secret_file = context.config.external_tls_secret_file
    extra = base64.b64decode(secret_file.ca_bundle) if secret_file is not None else None
    return SyntheticProxies(
        binary, context.runner, context.redactor, work_dir, image_roots=image_roots(extra)
    )
