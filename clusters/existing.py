"""Existing clusters (``--topology-mode existing``): kubeconfig contexts per role, checked up front.

Nothing is created or deleted at cluster level in this mode. For each role the context is
looked up, flattened into a kubeconfig of its own (mode 0600, in the run directory) and asked
for its version, so a missing or unreachable cluster stops the run before any install. Each
remote's API server URL *as the external cluster reaches it* is the ``--remote-api-server`` /
``--second-api-server`` option, or else the kubeconfig's server. Each role's Istio cluster ID
(``ClusterHandle.name``) is its ``--<role>-cluster-name``, by default the role itself: never the
context name (GKE's ``gke_<project>_<zone>_<name>``, EKS ARNs are not DNS-1123 labels).

``ExistingProvider`` is this mode's ``ClusterProvider`` (clusters/provider.py); the contexts
were already checked against the kubeconfig file(s) at configure time (run/config_checks.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from clusters.capabilities import Capability, ProviderCapabilities
from clusters.cluster import ClusterHandle, ProviderError, Topology
from clusters.kubeconfig import KubeconfigError, register_kubeconfig_files, save_kubeconfig, server_of
from clusters.networks import ROLE_NETWORKS
from clusters.provider import ExternalLoadBalancers, LoadBalancerProvider, StepRecordLike
from programs.redaction import Redactor
from programs.runner import CommandError, CommandRunner
from run.config import ExistingClusters
from run.config_checks import kubeconfig_files
from run.timeouts import EXISTING_PROBE
from scenarios.steps import Role

if TYPE_CHECKING:
    from clusters.provider import ProviderContext

log = logging.getLogger("eicp.existing")

CAPABILITIES = ProviderCapabilities(
    mode="existing",
    clusters="existing clusters",
    creates_clusters=False,
    supports=frozenset({Capability.REAL_DATA_PLANE, Capability.CONTAINER_LOGS, Capability.CLUSTER_DNS}),
    lacks={
        Capability.PUBLISHES_HOSTNAMES: (
            "the suite publishes its own test name only in clusters it created (it edits their "
            "nodes' hosts files and CoreDNS); existing clusters need a name real DNS resolves"
        ),
        Capability.NODE_CONTAINERS: (
            "the suite reaches no node of clusters it did not create (no kind, no docker exec)"
        ),
        Capability.ISTIO_SOURCES: (
            "its clusters pull istiod and proxy images, and a source build makes none (only "
            "istioctl, pilot-discovery and the synthetic proxy, as host binaries)"
        ),
    },
)


class ExistingClusterError(ProviderError):
    """A context is missing, points at the wrong thing, or its cluster does not answer."""


def connect_existing(
    existing: ExistingClusters,
    roles: Sequence[Role],
    runner: CommandRunner,
    redactor: Redactor,
    run_dir: Path,
    kubectl_bin: str,
) -> Topology:
    """Handles for ``roles`` on the user's clusters; raise ``ExistingClusterError`` on the first problem."""
    source = ["--kubeconfig", str(existing.kubeconfig)] if existing.kubeconfig else []
    where = str(existing.kubeconfig) if existing.kubeconfig else "the default kubeconfig ($KUBECONFIG)"
    missing_roles = [role for role in roles if role not in existing.contexts]
    if missing_roles:
        raise ExistingClusterError(
            f"no context given for role(s) {', '.join(missing_roles)}: pass --{missing_roles[0]}-context"
        )
    available = _contexts(runner, kubectl_bin, source, where)
    for role in roles:
        context = existing.contexts[role]
        if context not in available:
            raise ExistingClusterError(
                f"--{role}-context {context!r} is not a context in {where}; "
                f"contexts there: {', '.join(sorted(available)) or 'none'}"
            )

    clusters: dict[Role, ClusterHandle] = {}
    servers: dict[str, Role] = {}
    for role in roles:
        context = existing.contexts[role]
        kubeconfig_path = run_dir / f"kubeconfig-{role}"
        text = runner.run(
            [kubectl_bin, *source, "config", "view", "--raw", "--minify", "--flatten", "--context", context],
            timeout_s=EXISTING_PROBE.seconds(),
            attach=False,
            title=f"[{role}] kubectl config view --minify --context {context}",
        ).stdout
        try:
            data = save_kubeconfig(kubeconfig_path, text, redactor, f"context {context!r}")
            server = server_of(data, context)
        except KubeconfigError as error:
            raise ExistingClusterError(f"--{role}-context {context!r}: {error}") from None
        if server in servers:
            raise ExistingClusterError(
                f"--{role}-context {context!r} and --{servers[server]}-context "
                f"{existing.contexts[servers[server]]!r} reach the same API server {server}; "
                "each role needs its own cluster"
            )
        servers[server] = role
        handle = ClusterHandle(
            role=role,
            # The Istio cluster ID: --<role>-cluster-name, never the context (GKE's gke_..., EKS ARNs).
            name=existing.cluster_name(role),
            context=context,
            kubeconfig=kubeconfig_path,
            internal_api_server=existing.api_servers.get(role, server),
            network=ROLE_NETWORKS[role].mesh_network,
            runner=runner,
            kubectl_bin=kubectl_bin,
            created_by_suite=False,
        )
        _check_answers(handle)
        clusters[role] = handle
    return Topology(CAPABILITIES, clusters=clusters, prefix="")


@dataclass
class ExistingProvider:
    """The existing-clusters ``ClusterProvider``: connects to contexts, creates and deletes nothing."""

    existing: ExistingClusters
    runner: CommandRunner
    redactor: Redactor
    run_dir: Path
    kubectl_bin: str
    capabilities: ClassVar[ProviderCapabilities] = CAPABILITIES
    topology: Topology | None = None

    def provision(self, roles: Sequence[Role]) -> Topology:
        try:
            self.topology = connect_existing(
                self.existing, roles, self.runner, self.redactor, self.run_dir, self.kubectl_bin
            )
        except KubeconfigError as error:
            raise ExistingClusterError(str(error)) from None
        return self.topology

    def load_balancers(self) -> LoadBalancerProvider:
        return ExternalLoadBalancers()

    def stand_ins(self) -> tuple[str, ...]:
        return ()

    def step_recorded(self, record: StepRecordLike) -> None:
        """Nothing to follow: the user's nodes run the pods themselves."""

    def teardown(self, *, failed: bool, interrupted: bool) -> str | None:
        if self.topology is not None:
            remove_kubeconfigs(self.topology)
        return None


def build_existing_provider(context: ProviderContext) -> ExistingProvider:
    """Only kubectl is needed (no kind, no cloud-provider-kind); the contexts were checked at
    configure time. Every credential of the kubeconfig file(s) is registered with the redactor
    before the first kubectl call, the users of contexts not selected included."""
    assert context.config.existing is not None
    register_kubeconfig_files(kubeconfig_files(context.config.existing.kubeconfig)[0], context.redactor)
    kubectl = str(context.tools.resolve("kubectl").path)
    return ExistingProvider(
        context.config.existing, context.runner, context.redactor, context.run_dir, kubectl
    )


def remove_kubeconfigs(topology: Topology) -> None:
    """Session end: delete the per-role copies of the user's credentials from the run directory."""
    for handle in topology.clusters.values():
        handle.kubeconfig.unlink(missing_ok=True)


def _contexts(runner: CommandRunner, kubectl_bin: str, source: list[str], where: str) -> set[str]:
    try:
        result = runner.run(
            [kubectl_bin, *source, "config", "get-contexts", "-o", "name"],
            timeout_s=EXISTING_PROBE.seconds(),
            title="kubectl config get-contexts",
        )
    except CommandError as error:
        raise ExistingClusterError(f"cannot read the contexts of {where}: {error}") from None
    return {line.strip() for line in result.stdout.splitlines() if line.strip()}


def _check_answers(handle: ClusterHandle) -> None:
    try:
        result = handle.kubectl(
            "get",
            "--raw",
            "/version",
            f"--request-timeout={int(EXISTING_PROBE.seconds())}s",
            timeout_s=EXISTING_PROBE.seconds() + 10,
            title=f"[{handle.role}] is the cluster of context {handle.context} answering?",
        )
        version = json.loads(result.stdout).get("gitVersion", "?")
    except CommandError as error:
        raise ExistingClusterError(
            f"the {handle.role} cluster (context {handle.context!r}) does not answer: {error}"
        ) from None
    except json.JSONDecodeError:
        raise ExistingClusterError(
            f"the {handle.role} cluster (context {handle.context!r}) answered /version with something "
            "that is not a Kubernetes version document"
        ) from None
    log.info("%s cluster (context %s) answers: Kubernetes %s", handle.role, handle.context, version)
