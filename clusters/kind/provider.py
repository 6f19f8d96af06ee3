"""The builder of the kind provider: host preflight, then its tools, then a ``KindProvisioner``.

Nothing here creates a cluster: ``build_kind_provider`` checks the host (Docker answers,
inotify limits), resolves and version-checks kubectl, kind and cloud-provider-kind, and
returns the provisioner whose ``provision`` creates the clusters.
"""

from __future__ import annotations

import os

from clusters.cluster import ProviderError
from clusters.kind.cli import DockerCli, KindCli
from clusters.kind.cloud_provider_kind import CloudProviderKind
from clusters.kind.config import node_image_for
from clusters.kind.lifecycle import KindProvisioner, KindSettings, RunIdentity, RunRegistry, worker_for_names
from clusters.kind.lifecycle import host_preflight as _host_preflight
from clusters.provider import ProviderContext
from programs.runner import CommandRunner
from scenarios.releases import VersionError, load_pins

DOCKER = "docker"  # not a pinned tool: kind and cloud-provider-kind call it from PATH
KIND_TOOLS = ("kubectl", "kind", "cloud-provider-kind")


def kind_host_preflight(runner: CommandRunner) -> None:
    """Docker answers and the inotify limits suffice (the memory check waits for the cluster count)."""
    _host_preflight(runner, DOCKER)


def build_kind_provider(context: ProviderContext) -> KindProvisioner:
    """Preflight, tools, provisioner; raise ``ProviderError`` or ``ToolUnavailable`` on a problem."""
    config = context.config
    try:
        node_image = node_image_for(
            tuple(r for r in (*config.releases, config.upgrade_to) if r is not None),
            load_pins().kind_node_images,
            config.kind_node_image,
        )
        identity = RunIdentity(config.cluster_prefix, context.run_id, worker_for_names(context.worker))
    except (VersionError, ValueError) as error:
        raise ProviderError(str(error)) from None
    _host_preflight(context.runner, DOCKER)
    kubectl, kind_bin, cpk_bin = (str(context.tools.resolve(name).path) for name in KIND_TOOLS)
    docker = DockerCli(context.runner, DOCKER)
    registry = RunRegistry(context.state_dir)
    provisioner = KindProvisioner(
        kind=KindCli(context.runner, kind_bin),
        docker=docker,
        registry=registry,
        identity=identity,
        settings=KindSettings(
            node_image=node_image,
            keep_clusters=config.keep_clusters,
            reuse_clusters=config.reuse_clusters,
            keep_on_failure=config.keep_on_failure,
            preload_images=config.preload_images,
            image_archive_dir=config.image_archive_dir,
            parallel_cluster_sets=int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")),
        ),
        run_dir=context.run_dir,
        report_dir=context.report_dir,
        runner=context.runner,
        redactor=context.redactor,
        kubectl_bin=kubectl,
        preflight_passed=True,
    )
    provisioner.cpk = CloudProviderKind(
        cpk_bin,
        state_dir=registry.state_dir,
        log_dir=context.report_dir / "logs",
        runner=context.runner,
        docker=docker,
        own_clusters=provisioner.cluster_names,
        run_id=context.run_id,
        worker=context.worker,
    )
    return provisioner
