"""Diagnostics of a failed scenario, collected before any cleanup.

Per cluster (``<out>/<role>-<cluster>/``): nodes, namespaces, webhook configurations, Istio and
Sail custom resources; per namespace (``<out>/<role>-<cluster>/<namespace>/``): resources,
events, pods, the ``istio*`` configmaps, current and previous container logs (where the
topology's provider serves them: ``ProviderCapabilities.reaches_containers_of``; kwok pods have
no containers, so only its stand-in processes' logs are read), and for istiod pods the proxies
they see connected (``pilot-discovery request GET /debug/connections`` and ``/debug/syncz``).
With the kind binary (kind clusters) ``kind export logs`` too; cloud-provider-kind's logs are
copied in. Every byte written passes the redactor, and Secrets are never read.

Best effort within one deadline, the clusters side by side (run/lanes.py): a failing command
is recorded and the next one runs; a cluster not answering is skipped after its first call.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from clusters.capabilities import Capability, ProviderCapabilities
from clusters.cluster import ClusterHandle, Topology
from programs import cancellation
from programs.exports import export_redacted, kind_logs_key
from programs.redaction import Redactor
from programs.runner import CommandError, CommandRunner
from run.lanes import concurrently
from run.timeouts import DIAGNOSTICS_CALL, DIAGNOSTICS_REQUEST

# Namespaces worth a look on every cluster when they exist, besides the scenario's own.
DEFAULT_NAMESPACES: tuple[str, ...] = ("external-istiod", "istio-system", "sail-operator", "sample")
# Custom resources dumped cluster-wide when their CRD is installed.
CUSTOM_RESOURCES: tuple[str, ...] = (
    "istios.sailoperator.io",
    "istiorevisions.sailoperator.io",
    "remoteistios.sailoperator.io",
    "istiooperators.install.istio.io",
    "gateways.networking.istio.io",
    "virtualservices.networking.istio.io",
    "destinationrules.networking.istio.io",
    "gateways.gateway.networking.k8s.io",
    "httproutes.gateway.networking.k8s.io",
    "tlsroutes.gateway.networking.k8s.io",
)
ISTIOD_DEBUG_PATHS: tuple[str, ...] = (
    "/debug/connections",
    "/debug/syncz",
    "/debug/clusterz",
    "/debug/endpointShardz",
)
SUMMARY_FILE = "SUMMARY.txt"  # written last: its presence means "collected"
_LOG_TAIL_LINES = "5000"
_MIN_TIME_FOR_A_CALL_S = 0.5
_MAX_COPIED_FILE_BYTES = 20 * 1024 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_") or "_"


@dataclass
class DiagnosticsResult:
    out_dir: Path
    files: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was not collected on purpose, and why
    duration_s: float = 0.0
    cancelled: str | None = None  # the signal that cancelled the run: what was left is skipped

    @property
    def deadline_reached(self) -> bool:
        return bool(self.skipped)

    def summary(self) -> str:
        lines = [
            f"diagnostics: {self.out_dir}",
            f"{len(self.files)} files in {self.duration_s:.1f}s; {len(self.errors)} errors; "
            f"{len(self.skipped)} items skipped"
            + (" (run cancelled)" if self.cancelled else " at the deadline"),
        ]
        lines.extend(f"note: {note}" for note in self.notes)
        lines.extend(f"error: {error}" for error in self.errors)
        if self.skipped:
            why = f"the run was cancelled ({self.cancelled})" if self.cancelled else "deadline"
            lines.append(
                f"skipped ({why}): "
                + ", ".join(self.skipped[:20])
                + (" ..." if len(self.skipped) > 20 else "")
            )
        return "\n".join(lines)


class _Collector:
    def __init__(
        self, out_dir: Path, runner: CommandRunner, deadline_s: float, result: DiagnosticsResult
    ) -> None:
        self.out_dir = out_dir
        self.runner = runner
        self.redactor: Redactor = runner.redactor
        self.deadline = time.monotonic() + deadline_s
        self.result = result

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def run(self, argv: list[str], what: str) -> str | None:
        """Run one collection command; its output redacted, or ``None`` (and an error noted)
        when it fails."""
        raw = self._run(argv, what)
        return None if raw is None else self.redactor.redact(raw)

    def run_items(self, argv: list[str], what: str) -> list[dict[str, Any]]:
        """Run a ``kubectl get ... -o json``; the objects it lists, parsed before any redaction
        (written through ``write_objects``, which redacts each field: redacting the JSON text
        first could leave it unparsable, and the objects would be lost)."""
        return _items(self._run(argv, what))

    def _run(self, argv: list[str], what: str) -> str | None:
        left = self.remaining()
        self.result.cancelled = self.result.cancelled or cancellation.cancelled()
        if left < _MIN_TIME_FOR_A_CALL_S or self.result.cancelled:
            self.result.skipped.append(what)
            return None
        try:
            done = self.runner.run(
                argv,
                timeout_s=min(DIAGNOSTICS_CALL.seconds(), left),
                attach=False,
                title=f"diagnostics: {what}",
            )
        except CommandError as error:
            why = str(error).splitlines()[0]
            last = error.stderr_tail.strip().splitlines()[-1:]
            self.result.errors.append(self.redactor.redact(" -- ".join([f"{what}: {why}", *last])))
            return None
        return done.stdout

    def write(self, relative: Path, text: str) -> None:
        path = self.out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        # Callers pass redacted text; redacting again costs little and guards every path.
        path.write_text(self.redactor.redact(text), encoding="utf-8")
        self.result.files.append(path)

    def write_objects(self, relative: Path, objects: Iterable[dict[str, Any]]) -> None:
        cleaned = [self.redactor.redact_manifest(obj) for obj in objects]
        self.write(relative, yaml.safe_dump_all(cleaned, sort_keys=False) if cleaned else "# none\n")

    def copy_redacted(self, source: Path, relative: Path) -> None:
        if source.stat().st_size > _MAX_COPIED_FILE_BYTES:
            self.result.errors.append(f"{source}: larger than {_MAX_COPIED_FILE_BYTES} bytes, not copied")
            return
        self.write(relative, self.redactor.redact_bytes(source.read_bytes()))


def _items(text: str | None) -> list[dict[str, Any]]:
    if not text:
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return []
    items = data.get("items", []) if isinstance(data, dict) else []
    return [item for item in items if isinstance(item, dict)]


def _collect_namespace(
    c: _Collector, cluster: ClusterHandle, kubectl: list[str], base: Path, ns: str, logs: _Logs
) -> None:
    where = f"{cluster.role}/{ns}"
    out = base / safe_name(ns)
    text = c.run(
        [
            *kubectl,
            "get",
            "deployments,statefulsets,daemonsets,services,endpoints,pods",
            "-n",
            ns,
            "-o",
            "wide",
        ],
        f"{where} resources",
    )
    if text is not None:
        c.write(out / "resources.txt", text)
    text = c.run(
        [*kubectl, "get", "events", "-n", ns, "--sort-by=.lastTimestamp", "-o", "wide"], f"{where} events"
    )
    if text is not None:
        c.write(out / "events.txt", text)
    configmaps = c.run_items([*kubectl, "get", "configmaps", "-n", ns, "-o", "json"], f"{where} configmaps")
    istio_maps = [m for m in configmaps if str(m.get("metadata", {}).get("name", "")).startswith("istio")]
    if istio_maps:
        c.write_objects(out / "configmaps-istio.yaml", istio_maps)
    pods = c.run_items([*kubectl, "get", "pods", "-n", ns, "-o", "json"], f"{where} pods")
    c.write_objects(out / "pods.yaml", pods)
    for pod in pods:
        _collect_pod(c, kubectl, out, ns, pod, where, logs)


@dataclass
class _Logs:
    """Whose container logs the topology serves, and how many pods' logs were left unread."""

    capabilities: ProviderCapabilities
    unread: int = 0


def _collect_pod(
    c: _Collector, kubectl: list[str], out: Path, ns: str, pod: dict[str, Any], where: str, logs: _Logs
) -> None:
    name = str(pod.get("metadata", {}).get("name", ""))
    if not name:
        return
    labels = pod.get("metadata", {}).get("labels", {}) or {}
    spec = pod.get("spec", {})
    statuses = pod.get("status", {})
    restarts = {
        str(status.get("name")): int(status.get("restartCount", 0))
        for status in (*statuses.get("initContainerStatuses", []), *statuses.get("containerStatuses", []))
    }
    containers = [
        str(item.get("name")) for item in (*spec.get("initContainers", []), *spec.get("containers", []))
    ]
    reached = logs.capabilities.reaches_containers_of(ns, labels)
    logs.unread += 0 if reached else 1
    for container in containers if reached else ():
        argv = [*kubectl, "logs", "-n", ns, name, "-c", container, f"--tail={_LOG_TAIL_LINES}"]
        text = c.run(argv, f"{where} logs {name}/{container}")
        if text is not None:
            c.write(out / "logs" / safe_name(name) / f"{safe_name(container)}.log", text)
        if restarts.get(container, 0) > 0:
            text = c.run([*argv, "--previous"], f"{where} previous logs {name}/{container}")
            if text is not None:
                c.write(out / "logs" / safe_name(name) / f"{safe_name(container)}.previous.log", text)
    if reached and labels.get("app") == "istiod" and "discovery" in containers:
        for path in ISTIOD_DEBUG_PATHS:
            argv = [
                *kubectl,
                "exec",
                "-n",
                ns,
                name,
                "-c",
                "discovery",
                "--",
                "pilot-discovery",
                "request",
                "GET",
                path,
            ]
            text = c.run(argv, f"{where} istiod {name} {path}")
            if text is not None:
                c.write(
                    out
                    / "istiod-debug"
                    / safe_name(name)
                    / f"{safe_name(path.removeprefix('/debug/'))}.json",
                    text,
                )


def _collect_cluster(
    c: _Collector,
    cluster: ClusterHandle,
    namespaces: Iterable[str],
    kind_bin: str | None,
    capabilities: ProviderCapabilities,
) -> None:
    kubectl = [
        cluster.kubectl_bin,
        *cluster.kube_args(),
        f"--request-timeout={DIAGNOSTICS_REQUEST.seconds():g}s",
    ]
    base = Path(safe_name(f"{cluster.role}-{cluster.name}"))
    listed = c.run([*kubectl, "get", "namespaces", "-o", "name"], f"{cluster.role} namespaces")
    if listed is None:
        c.result.errors.append(f"{cluster.role} ({cluster.context}): not reachable or not answering; skipped")
        return
    existing = {line.split("/", 1)[-1].strip() for line in listed.splitlines() if line.strip()}
    c.write(base / "cluster-scoped" / "namespaces.txt", listed)
    for what, args, name in (
        ("nodes", ["get", "nodes", "-o", "wide"], "nodes.txt"),
        (
            "mutating webhooks",
            ["get", "mutatingwebhookconfigurations", "-o", "yaml"],
            "mutatingwebhookconfigurations.yaml",
        ),
        (
            "validating webhooks",
            ["get", "validatingwebhookconfigurations", "-o", "yaml"],
            "validatingwebhookconfigurations.yaml",
        ),
    ):
        text = c.run([*kubectl, *args], f"{cluster.role} {what}")
        if text is not None:
            c.write(base / "cluster-scoped" / name, text)
    crds = c.run([*kubectl, "get", "customresourcedefinitions", "-o", "name"], f"{cluster.role} CRDs") or ""
    installed = {line.split("/", 1)[-1].strip() for line in crds.splitlines()}
    for resource in CUSTOM_RESOURCES:
        if resource in installed:
            objects = c.run_items(
                [*kubectl, "get", resource, "-A", "-o", "json"], f"{cluster.role} {resource}"
            )
            c.write_objects(base / "cluster-scoped" / f"{safe_name(resource)}.yaml", objects)
    logs = _Logs(capabilities)
    for ns in dict.fromkeys([*namespaces, *DEFAULT_NAMESPACES]):
        if ns in existing:
            _collect_namespace(c, cluster, kubectl, base, ns, logs)
    if logs.unread:
        why = capabilities.why_not(Capability.CONTAINER_LOGS)
        c.result.notes.append(f"{cluster.role}: container logs of {logs.unread} pod(s) not read: {why}")
    if kind_bin:
        _kind_export_logs(c, cluster, kind_bin, base)


class _NotExported(Exception):
    """``kind export logs`` failed (the collector noted why)."""


def _kind_export_logs(c: _Collector, cluster: ClusterHandle, kind_bin: str, base: Path) -> None:
    # kind writes node logs (journal, kubelet, containerd, pod logs) unredacted: it exports into
    # a private temporary directory and the files come here through the redactor, once per
    # cluster in a session (programs/exports.py; the teardown of a failed run uses it too).
    def write(raw: Path) -> None:
        argv = [kind_bin, "export", "logs", str(raw), "--name", cluster.name]
        if c.run(argv, f"{cluster.role} kind export logs") is None:
            raise _NotExported

    try:
        export = export_redacted(
            c.runner,
            write,
            c.out_dir / base / "kind-logs",
            key=kind_logs_key(cluster.name),
            max_bytes=_MAX_COPIED_FILE_BYTES,
        )
    except _NotExported:
        return
    if export.earlier is not None:
        c.write(
            base / "kind-logs.txt", f"kind logs of {cluster.name} were exported once, to {export.earlier}\n"
        )
        return
    c.result.files.extend(export.files)
    c.result.errors.extend(export.problems)


def collect_diagnostics(
    topology: Topology,
    namespaces_by_role: Mapping[str, Iterable[str]],
    out_dir: Path,
    runner: CommandRunner,
    deadline_s: float,
    *,
    kind_bin: str | None = None,
    extra_logs: Iterable[Path] = (),
) -> DiagnosticsResult:
    """Collect everything listed in the module docstring into ``out_dir``; never raises for a
    cluster or command failure (they are in ``errors``), stops starting work at the deadline."""
    started = time.monotonic()
    result = DiagnosticsResult(out_dir=out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    collector = _Collector(out_dir, runner, deadline_s, result)

    def collect(role: str, cluster: ClusterHandle) -> None:
        try:
            _collect_cluster(
                collector, cluster, namespaces_by_role.get(role, ()), kind_bin, topology.capabilities
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            # A surprise in one cluster's output must not cost the others' diagnostics.
            result.errors.append(f"{role}: collection stopped early: {type(error).__name__}: {error}")

    concurrently(
        [(role, functools.partial(collect, role, cluster)) for role, cluster in topology.clusters.items()]
    )
    for source in extra_logs:
        if collector.remaining() < _MIN_TIME_FOR_A_CALL_S:
            result.skipped.append(str(source))
            continue
        try:
            if source.is_file():
                collector.copy_redacted(source, Path("host-logs") / safe_name(source.name))
        except OSError as error:
            result.errors.append(f"{source}: {error}")
    result.duration_s = time.monotonic() - started
    collector.write(Path(SUMMARY_FILE), result.summary() + "\n")
    return result
