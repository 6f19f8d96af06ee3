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
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusters.cluster import ClusterHandle, ProviderError
from clusters.kwok.pilot_binaries import binary_for, pilot_source
from clusters.kwok.proxy_roots import discovery_root, image_roots
from clusters.kwok.sidecar_pods import (
    PROXY_CONTAINER,
    cluster_internal,
    container_env,
    injected_pods,
    node_metadata,
    node_type,
    proxy_image,
    token_audience,
)
from clusters.provider import ProviderContext, StepRecordLike
from programs.background import BackgroundProcess
from programs.private_files import make_private_dir, write_private
from programs.redaction import Redactor
from programs.runner import CommandError, CommandRunner
from programs.tools import ToolUnavailable
from programs.waits import Backoff, wait_until
from programs.xds_client import XdsClientBuild, XdsClientUnavailable
from run.timeouts import KWOK_PROXY_SYNC
from scenarios.releases import IstioRelease
from scenarios.steps import Role

log = logging.getLogger("eicp.kwok.xds")

LOCAL_POLL = Backoff(min_s=0.05, max_s=0.5)
TOKEN_DURATION = "2h"
# How long a proxy waits before reconnecting after its stream broke, constant (the client's
# -retry-interval; Envoy's initial ADS retry delay, without growing): the upgrade's xDS probe
# bounds a proxy's time without a stream by it (clusters/kwok/xds_probe.py).
RETRY_INTERVAL_S = 0.5
STAND_IN = (
    "sidecar and gateway proxies (synthetic xDS clients built from Istio's pkg/adsc; no Envoy, no traffic)"
)


@dataclass
class SyntheticProxy:
    """One running client: which pod it speaks for, its process and its output file."""

    cluster: str
    namespace: str
    pod: str
    process: BackgroundProcess
    out_file: Path
    events_file: Path  # its stream log (programs/xdsclient/streams.go)

    def received(self) -> dict[str, Any] | None:
        """The xDS the client last wrote (``None`` before its first CDS/EDS arrived)."""
        try:
            data: dict[str, Any] = json.loads(self.out_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data


@dataclass
class SyntheticProxies:
    binary_for: Callable[[str], Path]  # the pod's proxy image -> the synthetic proxy of its release
    runner: CommandRunner
    redactor: Redactor
    work_dir: Path  # private (0700): tokens, workload keys and certificates live here
    netns_of: Callable[[Role], str] | None = None  # the network namespace of a role's pods
    image_roots: bytes = b""  # a proxy image's system roots, stood in (clusters/kwok/proxy_roots.py)
    proxies: dict[tuple[str, str, str], SyntheticProxy] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    # Waits of an install run side by side and each passed one attaches: one at a time, or two
    # clients for one pod overwrite each other's key and certificate in its directory.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

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
        with self._lock:
            return self._attach(cluster)

    def _attach(self, cluster: ClusterHandle) -> list[SyntheticProxy]:
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
            if cluster_internal(address):
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
        with self._lock:
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
                self.binary_for(proxy_image(pod)),
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
                "-events",
                home / "streams.jsonl",
                "-retry-interval",
                f"{int(RETRY_INTERVAL_S * 1000)}ms",
                "-hold",
            ],
            log_file=home / "xdsclient.log",
            title=f"[{cluster.role}] synthetic proxy for {namespace}/{name}",
        )
        return SyntheticProxy(cluster.role, namespace, name, process, out_file, home / "streams.jsonl")

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
            # A local file and a process: cheap to look at often, and the install waits on it.
            backoff=LOCAL_POLL,
        )
        if not proxy.process.running() and proxy.received() is None:
            raise CommandError(
                tuple(proxy.process.shown), proxy.process.returncode(), _tail(proxy.process.log_file)
            )


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def build_synthetic_proxies(context: ProviderContext, releases: tuple[IstioRelease, ...]) -> SyntheticProxies:
    """The client built from each release's Istio source (a pod's proxy image tag picks the one
    of the release that injected it: an upgrade's restarted pods run B's), before any cluster
    exists; a ``ProviderError`` says why not."""
    binaries: dict[str, Path] = {}
    for release in releases:
        try:
            binaries[release.tag] = _xdsclient_of(context, release)
        except (CommandError, ValueError, XdsClientUnavailable, ToolUnavailable) as error:
            raise ProviderError(f"Istio {release.label}: the synthetic proxy: {error}") from None
    work_dir = context.run_dir / "kwok" / "xds"
    make_private_dir(work_dir)
    secret_file = context.config.external_tls_secret_file
    extra = base64.b64decode(secret_file.ca_bundle) if secret_file is not None else None
    return SyntheticProxies(
        binary_for(binaries, "synthetic proxy"),
        context.runner,
        context.redactor,
        work_dir,
        image_roots=image_roots(extra),
    )


def _xdsclient_of(context: ProviderContext, release: IstioRelease) -> Path:
    if release.source is not None:
        return context.tools.resolve_source("xdsclient", release.source).path
    source = pilot_source(release, context.runner)
    return XdsClientBuild(
        source.go_revision or source.version, context.config.tools_dir, context.runner
    ).resolve()
