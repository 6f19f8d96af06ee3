"""The external istiod as a host process, started from the Deployment the suite applied.

kwok gives the istiod Deployment a pod that runs nothing. ``IstiodHost`` reads that
Deployment back from the external API server and runs the real ``pilot-discovery`` as its
pod would run: the container's args and environment (``valueFrom`` resolved for the kwok pod
it stands in for), its ConfigMap and Secret volumes (the ``istio-kubeconfig`` remote secret
included) and a pod-bound service-account token materialized into a private 0700 directory,
inside the network namespace of the host that holds the address the istiod gateway's
LoadBalancer got and a private mount namespace (clusters/kwok/pod_sandbox.py). The remote
API servers' webhook calls and the proxies' xDS address so reach it exactly as the rendered
configuration says.

kwok's ``Exec`` and ``Logs`` resources (one each, named after the pod) route ``kubectl exec``
and ``kubectl logs`` for the pod's ``discovery`` container to the real process: ``exec`` runs
the command in the pod's root directory through the ``pilot-discovery`` shim
(clusters/kwok/workloads.py) inside the same network namespace; ``logs`` follows its log file.

``sync()`` is idempotent: it starts the process once the Deployment and its pod exist,
restarts it when the pod template changes (``kubectl rollout restart``, an upgrade) or when
the process died, and stops it when the Deployment is gone. ``stop()`` leaves nothing
running or listening and removes the private directory (it holds tokens).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import yaml

from clusters.cluster import ClusterHandle
from clusters.kwok.istiod_source import KubeObjectSource
from clusters.kwok.pod_sandbox import (
    Materializer,
    Obj,
    PodIdentity,
    SandboxError,
    container_of,
    expand_env,
    sandbox_argv,
)
from clusters.kwok.pod_sandbox_logs import CriLog
from programs.background import BackgroundProcess
from programs.runner import CommandError
from programs.waits import Observation, WaitTimeout, wait_until
from run.timeouts import KWOK_ISTIOD_API, KWOK_ISTIOD_PROBE, KWOK_ISTIOD_READY, KWOK_ISTIOD_STOP

log = logging.getLogger("eicp.kwok.istiod")
CONTAINER = "discovery"
ENTRYPOINT = "pilot-discovery"  # the pilot image's entrypoint: /usr/local/bin/pilot-discovery
RESTART_BACKOFF_S = 5.0
_LOG_TAIL = 40


@dataclass(frozen=True)
class IstiodRun:
    """One process the host ran: its image, when the previous one began to stop (``None`` for
    the first), when it started, and when it answered ready (epoch seconds; ``None``: never).
    A restart's window, previous stop to ready, is how long no istiod served its address."""

    image: str
    stopping_at: float | None
    started_at: float
    ready_at: float | None


class NetnsHostLike(Protocol):
    """A network-namespace host of the suite's (clusters/netns.py): its netns name and address."""

    @property
    def netns(self) -> str: ...
    @property
    def address(self) -> str: ...


@dataclass
class IstiodHost:
    """One istiod Deployment on the external cluster, run for real as a sandboxed host process."""

    cluster: ClusterHandle
    namespace: str
    name: str
    host: NetnsHostLike
    binary_for: Callable[[str], Path]  # container image -> pilot-discovery of that release
    work_dir: Path
    ready_deadline_s: float = field(default_factory=KWOK_ISTIOD_READY.seconds)
    restarts: int = 0
    last_error: str = ""
    _process: BackgroundProcess | None = None
    _key: tuple[str, str] | None = None  # (template hash, pod name) the process was built from
    _root: Path | None = None
    _log: Path | None = None
    _started_at: float = 0.0
    _cri: CriLog | None = None
    _any_pod_running: bool = False
    _exec_objects: list[tuple[str, str]] = field(default_factory=list)
    runs: list[IstiodRun] = field(default_factory=list)  # every process started, oldest first
    _binary: Path | None = None

    # --- reading ----------------------------------------------------------------------------

    def _apps(self) -> Any:
        from kubernetes import client

        return client.AppsV1Api(self.cluster.api())

    def deployment(self) -> Obj | None:
        from kubernetes import client

        try:
            found = self._apps().read_namespaced_deployment(
                self.name, self.namespace, _request_timeout=KWOK_ISTIOD_API.seconds()
            )
        except client.ApiException as error:
            if error.status == 404:
                return None
            raise
        result: Obj = self.cluster.api().sanitize_for_serialization(found)
        return result

    def current_pod(self, deployment: Obj) -> Obj | None:
        """The newest Running, not terminating pod of the Deployment's current ReplicaSet."""
        from kubernetes import client

        labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        revision = ((deployment.get("metadata") or {}).get("annotations") or {}).get(
            "deployment.kubernetes.io/revision"
        )
        api = self.cluster.api()
        sets: Obj = api.sanitize_for_serialization(
            self._apps().list_namespaced_replica_set(
                self.namespace, label_selector=selector, _request_timeout=KWOK_ISTIOD_API.seconds()
            )
        )
        hashes = {
            ((rs.get("metadata") or {}).get("labels") or {}).get("pod-template-hash")
            for rs in sets.get("items") or []
            if ((rs.get("metadata") or {}).get("annotations") or {}).get("deployment.kubernetes.io/revision")
            == revision
        }
        pods: Obj = api.sanitize_for_serialization(
            client.CoreV1Api(api).list_namespaced_pod(
                self.namespace, label_selector=selector, _request_timeout=KWOK_ISTIOD_API.seconds()
            )
        )
        running = [
            pod
            for pod in pods.get("items") or []
            if not pod["metadata"].get("deletionTimestamp")
            and (pod.get("status") or {}).get("phase") == "Running"
        ]
        self._any_pod_running = bool(running)
        candidates = [
            pod for pod in running if (pod["metadata"].get("labels") or {}).get("pod-template-hash") in hashes
        ]
        if not candidates:
            return None
        newest: Obj = max(candidates, key=lambda pod: str(pod["metadata"].get("creationTimestamp") or ""))
        return newest

    # --- the loop body ------------------------------------------------------------------------

    def sync(self) -> str:
        """Bring the process in line with the Deployment; say what was done."""
        deployment = self.deployment()
        if deployment is None:
            if self._process is not None:
                self.stop()
                return "stopped: the Deployment is gone"
            return "waiting: no Deployment yet"
        pod = self.current_pod(deployment)
        if pod is None:
            return self._without_pod()
        template = (deployment.get("spec") or {}).get("template") or {}
        digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:16]
        key = (digest, str(pod["metadata"]["name"]))
        if self._process is not None and key == self._key:
            if self._process.running():
                return "unchanged"
            if time.monotonic() - self._started_at < RESTART_BACKOFF_S:
                return "waiting: back-off after the process exited"
            self.restarts += 1
            self.last_error = f"exited with {self._process.returncode()}: {self.log_tail(8)}"
            log.warning("istiod %s/%s %s; restarting", self.namespace, self.name, self.last_error)
        reason = "restarted" if self._process is not None else "started"
        stopping_at = time.time() if self._process is not None else None
        self.stop(keep_exec=True)
        self._start(template, pod, key, stopping_at)
        return f"{reason} for pod {key[1]} (template {digest}) at {self.host.address}"

    def _without_pod(self) -> str:
        if self._process is not None and not self._any_pod_running:
            # No pod of the Deployment runs (scaled to zero, pods deleted): nor does istiod.
            self.stop(keep_exec=True)
            self._key = None
            return "stopped: the Deployment has no Running pod"
        # A rollout keeps the old pod until the new one runs (maxUnavailable rounds to 0).
        return "waiting: no Running pod of the current ReplicaSet yet"

    def _start(self, template: Obj, pod: Obj, key: tuple[str, str], stopping_at: float | None = None) -> None:
        meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
        identity = PodIdentity(
            name=str(meta["name"]),
            namespace=self.namespace,
            uid=str(meta["uid"]),
            service_account=str(spec.get("serviceAccountName") or "default"),
            node_name=str(spec.get("nodeName") or ""),
            pod_ip=self.host.address,
            labels=dict(meta.get("labels") or {}),
            annotations=dict(meta.get("annotations") or {}),
        )
        del status  # kwok's pod IP is not where the process listens: the host's address is
        pod_dir = self.work_dir / f"{self.namespace}-{identity.name}"
        root, log_file = pod_dir / "root", pod_dir / f"{CONTAINER}.log"
        cri_log = pod_dir / f"{CONTAINER}.cri.log"
        if root.exists():
            shutil.rmtree(root)
        source = KubeObjectSource(
            self.cluster.api(), self.cluster.runner.redactor, identity.name, identity.uid
        )
        api = urlsplit(self.cluster.internal_api_server)
        materializer = Materializer(source, identity, root, api.hostname or "", api.port or 443)
        container = container_of(template, CONTAINER)
        materializer.prepare(template, container)
        env = materializer.environment(container)
        binary = self._binary = self.binary_for(str(container.get("image") or ""))
        argv = _container_argv(container, env, binary)
        self._process = self.cluster.runner.start(
            sandbox_argv(self.host.netns, root, argv),
            log_file=log_file,
            env=env,
            inherit_env=False,
            cwd=root,
            title=f"[external] istiod {self.namespace}/{identity.name} (host process in netns {self.host.netns})",
        )
        self._key, self._root, self._log, self._started_at = key, root, log_file, time.monotonic()
        self._cri = CriLog(log_file, cri_log)
        self._cri.start()
        image, started_at = str(container.get("image") or ""), time.time()
        self.runs.append(IstiodRun(image, stopping_at, started_at, None))
        self._wait_ready(container)
        self.runs[-1] = IstiodRun(image, stopping_at, started_at, time.time())
        self._route_exec_and_logs(identity, root, binary, cri_log)

    def _wait_ready(self, container: Obj) -> None:
        probe = (container.get("readinessProbe") or {}).get("httpGet") or {"path": "/ready", "port": 8080}
        url = f"http://{_url_host(self.host.address)}:{probe.get('port', 8080)}{probe.get('path', '/ready')}"

        def ready() -> Observation[None]:
            assert self._process is not None
            if not self._process.running():
                raise SandboxError(
                    f"istiod exited with {self._process.returncode()} before it was ready:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=KWOK_ISTIOD_PROBE.seconds()) as answer:
                    return Observation(answer.status == 200, f"HTTP {answer.status}", None)
            except (urllib.error.URLError, OSError) as error:
                return Observation(False, str(error), None)

        try:
            wait_until(
                f"istiod ready at {url}", ready, self.ready_deadline_s, initial_delay_s=0.5, max_delay_s=0.5
            )
        except WaitTimeout as timeout:
            raise SandboxError(f"istiod not ready: {timeout}:\n{self.log_tail()}") from None

    def _route_exec_and_logs(self, pod: PodIdentity, root: Path, binary: Path, log_file: Path) -> None:
        """kwok Exec/Logs objects for the pod, so ``kubectl exec``/``logs`` reach the process."""
        objects = exec_and_logs_objects(pod, self.host.netns, root, binary, log_file)
        try:
            self.cluster.kubectl(
                "apply",
                "-f",
                "-",
                stdin=yaml.safe_dump_all(objects),
                timeout_s=KWOK_ISTIOD_API.seconds(),
                title=f"[external] route kubectl exec/logs of {pod.namespace}/{pod.name} to the istiod host process",
            )
        except CommandError as error:
            self.last_error = f"kwok Exec/Logs not applied (kubectl exec/logs will not reach istiod): {error}"
            log.warning("%s", self.last_error)
            return
        self._exec_objects = [("exec", pod.name), ("logs", pod.name)]

    # --- teardown ---------------------------------------------------------------------------

    def stop(self, *, keep_exec: bool = False) -> None:
        """Stop the process (SIGTERM, then SIGKILL: bounded) and remove its private files."""
        if self._process is not None:
            self._process.stop(grace_s=KWOK_ISTIOD_STOP.seconds())
            self._process = None
        if self._cri is not None:
            self._cri.stop()
            self._cri = None
        if self._root is not None and self._root.exists():
            shutil.rmtree(self._root, ignore_errors=True)
        self._root = None
        if not keep_exec:
            self._key = None
            for kind, name in self._exec_objects:
                self.cluster.kubectl(
                    "delete",
                    f"{kind}.kwok.x-k8s.io",
                    name,
                    "-n",
                    self.namespace,
                    "--ignore-not-found",
                    "--wait=false",
                    check=False,
                    timeout_s=KWOK_ISTIOD_API.seconds(),
                )
            self._exec_objects = []

    def request(self, path: str) -> str:
        """GET ``path`` of the running process's debug endpoint as ``kubectl exec ... pilot-discovery
        request GET path`` does: its own binary, inside its network namespace (127.0.0.1:15014,
        where istiod answers debug requests without authentication)."""
        if self._process is None or self._binary is None or not self._process.running():
            raise SandboxError(f"istiod {self.namespace}/{self.name} is not running")
        return self.cluster.runner.run(
            ["ip", "netns", "exec", self.host.netns, str(self._binary), "request", "GET", path],
            timeout_s=KWOK_ISTIOD_API.seconds(),
            title=f"[external] pilot-discovery request GET {path} (istiod {self.namespace}/{self.name})",
            attach=False,
        ).stdout

    def running(self) -> bool:
        return self._process is not None and self._process.running()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def log_tail(self, lines: int = _LOG_TAIL) -> str:
        if self._log is None or not self._log.exists():
            return "(no log)"
        text = self._log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        return self.cluster.runner.redactor.redact("\n".join(text))


def exec_and_logs_objects(
    pod: PodIdentity, netns: str, root: Path, binary: Path, log_file: Path
) -> list[Obj]:
    """kwok's ``Exec`` (run in the pod's network namespace and directory, through the shim) and
    ``Logs`` (the process's log, in the CRI format kwok reads) for the stood-in pod."""
    base = {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "metadata": {"name": pod.name, "namespace": pod.namespace},
    }
    envs = [{"name": "EICP_POD_NETNS", "value": netns}, {"name": "EICP_POD_BINARY", "value": str(binary)}]
    execs = [{"containers": [CONTAINER], "local": {"workDir": str(root), "envs": envs}}]
    logs = [{"containers": [CONTAINER], "logsFile": str(log_file), "follow": True}]
    return [
        {**base, "kind": "Exec", "spec": {"execs": execs}},
        {**base, "kind": "Logs", "spec": {"logs": logs}},
    ]


def _container_argv(container: Obj, env: dict[str, str], binary: Path) -> list[str]:
    """command + args as the container runtime would run them, the pilot entrypoint mapped to ``binary``."""
    command = [str(part) for part in container.get("command") or []]
    args = [expand_env(str(part), env) for part in container.get("args") or []]
    if not command:
        return [str(binary), *args]
    if Path(command[0]).name == ENTRYPOINT:
        return [str(binary), *command[1:], *args]
    raise SandboxError(
        f"container {CONTAINER!r} runs {command[0]!r}, not {ENTRYPOINT}: no host binary for it"
    )


def _url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address
