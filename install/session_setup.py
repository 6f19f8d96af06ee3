"""What a ``ScenarioSession`` needs before it installs: the binaries, the facts known up front,
the per-run PKI, the cluster set's host-wide lock, and the heartbeat of long waits."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from filelock import FileLock, Timeout

from clusters.capabilities import Capability
from clusters.cluster import Topology
from install.samples import SamplesProvider
from programs.runner import CommandRunner
from programs.tools import ToolResolver
from run.config import SuiteConfig
from run.timeouts import INSTALL_CLUSTER_SET_LOCK
from scenarios import pki
from scenarios.dns_tls import gateway_hostname
from scenarios.facts import Facts
from scenarios.pki import SuitePki
from scenarios.registry import needs_suite_pki
from scenarios.releases import IstioRelease, load_pins

WAIT_HEARTBEAT_S = 10.0


@dataclass(frozen=True)
class InstallerTools:
    """How a session gets binaries; a fixture so self-tests can hand in fakes."""

    istioctl: Callable[[IstioRelease], Path]
    helm: Callable[[], Path]
    samples: Callable[[IstioRelease], Path]
    # kind mode: publishing a hostname enters node containers; diagnostics run `kind export logs`.
    kind: Callable[[], Path] | None = None
    # The Istio source tree a release was built from (its charts); None: a published release.
    istio_source: Callable[[IstioRelease], Path | None] = lambda _release: None


def suite_pki(scenario_id: str, facts: Facts, label: str, runner: CommandRunner) -> SuitePki | None:
    """The per-run PKI when the scenario reaches istiod by a name the suite certifies; its
    private keys are registered with the redactor before anything can log them."""
    if not needs_suite_pki(scenario_id, facts):
        return None
    generated = pki.generate(gateway_hostname(facts), run_label=label)
    for text in generated.private_texts():
        runner.redactor.register(text)
    return generated


def cluster_set_lock(
    topology: Topology, directory: Path, label: str, timeout_s: float | None = None
) -> FileLock:
    """A host-wide lock per cluster set (next to the tools cache, which is host-wide too):
    pytest processes sharing clusters install one at a time. Returned acquired. A wait longer
    than ``timeout_s`` fails naming who holds the lock (its ``.holder`` file)."""
    identity = json.dumps(
        sorted(
            (role, cluster.context, str(cluster.kubeconfig)) for role, cluster in topology.clusters.items()
        )
        if not topology.capabilities.creates_clusters
        else [topology.prefix, sorted(cluster.name for cluster in topology.clusters.values())]
    )
    timeout_s = INSTALL_CLUSTER_SET_LOCK.seconds() if timeout_s is None else timeout_s
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    directory.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(directory / f"cluster-set-{digest}.lock"), timeout=timeout_s)
    holder = directory / f"cluster-set-{digest}.holder"
    try:
        lock.acquire()
    except Timeout:
        try:
            who = holder.read_text().strip() or "unknown"
        except OSError:
            who = "unknown (no holder record)"
        raise RuntimeError(
            f"{label}: the cluster set {topology.prefix or 'of these contexts'} was not free within "
            f"{timeout_s:.0f} s ({lock.lock_file}); it is held by {who}. Is a run stuck?"
        ) from None
    holder.write_text(
        f"pid {os.getpid()} ({label}) since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n"
    )
    return lock


class WaitHeartbeat(logging.Handler):
    """Every ``WAIT_HEARTBEAT_S`` of a wait (programs.waits logs each pause at debug level), tell
    how long it has been waiting, its deadline and what it last saw. A context manager."""

    def __init__(
        self, tell: Callable[[str, float, float | None, str], None], deadline: Callable[[], float | None]
    ) -> None:
        super().__init__(logging.DEBUG)
        self.tell = tell
        self.deadline = deadline
        self.logger = logging.getLogger("eicp.waits")
        self.started: dict[str, float] = {}
        self.told: dict[str, float] = {}
        self._level = self.logger.level

    def __enter__(self) -> WaitHeartbeat:
        self.logger.addHandler(self)
        if not self.logger.isEnabledFor(logging.DEBUG):
            self.logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self._level)

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        if not record.msg.startswith("waiting for") or len(args) < 2:
            return
        description, state = str(args[0]), str(args[1])
        now = time.monotonic()
        first = self.started.setdefault(description, now)
        if now - self.told.get(description, first) < WAIT_HEARTBEAT_S:
            return
        self.told[description] = now
        self.tell(description, now - first, self.deadline(), state)


def initial_facts(topology: Topology, config: SuiteConfig) -> Facts:
    """What is known before anything is installed: names, API servers and the user's choices."""
    return replace(
        config.choices(),
        cluster_names={role: cluster.name for role, cluster in topology.clusters.items()},
        api_servers={role: cluster.internal_api_server for role, cluster in topology.clusters.items()},
        clusters_have_dns=topology.can(Capability.CLUSTER_DNS),
    )


def installer_tools_from(tools: ToolResolver, config: SuiteConfig, runner: CommandRunner) -> InstallerTools:
    """The binaries a run's sessions use: resolved (pinned, cached, built) by ``tools``."""
    pins = load_pins()
    provider = SamplesProvider(
        cache_dir=config.tools_dir,
        runner=runner,
        archive=pins.tools["istio-release-archive"],
        allow_download=config.allow_download,
    )

    def istioctl(release: IstioRelease) -> Path:
        if release.source is not None:
            return tools.resolve_source("istioctl", release.source).path
        if release.istioctl_path is not None:
            return release.istioctl_path
        return tools.resolve("istioctl", str(release.version)).path

    def samples(release: IstioRelease) -> Path:
        # An Istio source has no release archive: its samples/ come from the source tree itself.
        source = release.source
        if source is not None and source.directory is not None:
            return provider.samples_from_tree(source.cache_key, source.directory / "samples")
        if source is not None:
            return provider.samples_dir(release.reported_version, go_revision=source.location)
        return provider.samples_dir(str(release.version))

    def istio_source(release: IstioRelease) -> Path | None:
        # A release built from an Istio source (``release.source``) has no published charts:
        # helm installs from the very tree its istioctl was built from (programs/source_builds.py).
        return None if release.source is None else tools.source_tree(release.source)

    return InstallerTools(
        istioctl=istioctl,
        helm=lambda: tools.resolve("helm").path,
        samples=samples,
        kind=lambda: tools.resolve("kind").path,
        istio_source=istio_source,
    )
