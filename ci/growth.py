"""How the suite's own work grows with the work: a benchmark to read, not a timed test.

    python ci/growth.py [--repeat 3] [--json PATH]

Three workloads, each measured at growing sizes (the best of ``--repeat`` runs per size, after
one warm-up), with the growth exponent fitted by least squares on log(time) against log(size)
(1 is linear, below 1 better, 2 quadratic):

- ``plan``: ``--plan`` rendering (render + describe) of every scenario x release x ingress
  variant versions.yaml knows; size: the number of combinations rendered.
- ``report``: the conformance report (built, validated against its schema, written as YAML and
  JSON) and the HTML summary of a nightly matrix of 4 releases x 4 scenarios, every required
  check of each with an outcome and a timeline of its steps; size: release x scenario cells.
- ``merge``: ``python -m reports.merge`` (in process: read, validate, merge against the
  previous merged report, write JSON, YAML, HTML and Markdown) night after night for 30 nights,
  each night's 16 job reports (one job per cell of that matrix) against the night before's
  merged report, as the nightly workflow does; size: nights, time: the chain up to that night.
  The slowest night must stay under a second, and night 30 is also run as the command itself,
  interpreter start-up included.

The inputs are synthetic but shaped like a real run's (the real renderers, checks and release
table; outcomes, durations and timelines made up); nothing touches a cluster or the network.
Prints one line per workload: size, seconds at the full size, and the exponent, with the
verdict "linear or better" (exponent at most ``LINEAR``) and whether it stays under a second.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clusters.providers import capabilities_of  # noqa: E402
from reports import merge as merge_cli  # noqa: E402
from reports.commands import CommandSummary  # noqa: E402
from reports.conformance import build_report, write_report  # noqa: E402
from reports.html import render_summary  # noqa: E402
from reports.outcomes import CheckIdentity, CheckOutcome  # noqa: E402
from run.info import RunInfo, release_entry  # noqa: E402
from run.timeline import Timeline  # noqa: E402
from scenarios.facts import Facts  # noqa: E402
from scenarios.registry import SCENARIO_IDS, ScenarioUnavailable, render  # noqa: E402
from scenarios.releases import IstioRelease, load_pins  # noqa: E402
from suites.registry import required_checks  # noqa: E402

# Fitted exponents up to this count as linear: timing noise on a shared machine bends a
# straight line by a few tenths; a quadratic cost fits near 2.
LINEAR = 1.25
BUDGET_S = 1.0
INGRESS_VARIANTS = ("istio", "gateway-api", "both")
NIGHTS = 30
MATRIX = 4  # releases x scenarios of the nightly: 4 x 4


@dataclass(frozen=True)
class Growth:
    """One workload's figures: per size, the best CPU and wall seconds of the suite's process."""

    name: str
    unit: str
    sizes: tuple[int, ...]
    cpu_s: tuple[float, ...]
    wall_s: tuple[float, ...]
    command_s: float | None = None  # the full size (merge: one night) as a command of its own
    unit_s: float | None = None  # merge: the slowest single night, which must stay under a second

    @property
    def exponent(self) -> float:
        # Fitted on CPU time: on a shared machine the wall time of a short piece of work is
        # mostly other processes' scheduling, which would bend the fit either way.
        return fitted_exponent(self.sizes, self.cpu_s)

    @property
    def linear(self) -> bool:
        return self.exponent <= LINEAR

    @property
    def within_budget(self) -> bool:
        once = self.wall_s[-1] if self.unit_s is None else self.unit_s
        return max(once, self.command_s or 0.0) <= BUDGET_S


def fitted_exponent(sizes: Sequence[int], seconds: Sequence[float]) -> float:
    """The slope of log(seconds) over log(size), least squares."""
    if len(sizes) != len(seconds) or len(sizes) < 2:
        raise ValueError("an exponent needs at least two sizes with one time each")
    xs = [math.log(size) for size in sizes]
    ys = [math.log(max(value, 1e-9)) for value in seconds]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        raise ValueError("an exponent needs at least two different sizes")
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """(CPU seconds of this process, wall seconds) of one run of ``work``."""
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return time.process_time() - cpu, time.perf_counter() - wall


def best_of(repeat: int, work: Callable[[], object]) -> tuple[float, float]:
    """The least CPU and the least wall time of ``repeat`` runs, after one warm-up (imports,
    caches and schema compilation are start-up, not growth)."""
    work()
    runs = [timed(work) for _ in range(repeat)]
    return min(cpu for cpu, _ in runs), min(wall for _, wall in runs)


def at_sizes(
    repeat: int, sizes: Sequence[int], work: Callable[[int], object]
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(CPU seconds, wall seconds) of ``work(size)`` for each size, the best of ``repeat``."""
    best = [best_of(repeat, functools.partial(work, size)) for size in sizes]
    return tuple(cpu for cpu, _ in best), tuple(wall for _, wall in best)


def sizes_up_to(full: int, steps: int = 5) -> tuple[int, ...]:
    return tuple(sorted({max(1, round(full * (index + 1) / steps)) for index in range(steps)}))


# -- the inputs ---------------------------------------------------------------------------------


def releases() -> list[IstioRelease]:
    """One release per minor a run accepts (supported, candidates, past their end of life): its
    newest pinned patch, else its first release candidate."""
    pins = load_pins()
    minors = sorted({*pins.supported, *pins.candidates, *pins.past_end_of_life}, key=_minor_key)
    return [pins.resolve_release(pins.profiles[m].latest_patch or f"{m}.0-rc.0") for m in minors]


def _minor_key(minor: str) -> tuple[int, ...]:
    return tuple(int(part) for part in minor.split("."))


def plan_combinations() -> list[tuple[str, IstioRelease, Facts]]:
    return [
        (scenario, release, Facts(ingress=ingress))  # type: ignore[arg-type]
        for release, scenario, ingress in product(releases(), SCENARIO_IDS, INGRESS_VARIANTS)
    ]


def render_plans(combinations: Sequence[tuple[str, IstioRelease, Facts]]) -> int:
    lines = 0
    for scenario, release, facts in combinations:
        try:
            lines += render(scenario, release, facts).plan.describe().count("\n")
        except ScenarioUnavailable:
            lines += 1
    return lines


def matrix_cells() -> list[tuple[IstioRelease, str]]:
    """The nightly's 4 x 4: the four newest releases x every scenario."""
    return list(product(releases()[-MATRIX:], SCENARIO_IDS[:MATRIX]))


def cell_outcomes(release: IstioRelease, scenario: str, seed: int) -> list[CheckOutcome]:
    outcomes = []
    for index, (family, check) in enumerate(
        required_checks(scenario, upgrade=False, capabilities=capabilities_of("kind"))
    ):
        result = "failed" if (seed + index) % 23 == 0 else "skipped" if (seed + index) % 17 == 0 else "passed"
        outcomes.append(
            CheckOutcome(
                CheckIdentity(scenario, str(release.version), family, check),
                nodeid=f"suites/test_{family}.py::{check}[{scenario}-{release.version}]",
                outcome=result,
                call_duration=1.0 + index % 5,
                total_duration=1.5 + index % 5,
                message="" if result == "passed" else f"{check}: made-up reason {seed}",
            )
        )
    return outcomes


def run_info(cells: Sequence[tuple[IstioRelease, str]], date: str = "2026-12-01T02:00:00Z") -> RunInfo:
    chosen = list({release.label: release for release, _ in cells}.values())
    return RunInfo(
        suite_version="0.1.0",
        date=date,
        mode="kind",
        releases=[release_entry(release) for release in chosen],
        upgrade_to=None,
        kubernetes={"external": "v1.35.8", "remote": "v1.35.8", "second": "v1.35.8"},
        tools={"kind": "v0.33.0", "cloud-provider-kind": "v0.11.0", "kubectl": "v1.35.8", "helm": "v3.22.0"},
        selected_scenarios=sorted({scenario for _, scenario in cells}),
    )


def write_matrix_reports(cells: Sequence[tuple[IstioRelease, str]], out: Path) -> None:
    """The conformance report and the HTML summary of one run over ``cells``."""
    outcomes = [o for index, (r, s) in enumerate(cells) for o in cell_outcomes(r, s, index)]
    timeline = Timeline()
    commands = []
    start = 1_800_000_000.0
    for index, (release, scenario) in enumerate(cells):
        label = f"{scenario}-{release.version}"
        for step in range(40):  # about a scenario's install and uninstall steps
            kind = "install" if step < 25 else "cleanup"
            timeline.record(kind, f"step {step}", "remote", label, start, 2.0, "passed")
            commands.append(CommandSummary(f"kubectl apply {label} {step}", start, 1.5, "ok"))
            start += 2.0
        for outcome in cell_outcomes(release, scenario, index):
            timeline.record("check", outcome.identity.check, None, label, start, 1.0, "passed")
            start += 1.0
    info = run_info(cells)
    report = build_report(info, outcomes)
    write_report(report, out)
    slowest = sorted(commands, key=lambda c: -c.duration_s)[:50]
    html = render_summary(info, report, outcomes, timeline.records(), slowest, (len(commands), 1.5, 0))
    (out / "summary.html").write_text(html, encoding="utf-8")


def write_nights(root: Path, nights: int) -> list[Path]:
    """``nights`` nights of job artifacts: one conformance report per matrix cell and night."""
    cells = matrix_cells()
    night_dirs = []
    for night in range(nights):
        night_dir = root / f"night-{night:02d}"
        for index, (release, scenario) in enumerate(cells):
            job = night_dir / f"eicp-{release.profile.minor}-{scenario}"
            date = f"2026-11-{1 + night % 28:02d}T02:00:00Z"
            report = build_report(
                run_info([(release, scenario)], date),
                cell_outcomes(release, scenario, night + index),
            )
            write_report(report, job)
        night_dirs.append(night_dir)
    return night_dirs


def merge_nights(night_dirs: Sequence[Path], previous: Path | None, out: Path) -> None:
    argv = [*map(str, night_dirs), "--out", str(out)]
    if previous is not None:
        argv += ["--previous", str(previous)]
    with open(os.devnull, "w") as quiet:
        stdout, sys.stdout = sys.stdout, quiet
        try:
            code = merge_cli.main(argv)
        finally:
            sys.stdout = stdout
    if code != 0:
        raise RuntimeError(f"reports.merge exited {code}")


# -- the measurements ---------------------------------------------------------------------------


def measure_plans(repeat: int) -> Growth:
    combinations = plan_combinations()
    sizes = sizes_up_to(len(combinations))
    # Every size takes an even spread of scenarios, releases and variants, not the first few.
    spread = [combinations[(index * 7) % len(combinations)] for index in range(len(combinations))]
    cpu, wall = at_sizes(repeat, sizes, lambda n: render_plans(spread[:n]))
    return Growth("plan", "scenario x release x ingress plans", sizes, cpu, wall)


def measure_reports(repeat: int, scratch: Path) -> Growth:
    cells = matrix_cells()
    sizes = sizes_up_to(len(cells))
    cpu, wall = at_sizes(repeat, sizes, lambda n: write_matrix_reports(cells[:n], scratch / f"report-{n}"))
    return Growth("report", "release x scenario cells", sizes, cpu, wall)


def measure_merge(repeat: int, scratch: Path, nights: int = NIGHTS) -> Growth:
    """The nightly fan-in, night after night: each night merges its 16 job reports against the
    previous night's merged report (as ci/workflows/nightly.yaml does). Size: nights; time: the
    whole chain up to that night (linear when a night costs the same on night 30 as on night 1)."""
    night_dirs = write_nights(scratch / "nights", nights)

    def chain() -> list[tuple[float, float]]:
        per_night: list[tuple[float, float]] = []
        previous = None
        for night, night_dir in enumerate(night_dirs):
            out = scratch / "merged" / f"night-{night:02d}"
            per_night.append(timed(lambda: merge_nights([night_dir], previous, out)))  # noqa: B023
            previous = out / f"{merge_cli.MERGED_STEM}.json"
        return per_night

    chain()  # warm-up
    runs = [chain() for _ in range(repeat)]
    best_cpu = [min(run[night][0] for run in runs) for night in range(nights)]
    best_wall = [min(run[night][1] for run in runs) for night in range(nights)]
    sizes = sizes_up_to(nights, 6)
    cpu, wall = tuple(sum(best_cpu[:n]) for n in sizes), tuple(sum(best_wall[:n]) for n in sizes)
    last_previous = scratch / "merged" / f"night-{nights - 2:02d}" / f"{merge_cli.MERGED_STEM}.json"
    argv = [sys.executable, "-m", "reports.merge", str(night_dirs[-1]), "--previous", str(last_previous)]
    started = time.perf_counter()
    subprocess.run(
        [*argv, "--out", str(scratch / "merged-command")], cwd=ROOT, check=True, capture_output=True
    )
    command_s = time.perf_counter() - started
    return Growth(
        "merge", "nights (16 job reports each, chained)", sizes, cpu, wall, command_s, max(best_wall)
    )


def render_table(results: Sequence[Growth]) -> str:
    lines = [f"{'workload':<8} {'full size':<40} {'CPU s':>7} {'wall s':>7}  exponent  verdict"]
    for growth in results:
        size = f"{growth.sizes[-1]} {growth.unit}"
        verdict = ("linear or better" if growth.linear else "WORSE THAN LINEAR") + (
            f", under {BUDGET_S:g}s" if growth.within_budget else f", OVER {BUDGET_S:g}s"
        )
        if growth.unit_s is not None:
            verdict += f" (slowest night {growth.unit_s:.3f}s"
            verdict += f", as a command {growth.command_s:.2f}s)" if growth.command_s is not None else ")"
        lines.append(
            f"{growth.name:<8} {size:<40} {growth.cpu_s[-1]:7.3f} {growth.wall_s[-1]:7.3f}  "
            f"{growth.exponent:8.2f}  {verdict}"
        )
    lines.append(
        f"(exponent: least-squares slope of log CPU time over log size at {len(results[0].sizes)}+ sizes; "
        f"up to {LINEAR} counts as linear)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python ci/growth.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the best counts (default 3)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--nights", type=int, default=NIGHTS, help=f"nights of the merge chain (default {NIGHTS})"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    if args.nights < 2:
        parser.error(f"--nights must be at least 2 (a night and the one before), got {args.nights}")
    with tempfile.TemporaryDirectory(prefix="eicp-growth-") as scratch:
        results = [
            measure_plans(args.repeat),
            measure_reports(args.repeat, Path(scratch)),
            measure_merge(args.repeat, Path(scratch), args.nights),
        ]
    print(render_table(results))
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "workload": g.name,
                        "unit": g.unit,
                        "sizes": g.sizes,
                        "cpuSeconds": g.cpu_s,
                        "wallSeconds": g.wall_s,
                        "exponent": g.exponent,
                        "commandSeconds": g.command_s,
                        "slowestUnitSeconds": g.unit_s,
                    }
                    for g in results
                ],
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
