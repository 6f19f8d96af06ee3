"""``python -m programs.tools_cli``: resolve (fetch or build) the pinned tools ahead of a run.

The self-test and certification scripts call it so a fresh machine gets its tools before
pytest starts, with progress on the terminal instead of a silent multi-minute first test.

    python -m programs.tools_cli [--tools-dir DIR] [--no-download] [--tool-path NAME=PATH] TOOL ...

TOOL is a name from versions.yaml (kind, cloud-provider-kind, helm, kubectl, istioctl, etcd,
kube-apiserver, ..., pilot-discovery), ``istioctl-offline`` / ``pilot-discovery-offline`` for
the offline tier's Istio source snapshot, or ``kwok-tier`` for every tool of the kwok tier.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from programs.redaction import Redactor
from programs.runner import CommandRunner
from programs.tool_policy import KWOK_MODE_TOOLS, RunToolResolver
from programs.tools import ResolvedTool, ToolResolver, ToolUnavailable
from run.config import DEFAULT_TOOLS_DIR
from scenarios.releases import Pins, load_pins

OFFLINE_ISTIOCTL = "istioctl-offline"
OFFLINE_SUFFIX = "-offline"
# Tools versioned by Istio release (built from the same Istio source as that release).
ISTIO_TOOLS = ("istioctl", "pilot-discovery")
# `kwok-tier`: everything --topology-mode kwok runs, on the offline tier's Istio snapshot.
KWOK_TIER = (*KWOK_MODE_TOOLS, "pilot-discovery-offline")


def expand_names(names: list[str]) -> list[str]:
    """``kwok-tier`` stands for the tools of the kwok tier; other names are kept as given."""
    return [tool for name in names for tool in (KWOK_TIER if name == "kwok-tier" else (name,))]


def resolve_named(resolver: ToolResolver, pins: Pins, name: str) -> ResolvedTool:
    """Resolve ``name`` or ``name@version``; ``istioctl-offline`` / ``pilot-discovery-offline``
    are built from the offline tier's pinned Istio source snapshot."""
    if name.removesuffix(OFFLINE_SUFFIX) in ISTIO_TOOLS and name.endswith(OFFLINE_SUFFIX):
        snapshot = pins.offline_istioctl
        return resolver.resolve(
            name.removesuffix(OFFLINE_SUFFIX),
            snapshot["reports_as"],
            go_revision=snapshot["go_module_version"],
        )
    tool, _, version = name.partition("@")
    if tool in ISTIO_TOOLS and not version:
        version = pins.default_version()
    return resolver.resolve(tool, version or None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m programs.tools_cli", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("tools", nargs="+", metavar="TOOL[@VERSION]")
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
    failed = False
    for name in expand_names(args.tools):
        try:
            tool = resolve_named(resolver, pins, name)
        except ToolUnavailable as error:
            print(error, file=sys.stderr)
            failed = True
            continue
        print(f"{tool.name} {tool.version}: {tool.path} ({tool.source})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
