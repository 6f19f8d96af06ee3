"""``python -m programs.tools_cli``: resolve (fetch or build) the pinned tools ahead of a run.

The self-test and certification scripts call it so a fresh machine gets its tools before
pytest starts, with progress on the terminal instead of a silent multi-minute first test.

    python -m programs.tools_cli [--tools-dir DIR] [--no-download] [--tool-path NAME=PATH]
                                 [--istio-source SOURCE ...] [TOOL ...]

TOOL is a name from versions.yaml (kind, cloud-provider-kind, helm, kubectl, istioctl, etcd,
kube-apiserver, ..., pilot-discovery), ``istioctl-offline`` / ``pilot-discovery-offline`` /
``xdsclient-offline`` for the binaries built from the Istio source the tiers certify
(versions.yaml ``istio_sources.tier``), the same with ``-upgrade-from`` for the older source
their upgrade starts from (``istio_sources.upgrade_from``), or ``kwok-tier`` for the control
planes of the kwok tier. ``--istio-source SOURCE`` (as the suite's option names one) builds
istioctl, pilot-discovery and the synthetic proxy from SOURCE.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from programs.istio_sources import SourceError, inspect_source
from programs.redaction import Redactor
from programs.runner import CommandRunner
from programs.tool_policy import KWOK_MODE_TOOLS, RunToolResolver
from programs.tools import ResolvedTool, ToolResolver, ToolUnavailable
from run.config import DEFAULT_TOOLS_DIR
from scenarios.releases import Pins, load_pins
from scenarios.sources import ISTIO_MODULE

OFFLINE_ISTIOCTL = "istioctl-offline"
# Binaries built from an Istio source (programs/source_builds.py).
SOURCE_TOOLS = ("istioctl", "pilot-discovery", "xdsclient")
# Tools versioned by Istio release (built from the same Istio source as that release).
ISTIO_TOOLS = ("istioctl", "pilot-discovery")
# name suffix -> which pinned source (versions.yaml istio_sources)
SOURCE_SUFFIXES = ("-offline", "-upgrade-from")
# `kwok-tier`: the control planes --topology-mode kwok runs (an Istio source's binaries come
# with --istio-source, a release's pilot-discovery with the run).
KWOK_TIER = KWOK_MODE_TOOLS


def expand_names(names: list[str]) -> list[str]:
    """``kwok-tier`` stands for the tools of the kwok tier; other names are kept as given."""
    return [tool for name in names for tool in (KWOK_TIER if name == "kwok-tier" else (name,))]


def pinned_source_spec(pins: Pins, suffix: str) -> str:
    """The ``--istio-source`` value of the tiers' source (``-offline``) or of their upgrade's A
    (``-upgrade-from``)."""
    version = pins.tier_source() if suffix == "-offline" else pins.upgrade_from_source
    if version is None:
        raise ToolUnavailable(suffix, "?", [("versions.yaml", "istio_sources.upgrade_from is not pinned")])
    return f"{ISTIO_MODULE}@{version}"


def resolve_named(resolver: ToolResolver, pins: Pins, name: str) -> ResolvedTool:
    """Resolve ``name`` or ``name@version``; ``<tool>-offline`` / ``<tool>-upgrade-from`` are
    built from the tiers' pinned Istio sources."""
    for suffix in SOURCE_SUFFIXES:
        if name.endswith(suffix) and name.removesuffix(suffix) in SOURCE_TOOLS:
            return resolve_from_source(
                resolver, pins, name.removesuffix(suffix), pinned_source_spec(pins, suffix)
            )
    tool, _, version = name.partition("@")
    if tool in ISTIO_TOOLS and not version:
        version = pins.default_version()
    return resolver.resolve(tool, version or None)


def resolve_from_source(resolver: ToolResolver, pins: Pins, tool: str, spec: str) -> ResolvedTool:
    try:
        source = inspect_source(spec, pins, resolver.runner)
    except SourceError as error:
        raise ToolUnavailable(tool, spec, [("--istio-source", str(error))]) from None
    return resolver.resolve_source(tool, source)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m programs.tools_cli", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("tools", nargs="*", metavar="TOOL[@VERSION]")
    parser.add_argument(
        "--istio-source",
        action="append",
        default=[],
        metavar="SOURCE",
        help="build istioctl, pilot-discovery and the synthetic proxy from this Istio source; repeatable",
    )
    parser.add_argument(
        "--tools-dir", type=Path, default=Path(os.environ.get("EICP_TOOLS_DIR", DEFAULT_TOOLS_DIR))
    )
    parser.add_argument("--no-download", action="store_true")
    parser.add_argument(
        "--tool-path",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="use this binary for a tool, as the suite's --tool-path does; repeatable",
    )
    args = parser.parse_args(argv)
    explicit: dict[str, Path] = {}
    for value in args.tool_path:
        tool_name, sep, path = value.partition("=")
        if not sep or not path:
            parser.error(f"--tool-path {value!r}: expected NAME=PATH, e.g. kind=/usr/local/bin/kind")
        explicit[tool_name] = Path(path)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    pins = load_pins()
    # The run's resolver: explicit paths, cache, download, Go build, then PATH after a skew check.
    resolver = RunToolResolver.from_pins(
        pins.tools,
        args.tools_dir,
        CommandRunner(Redactor()),
        explicit=explicit,
        allow_download=not args.no_download,
    )
    if not args.tools and not args.istio_source:
        parser.error("name at least one TOOL or --istio-source")
    failed = False
    wanted = [(name, None) for name in expand_names(args.tools)]
    wanted += [(tool, spec) for spec in args.istio_source for tool in SOURCE_TOOLS]
    for name, spec in wanted:
        try:
            tool = (
                resolve_named(resolver, pins, name)
                if spec is None
                else resolve_from_source(resolver, pins, name, spec)
            )
        except ToolUnavailable as error:
            print(error, file=sys.stderr)
            failed = True
            continue
        print(f"{tool.name} {tool.version}: {tool.path} ({tool.source})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
