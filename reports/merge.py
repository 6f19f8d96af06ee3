"""Fan-in of the nightly: merge the per-job conformance reports into one release-level report.

    python -m reports.merge artifacts/ --previous last-night/merged-report.json --out merged/

finds every ``conformance-report.json`` under the given directories (one per CI job: release x
scenario, or a kwok control-plane job per release), and writes to ``--out``:

- ``merged-report.json``/``.yaml``: per release (keyed by minor) a Gateway-API-style summary
  (implementation, profiles), its scenarios with the job that ran them, every cell
  (release x mode x scenario x check), and the changes against ``--previous``: regressions
  (passed or known-issue -> failed), fixed (failed or known-issue -> passed) and every cell
  that changed result;
  validated against ``merged-report.schema.json``;
- ``nightly.html``: the release x scenario x check matrix with links to each job's artifacts,
  the changes first, and pass/fail per release over the cells (reports/merge_html.py);
- ``summary.md``, also appended to ``$GITHUB_STEP_SUMMARY`` when that is set.

Exit status: 0 when the merge was written (whatever the results), 2 on bad input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import yaml

from reports import merge_html
from reports.conformance import (
    API_VERSION,
    IMPLEMENTATION,
    REPORT_STEM,
    ReportInvalid,
    load_schema,
    profiles_of,
    result_of,
)
from reports.conformance import BUCKETS as _BUCKETS
from reports.conformance import validate as validate_job_report

STATISTICS = tuple(_BUCKETS.values())
MERGED_SCHEMA_PATH = Path(__file__).resolve().parent / "merged-report.schema.json"
MERGED_STEM = "merged-report"
OUTCOMES = ("passed", "known-issue", "failed", "skipped", "not-applicable")
# A scenario's checks bucket -> the cell outcome it stands for.
_CELL_OF_BUCKET = {"knownIssue": "known-issue"}


class MergeInputError(ValueError):
    """An input report is missing, unreadable or not a conformance report."""


@dataclass(frozen=True)
class JobReport:
    job: str  # the artifact directory's name, e.g. eicp-1.30-ip-passthrough
    path: Path
    link: str
    report: dict[str, Any]


def minor_of(version: str) -> str:
    return ".".join(version.split(".")[:2])


def find_reports(roots: Sequence[Path]) -> list[Path]:
    found: list[Path] = []
    for root in roots:
        if root.is_file():
            found.append(root)
        elif root.is_dir():
            found.extend(sorted(root.rglob(f"{REPORT_STEM}.json")))
        else:
            raise MergeInputError(f"{root}: no such file or directory")
    return found


def load_jobs(paths: Iterable[Path], out_dir: Path, link_template: str | None) -> list[JobReport]:
    jobs = []
    for path in paths:
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            validate_job_report(report)
        except (OSError, json.JSONDecodeError, ReportInvalid) as error:
            raise MergeInputError(f"{path}: {error}") from None
        job = path.parent.name
        if link_template:
            link = link_template.format(job=job)
        else:
            # The job's HTML summary when it wrote one, else its artifact directory.
            target = path.parent / "summary.html"
            link = os.path.relpath(target if target.is_file() else path.parent, out_dir.resolve())
        jobs.append(JobReport(job, path, link, report))
    return jobs


def _cell_outcome(scenario: Mapping[str, Any], bucket: str) -> str:
    if bucket == "skipped" and not scenario.get("applicable", True):
        return "not-applicable"
    return _CELL_OF_BUCKET.get(bucket, bucket)


def cells_of(jobs: Iterable[JobReport]) -> list[dict[str, Any]]:
    """One cell per release minor x mode x scenario x check, with the job that ran it."""
    cells = []
    for job in jobs:
        report = job.report
        for scenario in report["scenarios"]:
            version = scenario["istioVersion"] or report["istio"][0]["version"]
            for bucket, labels in scenario["checks"].items():
                for label in labels:
                    cells.append(
                        {
                            "release": minor_of(version),
                            "build": version,
                            "mode": report["mode"],
                            "scenario": scenario["scenario"],
                            "check": label,
                            "outcome": _cell_outcome(scenario, bucket),
                            "job": job.job,
                        }
                    )
    return sorted(cells, key=cell_key)


def cell_key(cell: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (cell["release"], cell["mode"], cell["scenario"], cell["check"])


def changes(current: Sequence[Mapping[str, Any]], previous: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Regressions (passed -> failed), fixed (failed -> passed), and every changed cell."""
    before = {cell_key(cell): cell["outcome"] for cell in previous}
    changed = []
    for cell in current:
        old = before.get(cell_key(cell))
        if old is not None and old != cell["outcome"]:
            changed.append(
                {
                    **{k: cell[k] for k in ("release", "mode", "scenario", "check", "job")},
                    "before": old,
                    "after": cell["outcome"],
                }
            )
    return {
        "regressions": [
            c for c in changed if c["before"] in ("passed", "known-issue") and c["after"] == "failed"
        ],
        "fixed": [c for c in changed if c["before"] in ("failed", "known-issue") and c["after"] == "passed"],
        "changed": changed,
    }


def _release_entry(minor: str, jobs: Sequence[JobReport]) -> dict[str, Any]:
    scenarios: list[dict[str, Any]] = []
    builds: list[str] = []
    for job in jobs:
        for entry in job.report["scenarios"]:
            scenarios.append({**entry, "mode": job.report["mode"], "job": job.job, "link": job.link})
        for release in job.report["istio"]:
            if minor_of(release["version"]) == minor and release["build"] not in builds:
                builds.append(release["build"])
    families = {
        label: label.split("/", 1)[0]
        for entry in scenarios
        for labels in entry["checks"].values()
        for label in labels
    }
    statistics = {key: sum(entry["statistics"].get(key, 0) for entry in scenarios) for key in STATISTICS}
    applicable = [entry for entry in scenarios if entry["applicable"]]
    return {
        "release": minor,
        "implementation": {**IMPLEMENTATION, "version": ", ".join(builds)},
        "result": result_of(statistics) if applicable else "not-applicable",
        "statistics": statistics,
        "profiles": profiles_of(scenarios, families),
        "scenarios": [
            {
                "name": entry["name"],
                "scenario": entry["scenario"],
                "mode": entry["mode"],
                "result": entry["result"] if entry["applicable"] else "not-applicable",
                "statistics": entry["statistics"],
                "durationSeconds": entry["durationSeconds"],
                "job": entry["job"],
                "link": entry["link"],
            }
            for entry in scenarios
        ],
    }


def merge(
    jobs: Sequence[JobReport], previous: Mapping[str, Any] | None, *, now: dt.datetime | None = None
) -> dict[str, Any]:
    by_release: dict[str, list[JobReport]] = {}
    for job in jobs:
        minors = {
            minor_of(entry["istioVersion"] or job.report["istio"][0]["version"])
            for entry in job.report["scenarios"]
        }
        for minor in sorted(minors or {minor_of(job.report["istio"][0]["version"])}):
            by_release.setdefault(minor, []).append(job)
    releases = [
        _release_entry(minor, items)
        for minor, items in sorted(by_release.items(), key=lambda kv: _version_key(kv[0]))
    ]
    cells = cells_of(jobs)
    stamp = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    totals = {key: sum(entry["statistics"].get(key, 0) for entry in releases) for key in STATISTICS}
    counted = [entry for entry in releases if entry["result"] != "not-applicable"]
    return {
        "apiVersion": API_VERSION,
        "kind": "MergedConformanceReport",
        "date": stamp.isoformat().replace("+00:00", "Z"),
        "result": result_of(totals) if counted else "failure",
        "statistics": totals,
        "jobs": [
            {"name": job.job, "link": job.link, "mode": job.report["mode"], "result": job.report["result"]}
            for job in jobs
        ],
        "releases": releases,
        "cells": cells,
        "changes": {
            "previousDate": previous.get("date") if previous else None,
            **changes(cells, previous.get("cells", []) if previous else []),
        },
    }


def _version_key(minor: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in minor.split("."))


@cache
def _merged_validator() -> jsonschema.Draft202012Validator:
    job_schema = load_schema()
    merged: dict[str, Any] = json.loads(MERGED_SCHEMA_PATH.read_text())
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(
        job_schema["$id"], referencing.Resource.from_contents(job_schema)
    )
    jsonschema.Draft202012Validator.check_schema(merged)
    return jsonschema.Draft202012Validator(
        merged, registry=registry, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def validate_merged(report: Mapping[str, Any]) -> None:
    errors = sorted(_merged_validator().iter_errors(report), key=lambda error: list(error.absolute_path))
    if errors:
        lines = [f"- {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]
        raise ReportInvalid("merged report does not match its schema:\n" + "\n".join(lines))


def markdown(merged: Mapping[str, Any]) -> str:
    lines = [f"## Nightly conformance: {merged['result']}", ""]
    change = merged["changes"]
    for title, key in (
        ("Regressions (passed → failed)", "regressions"),
        ("Fixed (failed → passed)", "fixed"),
    ):
        if change[key]:
            lines.append(f"**{title}: {len(change[key])}**")
            lines.extend(
                f"- `{c['release']}` {c['mode']} {c['scenario']} `{c['check']}`" for c in change[key]
            )
            lines.append("")
    others = [c for c in change["changed"] if c not in change["regressions"] and c not in change["fixed"]]
    if others:
        lines.append(f"Other changed cells: {len(others)}")
        lines.extend(
            f"- `{c['release']}` {c['mode']} {c['scenario']} `{c['check']}`: {c['before']} → {c['after']}"
            for c in others
        )
        lines.append("")
    if change["previousDate"] is None:
        lines.extend(["No previous merged report: nothing to compare with.", ""])
    lines.extend(
        [
            "| Release | Scenario | Mode | Result | Passed | Failed | Skipped | Known issues | Job |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
    )
    for release in merged["releases"]:
        for entry in release["scenarios"]:
            stats = entry["statistics"]
            lines.append(
                f"| {release['release']} | {entry['scenario']} | {entry['mode']} | {entry['result']} | "
                f"{stats['Passed']} | {stats['Failed']} | {stats['Skipped']} | {stats.get('KnownIssues', 0)} | "
                f"[{entry['job']}]({entry['link']}) |"
            )
    return "\n".join(lines) + "\n"


def write(merged: Mapping[str, Any], out_dir: Path) -> list[Path]:
    validate_merged(merged)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [
        out_dir / f"{MERGED_STEM}.json",
        out_dir / f"{MERGED_STEM}.yaml",
        out_dir / "nightly.html",
        out_dir / "summary.md",
    ]
    paths[0].write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    paths[1].write_text(yaml.safe_dump(dict(merged), sort_keys=False, allow_unicode=True), encoding="utf-8")
    paths[2].write_text(merge_html.render(merged), encoding="utf-8")
    paths[3].write_text(markdown(merged), encoding="utf-8")
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.merge", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "inputs", nargs="+", type=Path, help="artifact directories or conformance-report.json files"
    )
    parser.add_argument("--out", type=Path, default=Path("merged"))
    parser.add_argument(
        "--previous", type=Path, help="an earlier merged-report.json (missing: no comparison)"
    )
    parser.add_argument(
        "--link-template",
        help="URL of a job's artifacts, {job} is the artifact name (default: its directory, relative to --out)",
    )
    args = parser.parse_args(argv)
    try:
        jobs = load_jobs(find_reports(args.inputs), args.out, args.link_template)
        if not jobs:
            raise MergeInputError(f"no {REPORT_STEM}.json under {', '.join(map(str, args.inputs))}")
        previous = None
        if args.previous is not None and args.previous.is_file():
            previous = json.loads(args.previous.read_text(encoding="utf-8"))
            validate_merged(previous)
        elif args.previous is not None:
            print(f"no previous merged report at {args.previous}: nothing to compare with", file=sys.stderr)
    except (MergeInputError, ReportInvalid, json.JSONDecodeError) as error:
        print(f"reports.merge: {error}", file=sys.stderr)
        return 2
    merged = merge(jobs, previous)
    for path in write(merged, args.out):
        print(path)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(markdown(merged))
    return 0


if __name__ == "__main__":
    sys.exit(main())
