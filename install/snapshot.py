"""Cluster snapshots that prove an uninstall left each cluster as it found it.

Before a scenario installs, the names of every namespace, CRD, webhook configuration, cluster
role and cluster role binding on each of its clusters are recorded, and so are the ConfigMaps
istiod writes into every namespace it watches (``istio-ca-root-cert``, ``istio-ca-crl``: in a
namespace that existed before, they outlive istiod unless removed) and Helm's record of every
release (its ``sh.helm.release.v1.*`` Secret: a chart the suite installed, such as the egress
gateway or the Sail operator, shows by name until ``helm uninstall`` removed it). After the uninstall the
same listing must come back identical. Anything extra is a leftover of the scenario; anything
missing is something the suite removed without having created it. Namespaces and CRDs take a
while to go away, so the comparison is polled until a deadline and the last difference is
what the failure reports.

The same listing is what the ledger (install/ledger.py) reads back after the steps whose
tools create objects beside their output.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from clusters.cluster import ClusterHandle, Topology
from install.kubectl import is_transient
from programs.runner import CommandError, CommandTimeout
from programs.waits import Backoff, Observation, WaitTimeout, wait_until
from run.timeouts import INSTALL_RESTORE, INSTALL_SNAPSHOT
from scenarios.steps import Role

# The cluster-scoped kinds an Istio install creates, plus namespaces (which hold the rest).
TRACKED_KINDS: tuple[str, ...] = (
    "namespaces",
    "customresourcedefinitions",
    "mutatingwebhookconfigurations",
    "validatingwebhookconfigurations",
    "clusterroles",
    "clusterrolebindings",
)
# What istiod's namespace controller writes into every namespace (Istio's CACertNamespaceConfigMap
# and, with a plugged-in CA that has a CRL, the CRL ConfigMap).
ISTIOD_CONFIGMAPS: tuple[str, ...] = ("istio-ca-root-cert", "istio-ca-crl")
# One line a ConfigMap ("<namespace>   <name>", kubectl's column layout), no header.
CONFIGMAP_COLUMNS = "custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name"
# Helm 3 keeps each release revision as a Secret labelled owner=helm, named sh.helm.release.v1.<release>.v<N>.
HELM_RELEASE_SELECTOR = "owner=helm"
HELM_RELEASE_PREFIX = "sh.helm.release.v1."


@dataclass(frozen=True)
class ClusterSnapshot:
    """The names on one cluster: ``kind.group/name`` as ``kubectl -o name`` prints them, and
    ``configmap/NAME -n NAMESPACE`` for istiod's ConfigMaps (install.ledger.ObjectRef's text)."""

    role: Role
    objects: frozenset[str]

    def diff(self, after: ClusterSnapshot) -> SnapshotDiff:
        return SnapshotDiff(
            role=self.role,
            leftover=tuple(sorted(after.objects - self.objects)),
            removed=tuple(sorted(self.objects - after.objects)),
        )


@dataclass(frozen=True)
class SnapshotDiff:
    role: Role
    leftover: tuple[str, ...]
    removed: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not self.leftover and not self.removed

    def describe(self) -> str:
        lines = [f"[{self.role}]"]
        lines += [f"  left behind: {name}" for name in self.leftover]
        lines += [f"  removed but existed before the install: {name}" for name in self.removed]
        return "\n".join(lines)


class UninstallLeftovers(AssertionError):
    """The uninstall did not restore the clusters; the message lists every difference."""

    def __init__(self, scenario: str, diffs: Iterable[SnapshotDiff], waited_s: float) -> None:
        self.diffs = tuple(diff for diff in diffs if not diff.clean)
        body = "\n".join(diff.describe() for diff in self.diffs)
        super().__init__(
            f"uninstall of {scenario} did not restore the clusters (still different after "
            f"{waited_s:.0f}s); the next scenario cannot safely use them:\n{body}"
        )


def parse_configmap_columns(output: str) -> set[str]:
    """istiod's ConfigMaps in ``kubectl get configmaps -A -o custom-columns=... --no-headers``."""
    names: set[str] = set()
    for line in output.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1] in ISTIOD_CONFIGMAPS:
            names.add(f"configmap/{fields[1]} -n {fields[0]}")
    return names


def parse_helm_releases(output: str) -> set[str]:
    """Helm's release Secrets in ``kubectl get secrets -A -l owner=helm -o custom-columns=...``."""
    names: set[str] = set()
    for line in output.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1].startswith(HELM_RELEASE_PREFIX):
            names.add(f"secret/{fields[1]} -n {fields[0]}")
    return names


def take_snapshot(cluster: ClusterHandle) -> ClusterSnapshot:
    """One ``kubectl get <kinds> -o name`` call (a consistent listing of the tracked kinds), one
    listing of the ConfigMaps in every namespace, kept to istiod's, and one of Helm's releases
    (names only: the columns print no Secret data)."""
    result = cluster.kubectl(
        "get",
        ",".join(TRACKED_KINDS),
        "-o",
        "name",
        timeout_s=INSTALL_SNAPSHOT.seconds(),
        title=f"[{cluster.role}] snapshot of namespaces, CRDs, webhooks, cluster roles",
    )
    names = {line.strip() for line in result.stdout.splitlines() if line.strip()}
    configmaps = cluster.kubectl(
        "get",
        "configmaps",
        "--all-namespaces",
        "-o",
        CONFIGMAP_COLUMNS,
        "--no-headers",
        timeout_s=INSTALL_SNAPSHOT.seconds(),
        title=f"[{cluster.role}] snapshot of istiod's ConfigMaps in every namespace",
    )
    names |= parse_configmap_columns(configmaps.stdout)
    releases = cluster.kubectl(
        "get",
        "secrets",
        "--all-namespaces",
        "-l",
        HELM_RELEASE_SELECTOR,
        "-o",
        CONFIGMAP_COLUMNS,
        "--no-headers",
        timeout_s=INSTALL_SNAPSHOT.seconds(),
        title=f"[{cluster.role}] snapshot of Helm's releases in every namespace",
    )
    names |= parse_helm_releases(releases.stdout)
    return ClusterSnapshot(role=cluster.role, objects=frozenset(names))


def take_topology_snapshot(topology: Topology, roles: Iterable[Role]) -> dict[Role, ClusterSnapshot]:
    return {role: take_snapshot(topology[role]) for role in roles if topology.has(role)}


def verify_restored(
    scenario: str,
    topology: Topology,
    before: Mapping[Role, ClusterSnapshot],
    *,
    timeout_s: float | None = None,
    poll: Backoff | None = None,
) -> None:
    """Poll until every cluster's listing equals ``before``; raise ``UninstallLeftovers`` if not."""
    last: list[SnapshotDiff] = []
    started = time.monotonic()

    def observe() -> Observation[None]:
        diffs = []
        for role, snapshot in before.items():
            try:
                diffs.append(snapshot.diff(take_snapshot(topology[role])))
            except CommandError as error:
                if not (isinstance(error, CommandTimeout) or is_transient(error)):
                    raise
                return Observation(False, f"[{role}] API not answering: {error.stderr_tail}", None)
        last[:] = diffs
        state = "\n".join(diff.describe() for diff in diffs if not diff.clean) or "clean"
        return Observation(all(diff.clean for diff in diffs), state, None)

    try:
        deadline = INSTALL_RESTORE.seconds() if timeout_s is None else timeout_s
        wait_until(
            f"{scenario}: clusters back to their pre-install state",
            observe,
            deadline,
            backoff=poll or Backoff(),
        )
    except WaitTimeout:
        if not any(not diff.clean for diff in last):
            raise  # never got a full listing: the timeout itself says why
        raise UninstallLeftovers(scenario, last, time.monotonic() - started) from None
