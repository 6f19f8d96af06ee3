"""The suite's configuration: ``SuiteConfig`` and the validation of every option, before any work.

Neutral on purpose (no pytest import): ``fixtures/options.py`` declares the options and hands
their values here through a getter; every other package reads the frozen ``SuiteConfig``.
Defaults live once, in ``DEFAULTS``; the option declarations take theirs from it.

A bad value raises ``ConfigError`` naming the value and what is accepted; the options plugin
turns it into a usage error (pytest exit code 4, no traceback) before any tool is resolved or
any cluster touched. Checks that read the host (directories, kubeconfig files, tool paths) only
read it, except that the report and tools directories are created when they do not exist.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal, cast

from run import timeouts
from run.config_checks import (
    ConfigError,
    check_contexts,
    check_directory,
    check_hub,
    check_tag,
    check_tool_path,
    existing_clusters,
    fail,
)
from run.source_options import Inspect, check_upgrade_order, source_releases, wants_sources
from run.tls_secret_file import ACCEPTED as TLS_SECRET_FILE_ACCEPTED
from run.tls_secret_file import TlsSecretFile, TlsSecretFileError
from run.tls_secret_file import load as load_tls_secret_file
from scenarios.facts import Facts
from scenarios.registry import SCENARIO_IDS, reaches_istiod_by_name
from scenarios.releases import IstioRelease, IstioVersion, Pins, VersionError, load_pins
from scenarios.second_remote import BASES as SECOND_REMOTE_BASES
from scenarios.workarounds import WORKAROUNDS

__all__ = ["SECOND_REMOTE_BASES", "ConfigError", "ExistingClusters", "SuiteConfig", "build_config"]

IngressVariant = Literal["istio", "gateway-api", "both"]
EgressGatewayMethod = Literal["none", "helm"]

INGRESS_VARIANTS: tuple[str, ...] = ("istio", "gateway-api", "both")
# The guide's optional egress gateway on the remote: none, or installed as istio.io's doc test
# for the page installs it (helm, the istio/gateway chart, service.type=ClusterIP).
EGRESS_GATEWAY_METHODS: tuple[str, ...] = ("none", "helm")
DEFAULT_TOOLS_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "eicp" / "tools"
DEFAULT_REPORT_DIR = Path("eicp-report")
_PREFIX_RE = re.compile(r"^[a-z](?:[a-z0-9-]{0,18}[a-z0-9])?$")
_NODE_IMAGE_RE = re.compile(r"^[\w./-]+(:[\w.-]+)?(@sha256:[0-9a-f]{64})?$")
_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
_DNS_LABEL_RE = re.compile(rf"^{_LABEL}$")
_HOSTNAME_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$", re.IGNORECASE)
# Modes whose clusters the suite creates itself; the others refuse the kind-mode flags.
CREATING_MODES = ("kind", "kwok")
KIND_ONLY_FLAGS = (
    "--keep-clusters",
    "--reuse-clusters",
    "--keep-on-failure",
    "--image-archive-dir",
    "--preload-image",
)


@dataclass(frozen=True)
class Defaults:
    """The one place option defaults are defined (``fixtures/options.py`` declares them with these)."""

    scenario: tuple[str, ...] = SCENARIO_IDS
    second_remote_base: str = SECOND_REMOTE_BASES[0]
    ingress: str = "istio"
    egress_gateway: str = "none"
    topology_mode: str = "kind"
    cluster_prefix: str = "eicp"
    # Pre-upgrade probe: the share of requests that must succeed while the control plane is upgraded.
    upgrade_min_success_ratio: float = 0.995
    report_dir: Path = DEFAULT_REPORT_DIR
    tools_dir: Path = DEFAULT_TOOLS_DIR


DEFAULTS = Defaults()


@dataclass(frozen=True)
class ExistingClusters:
    """Existing mode: a kubeconfig context per role, how the external cluster reaches each remote,
    and the Istio cluster ID of each role (``--<role>-cluster-name``; never a context name)."""

    kubeconfig: Path | None
    contexts: dict[str, str]
    api_servers: dict[str, str] = field(default_factory=dict)
    cluster_names: dict[str, str] = field(default_factory=dict)

    def cluster_name(self, role: str) -> str:
        """The Istio cluster ID of ``role``: its ``--<role>-cluster-name``, else the role itself."""
        return self.cluster_names.get(role, role)


@dataclass(frozen=True)
class SuiteConfig:
    releases: tuple[IstioRelease, ...]
    upgrade_to: IstioRelease | None
    upgrade_min_success_ratio: float
    scenarios: tuple[str, ...]
    second_remote_base: str
    ingress: IngressVariant
    mode: str  # a --topology-mode of clusters/providers.py
    existing: ExistingClusters | None
    keep_clusters: bool
    reuse_clusters: bool
    keep_on_failure: bool
    plan: bool
    tools_dir: Path
    tool_paths: dict[str, Path]
    allow_download: bool
    kind_node_image: str | None
    cluster_prefix: str
    report_dir: Path
    external_hostname: str | None
    external_tls_secret: str | None
    image_archive_dir: Path | None
    preload_images: tuple[str, ...]
    # Overridden deadlines (run/timeouts.py): --timeout NAME=SECONDS / FILE, --diagnostics-timeout.
    timeouts: dict[str, float] = field(default_factory=dict)
    istio_hub: str | None = None
    istio_tag: str | None = None
    istioctl: Path | None = None
    workarounds: tuple[str, ...] = ()  # scenarios/workarounds.py names, as asked for
    # kwok: the user's gateway secret as a manifest (run/tls_secret_file.py), checked; its CA public.
    external_tls_secret_file: TlsSecretFile | None = None
    egress_gateway: EgressGatewayMethod = "none"

    @property
    def uses_external_hostname(self) -> bool:
        """Whether a selected scenario reaches istiod by a host name (scenarios/registry.py)."""
        return any(reaches_istiod_by_name(scenario, self.choices()) for scenario in self.scenarios)

    def choices(self) -> Facts:
        """The facts known before any cluster work: the user's choices, nothing discovered."""
        secret_file = self.external_tls_secret_file
        return Facts(
            ingress=self.ingress,
            egress_gateway=self.egress_gateway,
            second_remote_base=self.second_remote_base,
            external_hostname=self.external_hostname,
            external_tls_secret=self.external_tls_secret or Facts.external_tls_secret,
            suite_pki=self.external_tls_secret is None,
            external_tls_secret_file=str(secret_file.path) if secret_file else None,
            external_tls_ca_bundle=secret_file.ca_bundle if secret_file else None,
            step_deadlines=timeouts.step_overrides(self.timeouts),
            workarounds=frozenset(self.workarounds),
        )


Option = Callable[[str], Any]


def choice(name: str, value: str, accepted: tuple[str, ...]) -> str:
    if value not in accepted:
        fail(f"{name} {value!r} is not valid: accepted values are {', '.join(accepted)}")
    return value


def build_config(
    option: Option,
    *,
    modes: tuple[str, ...],
    source_modes: tuple[str, ...] = (),
    inspect_source: Inspect | None = None,
) -> SuiteConfig:
    """Validate the option values (``option("--flag")``); raise ``ConfigError`` naming the first bad one.

    ``modes``: the topology modes, one per provider (clusters/providers.py, which this neutral
    module cannot import); asking for another is refused here, before any work. ``source_modes``:
    those whose clusters can run an Istio source build (``Capability.ISTIO_SOURCES``);
    ``inspect_source`` turns an ``--istio-source``/``--upgrade-to-source`` value into an
    ``IstioSource`` (programs/istio_sources.py; run/source_options.py says what is refused first).
    """
    pins = load_pins()
    releases, upgrade_to = _releases(
        option, pins, str(option("--topology-mode")), source_modes, inspect_source
    )

    scenarios = tuple(dict.fromkeys(option("--scenario") or DEFAULTS.scenario))
    for scenario in scenarios:
        choice("--scenario", scenario, SCENARIO_IDS)
    base = choice("--second-remote-base", option("--second-remote-base"), SECOND_REMOTE_BASES)
    ingress = choice("--ingress", option("--ingress"), INGRESS_VARIANTS)
    egress = choice("--egress-gateway", option("--egress-gateway"), EGRESS_GATEWAY_METHODS)
    mode = choice("--topology-mode", option("--topology-mode"), modes)
    prefix = option("--cluster-prefix")
    if not _PREFIX_RE.match(prefix):
        fail(
            f"--cluster-prefix {prefix!r}: use 1-20 characters of a-z, 0-9 and '-', starting with a "
            "letter and not ending with '-'"
        )
    node_image = option("--kind-node-image")
    if node_image is not None and not _NODE_IMAGE_RE.match(node_image):
        fail(
            f"--kind-node-image {node_image!r} is not an image reference (e.g. kindest/node:v1.37.0@sha256:...)"
        )
    deadlines = _timeouts(option)
    archive_dir = option("--image-archive-dir")
    if archive_dir is not None and not archive_dir.is_dir():
        fail(f"--image-archive-dir {archive_dir}: no such directory")
    report_dir = check_directory("--report-dir", option("--report-dir") or DEFAULTS.report_dir)
    tools_dir = check_directory(
        "--tools-dir",
        (option("--tools-dir") or Path(os.environ.get("EICP_TOOLS_DIR", DEFAULTS.tools_dir))).expanduser(),
    )
    tool_paths = _tool_paths(option("--tool-path"), tuple(pins.tools))
    workarounds = _workarounds(option("--workaround") or [])

    config = SuiteConfig(
        releases=releases,
        upgrade_to=upgrade_to,
        upgrade_min_success_ratio=_ratio(option("--upgrade-min-success-ratio")),
        scenarios=scenarios,
        second_remote_base=base,
        ingress=ingress,  # type: ignore[arg-type]
        mode=mode,
        existing=None,
        keep_clusters=option("--keep-clusters"),
        reuse_clusters=option("--reuse-clusters"),
        keep_on_failure=option("--keep-on-failure"),
        plan=option("--plan"),
        tools_dir=tools_dir,
        tool_paths=tool_paths,
        allow_download=not option("--no-download"),
        kind_node_image=node_image,
        cluster_prefix=prefix,
        report_dir=report_dir,
        external_hostname=option("--external-hostname"),
        external_tls_secret=option("--external-tls-secret"),
        image_archive_dir=archive_dir,
        preload_images=tuple(option("--preload-image")),
        timeouts=deadlines,
        istio_hub=option("--istio-hub"),
        istio_tag=option("--istio-tag"),
        istioctl=option("--istioctl"),
        workarounds=workarounds,
        egress_gateway=egress,  # type: ignore[arg-type]
    )
    if mode == "existing":
        kubeconfig, contexts, api_servers, names = existing_clusters(option, scenarios, _DNS_LABEL_RE)
        config = replace(config, existing=ExistingClusters(kubeconfig, contexts, api_servers, names))
    _check_hostname(config, mode)
    config = _tls_secret_file(config, mode, option("--external-tls-secret-file"))
    if mode not in CREATING_MODES:
        for flag in KIND_ONLY_FLAGS:
            if option(flag):
                fail(
                    f"{flag} applies to kind mode only (and kwok); --topology-mode {mode} never "
                    "creates or deletes clusters, so there is nothing to keep or reuse"
                )
    if config.existing is not None and not config.plan:  # --plan reads no kubeconfig
        check_contexts(config.existing.contexts, config.existing.kubeconfig)
    return config


def _check_hostname(config: SuiteConfig, mode: str) -> None:
    hostname = config.external_hostname
    if hostname is not None and not _HOSTNAME_RE.match(hostname):
        fail(
            f"--external-hostname {hostname!r} is not an RFC 1123 host name: use letters, digits, '-' "
            "and dots only (no scheme, port, path, spaces or underscores), e.g. istiod.example.com"
        )
    if hostname is not None and not config.uses_external_hostname:
        fail(
            f"--external-hostname {hostname!r} is used by the dns-tls scenario only (also as the base "
            f"of second-remote); the selected scenarios ({', '.join(config.scenarios)}) do not use it"
        )
    if mode == "existing" and config.uses_external_hostname and hostname is None:
        fail(
            "dns-tls on existing clusters needs --external-hostname: a real DNS name for the external "
            "gateway (the suite publishes its own test name only on kind clusters it created)"
        )
    if config.uses_external_hostname and config.external_tls_secret and hostname is None:
        fail("--external-tls-secret needs --external-hostname (the name the certificate is for)")


def _tls_secret_file(config: SuiteConfig, mode: str, path: Path | None) -> SuiteConfig:
    """kwok mode creates its clusters: a secret of the user's comes as a manifest file."""
    name = config.external_tls_secret
    if path is not None and mode != "kwok":
        fail(
            f"--external-tls-secret-file {path} applies to kwok mode only (clusters the run creates); "
            f"in {mode} mode the secret must already be in istio-system: give --external-tls-secret alone"
        )
    if path is not None and name is None:
        fail(f"--external-tls-secret-file {path} needs --external-tls-secret NAME (the Secret's name)")
    if mode != "kwok" or name is None:
        return config
    if path is None:
        fail(
            f"--external-tls-secret {name!r} in kwok mode needs --external-tls-secret-file FILE: the run creates "
            f"its clusters, so no secret of yours is in them; FILE is {TLS_SECRET_FILE_ACCEPTED}"
        )
    hostname = config.external_hostname or ""
    try:
        checked = load_tls_secret_file(path, name, hostname)
    except TlsSecretFileError as error:
        fail(f"--external-tls-secret-file {path}: {error}; expected {TLS_SECRET_FILE_ACCEPTED}")
    return replace(config, external_tls_secret_file=checked)


def _guide_revision(option: Option, pins: Pins) -> str | None:
    """``--guide-revision``: a revision some supported or candidate release offers (whether each
    selected release offers it is checked as the release is resolved)."""
    guide = option("--guide-revision")
    if guide is not None:
        choice("--guide-revision", guide, pins.guide_revisions())
    return cast(str | None, guide)


def _releases(
    option: Option, pins: Pins, mode: str, source_modes: tuple[str, ...], inspect: Inspect | None
) -> tuple[tuple[IstioRelease, ...], IstioRelease | None]:
    guide = _guide_revision(option, pins)
    from_source: tuple[IstioRelease, ...] | None = None
    source_target: IstioRelease | None = None
    if wants_sources(option):
        from_source, source_target = source_releases(option, pins, mode, source_modes, inspect, guide)
    hub, tag, istioctl = option("--istio-hub"), option("--istio-tag"), option("--istioctl")
    if hub is not None:
        check_hub(hub)
    if tag is not None:
        check_tag(tag)
    if istioctl is not None:
        check_tool_path("--istioctl", istioctl)
    if from_source is not None:
        releases = from_source
    else:
        # Default: the newest supported minor whose pinned patch is GA, as if given as a minor (so
        # its newest patch is looked up at run time); values naming one release run once.
        default = IstioVersion.parse(pins.default_version()).minor_key
        versions: list[str] = option("--istio-version") or [default]
        try:
            releases = pins.resolve_releases(versions, hub=hub, tag=tag, istioctl_path=istioctl, guide=guide)
        except VersionError as error:
            raise ConfigError(f"--istio-version: {error}") from None
    upgrade_text = option("--upgrade-to")
    try:
        upgrade_to = pins.resolve_release(upgrade_text, guide=guide) if upgrade_text else source_target
    except VersionError as error:
        raise ConfigError(f"--upgrade-to: {error}") from None
    if upgrade_to is not None and len(releases) != 1:
        fail("--upgrade-to needs exactly one --istio-version (the release to upgrade from)")
    if upgrade_to is not None:
        check_upgrade_order(releases[0], upgrade_to)
    for release in (*releases, *([upgrade_to] if upgrade_to else [])):
        # An end-of-life minor stays selectable, with a warning (versions.yaml end_of_life).
        eol = pins.end_of_life_warning(release, date.today())
        if eol is not None:
            warnings.warn(eol, UserWarning, stacklevel=2)
    return releases, upgrade_to


def _timeouts(option: Option) -> dict[str, float]:
    try:
        found = timeouts.parse(option("--timeout"))
    except timeouts.TimeoutsError as error:
        raise ConfigError(str(error)) from None
    diagnostics = option("--diagnostics-timeout")  # the older spelling of one of them
    if diagnostics is not None:
        if not (math.isfinite(diagnostics) and diagnostics > 0):
            fail(f"--diagnostics-timeout {diagnostics}: must be a positive, finite number of seconds")
        found.setdefault(timeouts.DIAGNOSTICS.name, float(diagnostics))
    return found


def _workarounds(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(choice("--workaround", value, tuple(WORKAROUNDS)) for value in values))


def _ratio(value: float) -> float:
    if not (math.isfinite(value) and 0 < value <= 1):
        fail(f"--upgrade-min-success-ratio {value}: must be in (0, 1], e.g. 0.995")
    return value


def _tool_paths(values: list[str], known: tuple[str, ...]) -> dict[str, Path]:
    paths: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not path:
            fail(f"--tool-path {value!r}: expected NAME=PATH, e.g. kind=/usr/local/bin/kind")
        choice("--tool-path tool", name, known)
        paths[name] = check_tool_path(f"--tool-path {name}={path}", Path(path))
    return paths
