"""The external gateway stood in by HAProxy: the watcher the kwok provider runs.

kwok gives the external cluster's ingress gateway Deployment a pod that runs nothing. This
watcher reads back, once a second, what the suite applied to the external API server
(``Gateway``, ``VirtualService``, ``DestinationRule``, Services, Deployments, the secrets the
configuration names), plans what the gateway's Envoy would do (clusters/kwok/gateway_model.py),
renders it for HAProxy (clusters/kwok/haproxy_config.py) and keeps one HAProxy (Debian's
package, master-worker mode) per gateway Service running in the network namespace of that
Service's LoadBalancer address, reloading it (``SIGUSR2``: new connections get the new
configuration, established ones finish on the old) when the rendered configuration changes.

Secrets: a terminating listener's certificate and key are read from the Gateway's
``credentialName`` secret, the key registered with the redactor at once, and written with the
certificate to a 0600 file in a 0700 directory of the run; CA files likewise. Nothing of them
is logged. ``stop()`` ends every HAProxy (SIGTERM to its process group, then SIGKILL) and
removes those files.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import shutil
import signal
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusters.cluster import ClusterHandle
from clusters.kwok.gateway_model import SYSTEM_ROOTS, Objects, Plan, Planner, Workload, selects
from clusters.kwok.haproxy_config import RenderError, render
from clusters.kwok.istiod_host import NetnsHostLike
from programs.background import BackgroundProcess
from programs.private_files import make_private_dir, write_private
from programs.runner import CommandError
from programs.waits import WaitTimeout, wait_until
from run.timeouts import (
    KWOK_GATEWAY_API,
    KWOK_GATEWAY_CHECK,
    KWOK_GATEWAY_CONNECT,
    KWOK_GATEWAY_LISTEN,
    KWOK_GATEWAY_POLL,
    KWOK_GATEWAY_STOP,
)

log = logging.getLogger("eicp.kwok.gateway")

ISTIO_GROUP = "networking.istio.io"
ISTIO_VERSION = "v1"  # served by every supported release's CRDs (v1beta1/v1alpha3 objects too)
STAND_IN = (
    "external gateway (HAProxy {version} from Debian, in the network namespace of the gateway Service's "
    "LoadBalancer address, configured from the Gateway, VirtualService and DestinationRule read back from "
    "the external API server: TLS passthrough, or TLS terminated with the Gateway's credentialName "
    "certificate and re-originated to istiod as the DestinationRule says; no Envoy runs)"
)
SECRET_KEYS = (("tls.crt", "tls.key"), ("cert", "key"))  # kubernetes.io/tls, Istio's generic layout
CA_KEYS = ("ca.crt", "cacert")

AddressOf = Callable[[str, str], str | None]  # (namespace, Deployment) -> its stand-in's address
LbHosts = Callable[[], Mapping[tuple[str, str, str], NetnsHostLike]]  # (role, ns, name) -> host


class SecretMissing(LookupError):
    """A secret the configuration names is not there (yet): the listener or route waits."""


@dataclass
class GatewayProxy:
    """One HAProxy: its namespace, configuration directory and process."""

    host: NetnsHostLike
    directory: Path
    process: BackgroundProcess | None = None
    digest: str = ""
    reloads: int = 0


@dataclass
class GatewayStandIns:
    external: ClusterHandle
    lb_hosts: LbHosts
    address_of: AddressOf
    haproxy: Path
    work_dir: Path  # 0700, removed at stop: certificates, keys, configuration
    log_dir: Path  # HAProxy's logs (kept for diagnostics; no secret reaches them)
    poll_s: float = field(default_factory=KWOK_GATEWAY_POLL.seconds)
    proxies: dict[str, GatewayProxy] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        make_private_dir(self.work_dir)
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="eicp-gateway-stand-ins", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=KWOK_GATEWAY_API.seconds() * 3)
            self._thread = None
        with self._lock:
            for proxy in self.proxies.values():
                self._end(proxy)
            self.proxies.clear()
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def describe(self) -> str:
        with self._lock:
            parts = [
                f"HAProxy at {proxy.host.address} in netns {netns}: "
                f"{'running pid ' + str(proxy.process.pid) if proxy.process and proxy.process.running() else 'not running'}, "
                f"{proxy.reloads} reload(s)"
                for netns, proxy in sorted(self.proxies.items())
            ]
        return "; ".join(parts) or "no gateway configured yet"

    # -- one pass ---------------------------------------------------------------------------

    def sync_once(self) -> None:
        objects, deployments = self._read()
        wanted: dict[str, tuple[NetnsHostLike, Plan]] = {}
        for (role, namespace, name), host in self.lb_hosts().items():
            service = objects.services.get((namespace, name))
            if role != "external" or service is None:
                continue
            labels = _pod_labels(deployments, namespace, (service.get("spec") or {}).get("selector") or {})
            if not labels:
                continue
            planner = Planner(objects, lambda ns, svc: self._backend(deployments, ns, svc))
            plan = planner.build(Workload(namespace, service, host.address, labels))
            if plan.listeners:
                wanted[host.netns] = (host, plan)
            for problem in plan.unsupported:
                self._note(f"{namespace}/{name}: not stood in: {problem}")
        with self._lock:
            for netns in sorted(set(self.proxies) - set(wanted)):
                self._end(self.proxies.pop(netns))
                self._note(f"gateway in {netns}: no listener left, HAProxy stopped")
            for netns, (host, plan) in sorted(wanted.items()):
                proxy = self.proxies.setdefault(netns, GatewayProxy(host, self.work_dir / netns))
                self._apply(proxy, plan)

    def _apply(self, proxy: GatewayProxy, plan: Plan) -> None:
        make_private_dir(proxy.directory)
        files: dict[Path, bytes] = {}
        listeners = []
        for listener in plan.listeners:
            try:
                if listener.credential is not None:
                    files[self._pem_path(proxy, listener.credential)] = self._credential(listener.credential)
                for route in listener.routes:
                    tls = route.upstream.tls
                    if tls is not None and tls.ca != SYSTEM_ROOTS:
                        files[self._pem_path(proxy, tls.ca, ".ca")] = self._ca(tls.ca)
            except SecretMissing as missing:
                self._note(f"gateway {listener.address}:{listener.port} waits: {missing}")
                continue
            listeners.append(listener)
        try:
            rendered = render(
                listeners,
                credential_file=lambda ref: self._pem_path(proxy, ref),
                ca_file=lambda ref: self._pem_path(proxy, ref, ".ca"),
                crt_list_file=lambda name: proxy.directory / f"{name}.crt-list",
            )
        except RenderError as error:
            self._note(f"gateway in {proxy.host.netns}: {error}")
            return
        files.update({path: text.encode() for path, text in rendered.crt_lists.items()})
        config = proxy.directory / "haproxy.cfg"
        files[config] = rendered.config.encode()
        digest = hashlib.sha256(b"".join(bytes(p) + b"\0" + d for p, d in sorted(files.items()))).hexdigest()
        if digest == proxy.digest and proxy.process is not None and proxy.process.running():
            return
        for path, data in files.items():
            write_private(path, data)
        check = self.external.runner.run(
            [str(self.haproxy), "-c", "-q", "-f", str(config)],
            timeout_s=KWOK_GATEWAY_CHECK.seconds(),
            check=False,
            attach=False,
            title=f"haproxy -c (the gateway stand-in's configuration for {proxy.host.address})",
        )
        if check.returncode != 0:
            self._note(
                f"gateway in {proxy.host.netns}: HAProxy refused its configuration: {check.stderr.strip()[:400]}"
            )
            return
        proxy.digest = digest
        if proxy.process is not None and proxy.process.running():
            os.kill(
                proxy.process.pid, signal.SIGUSR2
            )  # the master re-reads it; established connections finish
            proxy.reloads += 1
            self._note(f"gateway at {proxy.host.address}: HAProxy reloaded ({len(listeners)} listener(s))")
            return
        proxy.process = self.external.runner.start(
            [*_netns_argv(proxy.host.netns), str(self.haproxy), "-W", "-db", "-f", str(config)],
            log_file=self.log_dir / f"gateway-haproxy-{proxy.host.netns}.log",
            title=f"[external] gateway stand-in: HAProxy at {proxy.host.address} (netns {proxy.host.netns})",
        )
        self._wait_listening(proxy, [listener.port for listener in listeners])
        self._note(f"gateway at {proxy.host.address}: HAProxy started ({len(listeners)} listener(s))")

    def _wait_listening(self, proxy: GatewayProxy, ports: list[int]) -> None:
        waiting = set(ports)

        def not_listening() -> list[int]:
            if proxy.process is None or not proxy.process.running():
                raise RuntimeError(f"HAProxy at {proxy.host.address} exited: {_tail(proxy)}")
            for port in list(waiting):
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(
                        (proxy.host.address, port), timeout=KWOK_GATEWAY_CONNECT.seconds()
                    ),
                ):
                    waiting.discard(port)
            return sorted(waiting)

        try:
            wait_until(
                f"HAProxy at {proxy.host.address} to listen on {sorted(ports)}",
                not_listening,
                KWOK_GATEWAY_LISTEN.seconds(),
                until=lambda left: not left,
                show=lambda left: f"not listening on {left}",
                initial_delay_s=0.1,
                max_delay_s=0.1,
            )
        except WaitTimeout as timeout:
            raise RuntimeError(f"{timeout}: {_tail(proxy)}") from None

    # -- reading -------------------------------------------------------------------------------

    def _read(self) -> tuple[Objects, list[Any]]:
        from kubernetes import client

        api = self.external.api()
        custom = client.CustomObjectsApi(api)

        def istio(plural: str) -> list[Any]:
            try:
                found: Any = custom.list_cluster_custom_object(
                    ISTIO_GROUP, ISTIO_VERSION, plural, _request_timeout=KWOK_GATEWAY_API.seconds()
                )
            except client.ApiException as error:
                if error.status == 404:  # Istio's CRDs not installed yet
                    return []
                raise
            return list(found.get("items") or [])

        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        services = api.sanitize_for_serialization(
            core.list_service_for_all_namespaces(_request_timeout=KWOK_GATEWAY_API.seconds())
        )
        deployments = api.sanitize_for_serialization(
            apps.list_deployment_for_all_namespaces(_request_timeout=KWOK_GATEWAY_API.seconds())
        )
        objects = Objects(
            gateways=istio("gateways"),
            virtual_services=istio("virtualservices"),
            destination_rules=istio("destinationrules"),
            services={
                (s["metadata"]["namespace"], s["metadata"]["name"]): s for s in services.get("items") or []
            },
        )
        return objects, list(deployments.get("items") or [])

    def _backend(self, deployments: list[Any], namespace: str, service: Mapping[str, Any]) -> str | None:
        selector = (service.get("spec") or {}).get("selector") or {}
        for deployment in deployments:
            meta = deployment["metadata"]
            if meta["namespace"] == namespace and selects(selector, _template_labels(deployment)):
                address = self.address_of(namespace, meta["name"])
                if address is not None:
                    return address
        return None

    def _secret(self, ref: str) -> dict[str, bytes]:
        from kubernetes import client

        namespace, _, name = ref.partition("/")
        try:
            found = client.CoreV1Api(self.external.api()).read_namespaced_secret(
                name, namespace, _request_timeout=KWOK_GATEWAY_API.seconds()
            )
        except client.ApiException as error:
            if error.status == 404:
                raise SecretMissing(f"secret {ref} not found") from None
            raise
        return {key: base64.b64decode(value) for key, value in (found.data or {}).items()}

    def _credential(self, ref: str) -> bytes:
        data = self._secret(ref)
        for cert_key, key_key in SECRET_KEYS:
            if cert_key in data and key_key in data:
                key = data[key_key]
                self.external.runner.redactor.register(key.decode(errors="replace"))
                return data[cert_key].rstrip(b"\n") + b"\n" + key
        raise SecretMissing(f"secret {ref} has no tls.crt/tls.key (nor cert/key)")

    def _ca(self, ref: str) -> bytes:
        data = self._secret(ref)
        for key in CA_KEYS:
            if key in data:
                return data[key]
        with contextlib.suppress(SecretMissing):
            cacert = self._secret(f"{ref}-cacert")  # Istio's separate CA secret, <name>-cacert
            for key in CA_KEYS:
                if key in cacert:
                    return cacert[key]
        raise SecretMissing(f"secret {ref} has no ca.crt (nor cacert, nor a {ref}-cacert secret)")

    def _pem_path(self, proxy: GatewayProxy, ref: str, suffix: str = "") -> Path:
        return proxy.directory / f"{ref.replace('/', '_')}{suffix}.pem"

    # -- life cycle -----------------------------------------------------------------------------

    def _end(self, proxy: GatewayProxy) -> None:
        if proxy.process is not None:
            proxy.process.stop(grace_s=KWOK_GATEWAY_STOP.seconds())
            proxy.process = None
        shutil.rmtree(proxy.directory, ignore_errors=True)
        proxy.digest = ""

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync_once()
            except (CommandError, OSError, RuntimeError, ValueError) as error:
                self._note(f"sync failed: {error}")
            except Exception as error:  # the API client's errors (ApiException, urllib3) vary
                self._note(f"sync failed: {type(error).__name__}: {error}")
            self._stop.wait(self.poll_s)

    def _note(self, event: str) -> None:
        redacted = self.external.runner.redactor.redact(event)
        if redacted not in self._seen:  # once each: the loop meets the same state every second
            self._seen.add(redacted)
            log.info("gateway stand-in: %s", redacted)
            self.events.append(redacted)


def _template_labels(deployment: Mapping[str, Any]) -> dict[str, str]:
    template = (deployment.get("spec") or {}).get("template") or {}
    return dict((template.get("metadata") or {}).get("labels") or {})


def _pod_labels(deployments: list[Any], namespace: str, selector: Mapping[str, str]) -> dict[str, str]:
    """The labels of the pods a Service selects: its Deployments' template labels."""
    labels: dict[str, str] = {}
    for deployment in deployments:
        template = _template_labels(deployment)
        if deployment["metadata"]["namespace"] == namespace and selects(selector, template):
            labels.update(template)
    return labels


def _netns_argv(netns: str) -> list[str]:
    return ["ip", "netns", "exec", netns]


def _tail(proxy: GatewayProxy, lines: int = 8) -> str:
    if proxy.process is None:
        return "(no process)"
    try:
        return " | ".join(proxy.process.log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
