"""The suite's configuration: ``SuiteConfig`` and the validation of every option, before any work.

Neutral on purpose (no pytest import): ``fixtures/options.py`` declares the options and hands
their values here through a getter; every other package reads the frozen ``SuiteConfig``.
Defaults live once, in ``DEFAULTS``; the option declarations take theirs from it.

A bad value raises ``ConfigError`` naming the value and what is accepted; the options plugin
turns it into a usage error (pytest exit code 4, no traceback) before any tool is resolved or
any cluster touched. Checks that read the host (directories, kubeconfig files, tool paths) only
read it: nothing is created before every option was found good (run/config_values.py checks
single values, run/config_checks.py the existing clusters, run/option_rules.py where each
option applies).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal, cast

from run import timeout_overrides, timeouts
from run.config_checks import check_contexts, cluster_names, existing_clusters
from run.config_values import (
    ConfigError,
    check_directory,
    check_hostname,
    check_hub,
    check_image,
    check_path_text,
    check_prefix,
    check_secret_name,
    check_tag,
    check_tool_path,
    fail,
    make_directory,
    shown,
)
from run.option_rules import refuse_inapplicable, tls_secret_file_option
from run.source_options import Inspect, check_upgrade_order, source_releases, wants_sources
from run.tls_secret_file import TlsSecretFile
from scenarios.facts import Facts
from scenarios.registry import SCENARIO_IDS, reaches_istiod_by_name
from scenarios.releases import IstioRelease, IstioVersion, Pins, VersionError, load_pins
from scenarios.second_remote import BASES as SECOND_REMOTE_BASES
from scenarios.workarounds import WORKAROUNDS

__all__ = [
    "SECOND_REMOTE_BASES",
    "ConfigError",
    "ExistingClusters",
    "SuiteConfig",
    "build_config",
    "make_run_directories",
]

IngressVariant = Literal["istio", "gateway-api", "both"]
EgressGatewayMethod = Literal["none", "helm"]

INGRESS_VARIANTS: tuple[str, ...] = ("istio", "gateway-api", "both")
# The guide's optional egress gateway on the remote: none, or installed as istio.io's doc test
# for the page installs it (helm, the istio/gateway chart, service.type=ClusterIP).
EGRESS_GATEWAY_METHODS: tuple[str, ...] = ("none", "helm")
DEFAULT_TOOLS_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "eicp" / "tools"
DEFAULT_REPORT_DIR = Path("eicp-report")


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
        fail(f"{name} {shown(value)} is not valid: accepted values are {', '.join(accepted)}")
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
    Every check runs before anything is created: the report and tools directories are only
    checked here (``make_run_directories`` creates them once the session starts).
    """
    pins = load_pins()
    report_dir, tools_dir = _directories(option)
    tool_paths = _tool_paths(option("--tool-path"), tuple(pins.tools))
    releases, upgrade_to, istioctl = _releases(
        option, pins, str(option("--topology-mode")), source_modes, inspect_source
    )
    scenarios = tuple(dict.fromkeys(option("--scenario") or DEFAULTS.scenario))
    for scenario in scenarios:
        choice("--scenario", scenario, SCENARIO_IDS)
    base = choice("--second-remote-base", option("--second-remote-base"), SECOND_REMOTE_BASES)
    ingress = choice("--ingress", option("--ingress"), INGRESS_VARIANTS)
    egress = choice("--egress-gateway", option("--egress-gateway"), EGRESS_GATEWAY_METHODS)
    mode = choice("--topology-mode", option("--topology-mode"), modes)
    prefix = check_prefix(
        option("--cluster-prefix") if option("--cluster-prefix") is not None else DEFAULTS.cluster_prefix
    )
    workarounds = _workarounds(option("--workaround") or [])
    node_image = option("--kind-node-image")
    if node_image is not None:
        check_image("--kind-node-image", node_image)
    preload = tuple(check_image("--preload-image", image) for image in option("--preload-image"))
    archive_dir = _archive_dir(option("--image-archive-dir"))
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
        preload_images=preload,
        timeouts=_timeouts(option),
        istio_hub=option("--istio-hub"),
        istio_tag=option("--istio-tag"),
        istioctl=istioctl,
        workarounds=workarounds,
        egress_gateway=egress,  # type: ignore[arg-type]
    )
    if mode == "existing":
        kubeconfig, contexts, api_servers, names = existing_clusters(option, scenarios)
        config = replace(config, existing=ExistingClusters(kubeconfig, contexts, api_servers, names))
    else:
        cluster_names(option)  # the format is checked in every mode; given here, refused below
    _check_hostname(config, mode)
    refuse_inapplicable(option, mode, config.plan, scenarios, config.uses_external_hostname)
    checked = tls_secret_file_option(
        config.external_tls_secret, config.external_hostname, mode, option("--external-tls-secret-file")
    )
    config = replace(config, external_tls_secret_file=checked)
    if config.existing is not None and not config.plan:  # --plan reads no kubeconfig
        check_contexts(config.existing.contexts, config.existing.kubeconfig)
    return config


def make_run_directories(config: SuiteConfig) -> None:
    """Create the report and tools directories, once every option was found good (not for --plan,
    which touches nothing); raise ``ConfigError`` when one cannot be created."""
    if not config.plan:
        make_directory("--report-dir", config.report_dir)
        make_directory("--tools-dir", config.tools_dir)


def _directories(option: Option) -> tuple[Path, Path]:
    report_text = option("--report-dir")
    report_dir = DEFAULTS.report_dir if report_text is None else check_path_text("--report-dir", report_text)
    tools_text = option("--tools-dir")
    flag = "--tools-dir"
    if tools_text is None and os.environ.get("EICP_TOOLS_DIR") is not None:
        tools_text, flag = os.environ["EICP_TOOLS_DIR"], "--tools-dir (from $EICP_TOOLS_DIR)"
    tools_dir = DEFAULTS.tools_dir if tools_text is None else check_path_text(flag, tools_text)
    return check_directory("--report-dir", report_dir), check_directory(flag, tools_dir)


def _archive_dir(text: str | None) -> Path | None:
    if text is None:
        return None
    path = check_path_text("--image-archive-dir", text)
    if not path.is_dir():
        fail(f"--image-archive-dir {shown(text)}: no such directory")
    return path


def _istioctl(text: str | None) -> Path | None:
    return check_tool_path("--istioctl", check_path_text("--istioctl", text)) if text is not None else None


def _check_hostname(config: SuiteConfig, mode: str) -> None:
    hostname = config.external_hostname
    if hostname is not None:
        check_hostname("--external-hostname", hostname)
    if config.external_tls_secret is not None:
        check_secret_name("--external-tls-secret", config.external_tls_secret)
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


def _guide_revision(option: Option, pins: Pins) -> str | None:
    """``--guide-revision``: a revision some supported or candidate release offers (whether each
    selected release offers it is checked as the release is resolved)."""
    guide = option("--guide-revision")
    if guide is not None:
        choice("--guide-revision", guide, pins.guide_revisions())
    return cast(str | None, guide)


def _releases(
    option: Option, pins: Pins, mode: str, source_modes: tuple[str, ...], inspect: Inspect | None
) -> tuple[tuple[IstioRelease, ...], IstioRelease | None, Path | None]:
    guide = _guide_revision(option, pins)
    from_source: tuple[IstioRelease, ...] | None = None
    source_target: IstioRelease | None = None
    if wants_sources(option):
        from_source, source_target = source_releases(option, pins, mode, source_modes, inspect, guide)
    hub, tag = option("--istio-hub"), option("--istio-tag")
    if hub is not None:
        check_hub(hub)
    if tag is not None:
        check_tag(tag)
    istioctl = _istioctl(option("--istioctl"))
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
        upgrade_to = (
            pins.resolve_release(upgrade_text, guide=guide) if upgrade_text is not None else source_target
        )
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
    return releases, upgrade_to, istioctl


def _timeouts(option: Option) -> dict[str, float]:
    try:
        found = timeout_overrides.parse(option("--timeout"))
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
            fail(f"--tool-path {shown(value)}: expected NAME=PATH, e.g. kind=/usr/local/bin/kind")
        choice("--tool-path tool", name, known)
        flag = f"--tool-path {name}={path}"
        paths[name] = check_tool_path(flag, check_path_text(f"--tool-path {shown(value)}", path))
    return paths
