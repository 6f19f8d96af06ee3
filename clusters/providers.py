"""The topology modes: one declared ``ProviderSpec`` per ``--topology-mode``, the only place a mode
name is mapped to its provider.

Everything about a mode is asked here (or of the ``Topology`` its provider makes): the options
(accepted modes), the topology plugin (the builder), the tool policy (tools only one mode
uses), the applicability decision and the reports (its ``ProviderCapabilities``), termination
(what a kill would leave of its clusters). Adding a provider is its package and one
``ProviderSpec`` in ``PROVIDERS``; see ARCHITECTURE.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clusters import existing
from clusters.capabilities import Capability, LeftoverScope, ProviderCapabilities
from clusters.kind import leftovers as kind_leftovers
from clusters.kind import lifecycle as kind
from clusters.kind.provider import build_kind_provider, kind_host_preflight
from clusters.kwok import builder as kwok
from clusters.kwok.capabilities import CAPABILITIES as KWOK_CAPABILITIES
from clusters.kwok.preflight import host_preflight as kwok_host_preflight
from clusters.kwok.sweep import kwok_leftovers
from clusters.provider import ClusterProvider, ProviderContext
from programs.runner import CommandRunner
from programs.tool_policy import KWOK_MODE_TOOLS

__all__ = [
    "MODES",
    "PROVIDERS",
    "SOURCE_MODES",
    "ProviderSpec",
    "build_provider",
    "capabilities_of",
    "provider_spec",
    "refused_tools",
]


def _nothing_left(scope: LeftoverScope) -> list[str]:
    return []


def _nothing_to_check(runner: CommandRunner) -> None:
    return None


@dataclass(frozen=True)
class ProviderSpec:
    capabilities: ProviderCapabilities
    # Host preflight, then its tools, then the provider; nothing is created before ``provision``.
    build: Callable[[ProviderContext], ClusterProvider]
    # What the host needs before any tool is resolved (clusters/preflight_cli.py, run by
    # ci/certify.sh first); raises PreflightError listing every problem.
    host_preflight: Callable[[CommandRunner], None] = _nothing_to_check
    # Tools only this mode uses: any other mode refuses them without trying anything.
    own_tools: tuple[str, ...] = ()
    # What a kill right now would leave of a run's clusters, and how to remove it (files only:
    # a signal handler asks).
    leftovers: Callable[[LeftoverScope], list[str]] = _nothing_left

    @property
    def mode(self) -> str:
        return self.capabilities.mode


PROVIDERS: tuple[ProviderSpec, ...] = (
    ProviderSpec(
        kind.CAPABILITIES,
        build_kind_provider,
        host_preflight=kind_host_preflight,
        own_tools=("kind", "cloud-provider-kind"),
        leftovers=kind_leftovers.kind_leftovers,
    ),
    ProviderSpec(existing.CAPABILITIES, existing.build_existing_provider),
    ProviderSpec(
        KWOK_CAPABILITIES,
        kwok.build_kwok_provider,
        host_preflight=kwok_host_preflight,
        own_tools=tuple(tool for tool in KWOK_MODE_TOOLS if tool != "kubectl"),
        leftovers=kwok_leftovers,
    ),
)
MODES: tuple[str, ...] = tuple(spec.mode for spec in PROVIDERS)
# The modes whose clusters can run an Istio source's own builds (--istio-source).
SOURCE_MODES: tuple[str, ...] = tuple(
    spec.mode for spec in PROVIDERS if spec.capabilities.can(Capability.ISTIO_SOURCES)
)
_BY_MODE = {spec.mode: spec for spec in PROVIDERS}


def provider_spec(mode: str) -> ProviderSpec:
    try:
        return _BY_MODE[mode]
    except KeyError:
        raise ValueError(f"unknown topology mode {mode!r}: accepted modes are {', '.join(MODES)}") from None


def capabilities_of(mode: str) -> ProviderCapabilities | None:
    """What ``mode``'s clusters can do (None for a name no provider declares)."""
    spec = _BY_MODE.get(mode)
    return spec.capabilities if spec is not None else None


def build_provider(context: ProviderContext) -> ClusterProvider:
    """The one place a ``--topology-mode`` picks its provider's builder."""
    return provider_spec(context.config.mode).build(context)


def refused_tools(mode: str) -> dict[str, str]:
    """Tools another mode owns, which ``mode`` never resolves: name -> why."""
    return {
        tool: f"--topology-mode {mode} does not use {tool}"
        for spec in PROVIDERS
        if spec.mode != mode
        for tool in spec.own_tools
    }
