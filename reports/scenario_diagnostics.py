"""The diagnostics a ``ScenarioSession`` collects when something failed (install/session.py
``Diagnose``): every namespace its plan touched, the cloud-provider-kind logs, ``kind export logs``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from clusters.cluster import Topology
from programs.runner import CommandRunner
from reports import diagnostics, plan_namespaces
from run.timeouts import DIAGNOSTICS
from scenarios.steps import ScenarioPlan


def diagnose_with(
    runner: CommandRunner, report_dir: Path
) -> Callable[[Topology, ScenarioPlan, Path, str | None], str]:
    def diagnose(topology: Topology, plan: ScenarioPlan, out_dir: Path, kind_bin: str | None) -> str:
        return diagnostics.collect_diagnostics(
            topology,
            plan_namespaces.namespaces_from_plan(plan),
            out_dir,
            runner,
            DIAGNOSTICS.seconds(),
            kind_bin=kind_bin,
            extra_logs=sorted((report_dir / "logs").glob("*cloud-provider-kind*")),
        ).summary()

    return diagnose
