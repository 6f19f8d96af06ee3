"""``python -m programs.pins check|update``: report every stale, end-of-life or unverifiable pin
of versions.yaml with its source; ``update`` rewrites the file with what could be verified.

    python -m programs.pins check  [--versions FILE] [--recorded DIR] [--today YYYY-MM-DD] [--report FILE]
    python -m programs.pins update [same options]

Upstream is read over HTTPS (a ``GITHUB_TOKEN`` in the environment raises GitHub's rate
limit), or from ``--recorded DIR``: responses recorded earlier, with where and when each was
recorded (tests/data/upstream/). ``update`` writes only a file that parses as versions.yaml,
whose support lists hold no end-of-life minor and whose every scenario renders for every
release, with no image on a retired registry; otherwise it writes nothing.

Exit codes: 0 nothing to update (check) or written (update); 1 pins to update (check);
3 the updated table would not be valid (update; nothing written); 4 bad input.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from programs.https_fetch import HttpsFetcher, RecordedFetcher
from programs.pins import istio, kind_images, sail, tools, yaml_edit
from programs.pins.model import Finding, Status, Upstream
from scenarios.common import ScenarioUnavailable
from scenarios.facts import Facts
from scenarios.registry import SCENARIO_IDS, render
from scenarios.releases import VERSIONS_FILE, Pins, parse_pins

TO_UPDATE = (Status.STALE, Status.END_OF_LIFE)


def findings_for(raw: dict[str, Any], pins: Pins, upstream: Upstream) -> list[Finding]:
    found = istio.patch_findings(pins, upstream)
    eol, dates = istio.end_of_life_findings(pins, upstream)
    found += eol + istio.support_findings(pins, dates, upstream.today)
    found += sail.sail_findings(pins, upstream)
    tool = tools.tool_findings(raw["tools"], upstream)
    found += tool
    kind = next((f for f in tool if f.subject == "tool kind" and f.status is not Status.UNVERIFIABLE), None)
    kind_version = kind.upstream if kind else str(raw["tools"]["kind"]["version"])
    found += kind_images.node_image_findings(raw["kind_node_images"], kind_version, upstream)
    return found


def problems_of(text: str, today: date) -> list[str]:
    """Why an updated versions.yaml would not do: it does not parse, a supported minor is past
    its end of life, a scenario does not render, or a plan names a retired registry."""
    try:
        pins = parse_pins(yaml.safe_load(text))
    except (ValueError, KeyError, TypeError, yaml.YAMLError) as error:
        return [f"it does not parse: {error}"]
    problems = pins.support_problems(today)
    for minor in (*pins.supported, *pins.past_end_of_life):
        release = pins.resolve_release(minor)
        for scenario in SCENARIO_IDS:
            try:
                plan = render(scenario, release, Facts()).plan
            except ScenarioUnavailable:
                continue
            except Exception as error:  # any renderer failure refuses the table
                problems.append(f"{scenario} does not render for Istio {release.version}: {error}")
                continue
            text_of_plan = plan.describe()
            problems += [
                f"{scenario} {release.version} names {r}"
                for r in pins.retired_registries
                if r in text_of_plan
            ]
    return problems


def report(findings: list[Finding], where: str) -> str:
    order = (Status.END_OF_LIFE, Status.STALE, Status.UNVERIFIABLE, Status.NOTE, Status.CURRENT)
    lines = [f"# Pins of versions.yaml against {where}", ""]
    for status in order:
        group = [f for f in findings if f.status is status]
        if group:
            lines += [f"## {status.value} ({len(group)})", *(f"- {f.line()}" for f in group), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m programs.pins", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("check", "update"))
    parser.add_argument("--versions", type=Path, default=VERSIONS_FILE, help="versions.yaml to check")
    parser.add_argument(
        "--recorded", type=Path, help="answer from recorded responses in DIR, not the network"
    )
    parser.add_argument("--today", type=date.fromisoformat, default=date.today(), help="YYYY-MM-DD")
    parser.add_argument("--report", type=Path, help="also write the report (Markdown) to FILE")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return 4 if exit_.code else 0
    try:
        raw = yaml.safe_load(args.versions.read_text(encoding="utf-8"))
        pins = parse_pins(raw)
        fetcher = RecordedFetcher(args.recorded) if args.recorded else HttpsFetcher()
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as error:
        print(f"python -m programs.pins: {error}", file=sys.stderr)
        return 4
    where = f"the responses recorded in {args.recorded}" if args.recorded else "upstream (HTTPS)"
    findings = findings_for(raw, pins, Upstream(fetcher, args.today))
    text = report(findings, where)
    print(text)
    if args.report:
        args.report.write_text(text + "\n", encoding="utf-8")
    changes = [change for finding in findings for change in finding.changes]
    if args.command == "check":
        return 1 if any(f.status in TO_UPDATE for f in findings) else 0
    if not changes:
        print("versions.yaml is current: nothing written")
        return 0
    updated = yaml_edit.rewrite(args.versions, changes)
    refused = problems_of(updated, args.today)
    if refused:
        print("not written, the updated table would not do:\n  - " + "\n  - ".join(refused), file=sys.stderr)
        return 3
    args.versions.write_text(updated, encoding="utf-8")
    print(f"{args.versions}: {len(changes)} value(s) updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
