"""``python -m programs.tools_cli``: resolve (fetch or build) the pinned tools ahead of a run.

The self-test and certification scripts call it so a fresh machine gets its tools before
pytest starts, with progress on the terminal instead of a silent multi-minute first test.

    python -m programs.tools_cli [--tools-dir DIR] [--no-download] [--tool-path NAME=PATH] TOOL ...

TOOL is a name from versions.yaml (kind, cloud-provider-kind, helm, kubectl, istioctl) or
``istioctl-offline`` for the offline tier's istioctl source snapshot.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from programs.redaction import Redactor
from programs.runner import CommandRunner
from programs.tool_policy import RunToolResolver
from programs.tools import ResolvedTool, ToolResolver, ToolUnavailable
from run.config import DEFAULT_TOOLS_DIR
from scenarios.releases import Pins, load_pins

OFFLINE_ISTIOCTL = "istioctl-offline"


def resolve_named(resolver: ToolResolver, pins: Pins, name: str) -> ResolvedTool:
    """Resolve ``name`` or ``name@version``; ``istioctl-offline`` is the pinned source snapshot."""
    if name == OFFLINE_ISTIOCTL:
        snapshot = pins.offline_istioctl
        return resolver.resolve("istioctl", snapshot["reports_as"], go_revision=snapshot["go_module_version"])
    tool, _, version = name.partition("@")
    if tool == "istioctl" and not version:
        version = pins.profiles[pins.supported[-1]].latest_patch or ""
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
    for name in args.tools:
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
