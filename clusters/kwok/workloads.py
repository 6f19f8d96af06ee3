"""The Deployments the model needs alive, stood in by host processes: the watcher the kwok provider runs.

``IstiodStandIns`` watches the external cluster for istiod Deployments (label ``app=istiod``)
and keeps one ``IstiodHost`` (clusters/kwok/istiod_host.py) per Deployment in line with it:
started once the Deployment and its pod exist, restarted when the suite rolls the Deployment
(an upgrade, ``kubectl rollout restart``), stopped when it is deleted (uninstall) and at
teardown. Each istiod runs in the network namespace of the host that holds the address its
proxies are told to use (the host part of the mesh config's ``discoveryAddress``); when that
is a hostname (dns-tls), the host of the external gateway Service.

The provider's side of the contract::

    stand_ins = IstiodStandIns(external, lbs.assignments, binary_for, work_dir,
                               shim_dir=kwokctl.bin_dir)   # a directory on the kwok controllers' PATH
    stand_ins.start()      # after provision; a daemon thread polls once a second
    ...
    stand_ins.stop()       # at teardown: every process stopped, nothing left listening

``shim_dir`` holds the ``pilot-discovery`` that kwok's exec runs for ``kubectl exec`` into
the istiod pod: it enters the pod's network namespace and runs the real binary (the values
come from the pod's kwok ``Exec`` object, see ``IstiodHost._route_exec_and_logs``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusters.cluster import ClusterHandle
from clusters.kwok.capabilities import ISTIOD_NAMESPACES
from clusters.kwok.istiod_host import IstiodHost, IstiodRun, NetnsHostLike
from clusters.kwok.pod_sandbox import SandboxError
from programs.runner import CommandError
from programs.waits import WaitTimeout, wait_until
from run.timeouts import KWOK_ISTIOD_API, KWOK_STAND_INS_STOP

log = logging.getLogger("eicp.kwok.workloads")
ISTIOD_SELECTOR = "app=istiod"
POLL_S = 1.0
STAND_INS = (  # "component (how it is stood in)", as the reports list them
    "external istiod Deployment (the real pilot-discovery as a host process, built from the Deployment, "
    "in a network namespace and address of its own, reached through the gateway's stand-in)",
    "istio-system istiod of the external cluster (not run: it serves only the gateway, which is stood in for)",
)

_SHIM = """#!/bin/sh
# kubectl exec into a kwok pod that a host process stands in for (written by the suite):
# run the real binary inside the pod's network namespace, in the pod's directory.
if [ -z "$EICP_POD_NETNS" ] || [ -z "$EICP_POD_BINARY" ]; then
  echo "this kwok pod has no host process behind it" >&2
  exit 126
fi
exec ip netns exec "$EICP_POD_NETNS" "$EICP_POD_BINARY" "$@"
"""


# (namespace, Deployment name) -> a new network-namespace host for its istiod (clusters/netns.py).
MakeHost = Callable[[str, str], NetnsHostLike]


def write_exec_shims(shim_dir: Path) -> Path:
    """Write the exec shims into ``shim_dir`` (idempotent); return the directory."""
    shim_dir.mkdir(parents=True, exist_ok=True)
    shim = shim_dir / "pilot-discovery"
    shim.write_text(_SHIM, encoding="utf-8")
    shim.chmod(0o755)
    return shim_dir


@dataclass
class IstiodStandIns:
    """Keeps a real istiod process behind every istiod Deployment of the external cluster."""

    external: ClusterHandle
    make_host: MakeHost
    binary_for: Callable[[str], Path]
    work_dir: Path
    # Only the external control plane: the external cluster's own istio-system istiod (the
    # default profile the gateway's IstioOperator installs) serves nothing but the gateway,
    # which kwok mode stands in for, so it is not run (see STAND_INS).
    namespaces: tuple[str, ...] = ISTIOD_NAMESPACES
    poll_s: float = POLL_S
    shim_dir: Path | None = None  # a directory on the kwok controllers' PATH (default: work_dir/exec-bin)
    hosts: dict[tuple[str, str], IstiodHost] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        write_exec_shims(self.shim_dir or self.work_dir / "exec-bin")
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="eicp-istiod-stand-ins", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the watcher, then every istiod process (bounded), and delete their exec routes."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=KWOK_STAND_INS_STOP.seconds())
            self._thread = None
        with self._lock:
            for host in self.hosts.values():
                with contextlib.suppress(CommandError, OSError):
                    host.stop()
            self.hosts.clear()

    def sync_once(self) -> None:
        """One pass: every istiod Deployment in line with its process (the loop's body)."""
        from kubernetes import client

        api = self.external.api()
        found: Any = api.sanitize_for_serialization(
            client.AppsV1Api(api).list_deployment_for_all_namespaces(
                label_selector=ISTIOD_SELECTOR, _request_timeout=KWOK_ISTIOD_API.seconds()
            )
        )
        present = {
            (str(d["metadata"]["namespace"]), str(d["metadata"]["name"]))
            for d in found.get("items") or []
            if d["metadata"]["namespace"] in self.namespaces
        }
        with self._lock:
            for key in sorted(present | set(self.hosts)):
                host = self.hosts.get(key)
                if host is None:
                    if key not in present:
                        continue
                    host = IstiodHost(
                        self.external, key[0], key[1], self.make_host(*key), self.binary_for, self.work_dir
                    )
                    self.hosts[key] = host
                outcome = host.sync()
                if not outcome.startswith(("unchanged", "waiting")):
                    self._note(f"{key[0]}/{key[1]}: {outcome}")
                if key not in present:
                    del self.hosts[key]

    def address_of(self, namespace: str, name: str) -> str | None:
        """Where the istiod of Deployment ``namespace/name`` listens (also while it is stopped:
        the address is its for the run, and a gateway then meets a refused connection)."""
        with self._lock:
            host = self.hosts.get((namespace, name))
        return host.host.address if host is not None else None

    def wait_running(self, deadline_s: float) -> list[IstiodHost]:
        """Block until at least one istiod process runs (for tests and diagnostics)."""

        def running() -> list[IstiodHost]:
            with self._lock:
                return [host for host in self.hosts.values() if host.running()]

        try:
            return wait_until(
                "an istiod host process to run",
                running,
                deadline_s,
                show=lambda hosts: f"{len(hosts)} running; events: {self.events[-5:]}",
                initial_delay_s=0.5,
                max_delay_s=0.5,
            )
        except WaitTimeout as timeout:
            raise TimeoutError(f"no istiod process running: {timeout}") from None

    def runs(self) -> list[IstiodRun]:
        """Every istiod process started so far, oldest first (the upgrade's xDS probe reads the
        switch-overs from them)."""
        with self._lock:
            return sorted(
                (run for host in self.hosts.values() for run in host.runs), key=lambda run: run.started_at
            )

    def debug(self, path: str) -> str | None:
        """GET ``path`` of the running istiod's debug endpoint (``None``: no istiod runs)."""
        with self._lock:
            running = [host for host in self.hosts.values() if host.running()]
        return running[0].request(path) if running else None

    def describe(self) -> str:
        with self._lock:
            parts = [
                f"{ns}/{name} at {host.host.address} in netns {host.host.netns}: "
                f"{'running pid ' + str(host.pid) if host.running() else 'not running'}, "
                f"{host.restarts} restart(s){'; last error: ' + host.last_error if host.last_error else ''}"
                for (ns, name), host in sorted(self.hosts.items())
            ]
        return "; ".join(parts) or "no istiod Deployment seen"

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync_once()
            except (SandboxError, CommandError, OSError, ValueError) as error:
                self._note(f"sync failed: {error}")
            except Exception as error:  # the API client's errors (ApiException, urllib3) vary
                self._note(f"sync failed: {type(error).__name__}: {error}")
            self._stop.wait(self.poll_s)

    def _note(self, event: str) -> None:
        redacted = self.external.runner.redactor.redact(event)
        if not self.events or self.events[-1] != redacted:
            log.info("istiod stand-in: %s", redacted)
            self.events.append(redacted)
