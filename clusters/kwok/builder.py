"""The kwok provider built from a run's context: preflight, tools, pilot-discovery per release and
the synthetic proxies, before any cluster exists (clusters/kwok/provider.py runs the clusters)."""

from __future__ import annotations

import logging
import os

from clusters.cluster import ProviderError
from clusters.kwok.config import KwokBinaries
from clusters.kwok.kwokctl import Kwokctl
from clusters.kwok.pilot_binaries import resolve_pilots
from clusters.kwok.preflight import kwok_preflight
from clusters.kwok.provider import KwokProvider, KwokSettings
from clusters.kwok.sweep import registry_of
from clusters.kwok.xds_proxies import build_synthetic_proxies
from clusters.names import RunIdentity, worker_for_names
from clusters.netns import IpCli
from clusters.provider import ProviderContext
from programs.tool_policy import KWOK_MODE_TOOLS

log = logging.getLogger("eicp.kwok")


def build_kwok_provider(context: ProviderContext) -> KwokProvider:
    """Preflight, tools, provider; raise ``ProviderError`` or ``ToolUnavailable`` on a problem."""
    config = context.config
    try:
        identity = RunIdentity(config.cluster_prefix, context.run_id, worker_for_names(context.worker))
    except ValueError as error:
        raise ProviderError(str(error)) from None
    programs = kwok_preflight(context.runner, clusters=0, istiods=0)
    if config.reuse_clusters:
        log.warning(
            "--reuse-clusters is for kind clusters; kwok clusters are created afresh (about 5 s each)"
        )
    tools = {name: context.tools.resolve(name) for name in KWOK_MODE_TOOLS}
    binaries = KwokBinaries(
        kube_apiserver=tools["kube-apiserver"].path,
        kube_controller_manager=tools["kube-controller-manager"].path,
        kube_scheduler=tools["kube-scheduler"].path,
        kwok_controller=tools["kwok"].path,
        etcd=tools["etcd"].path,
        kubectl=tools["kubectl"].path,
        kube_version=tools["kube-apiserver"].version,
        etcd_version=tools["etcd"].version,
        kwok_version=tools["kwok"].version,
    )
    releases = tuple(release for release in (*config.releases, config.upgrade_to) if release is not None)
    try:
        pilots = resolve_pilots(releases, context.tools, context.runner)
    except ValueError as error:
        raise ProviderError(str(error)) from None
    workdir = context.run_dir / "kwok" / "work"
    return KwokProvider(
        identity=identity,
        settings=KwokSettings(
            keep_clusters=config.keep_clusters,
            keep_on_failure=config.keep_on_failure,
            istiods=1 + (1 if config.upgrade_to is not None else 0),
            upgrade=config.upgrade_to is not None,
            parallel_cluster_sets=int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")),
        ),
        binaries=binaries,
        kwokctl=Kwokctl(context.runner, tools["kwokctl"].path, tools["kubectl"].path, workdir),
        registry=registry_of(context.state_dir),
        run_dir=context.run_dir,
        runner=context.runner,
        redactor=context.redactor,
        ip=IpCli(context.runner),
        programs=programs,
        log_dir=context.report_dir / "logs",
        pilots=pilots,
        proxies=build_synthetic_proxies(context, releases) if releases and pilots else None,
    )
