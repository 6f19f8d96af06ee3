"""The one timeout table (run/timeouts.py): every deadline named once with its default and why,
overridable with --timeout, printed by --plan and recorded in the conformance report (layer 1)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from fixtures.plan import plan_text
from install.upgrade import UpgradeDriver
from programs.runner import CommandRunner
from reports.conformance import build_report, validate
from run import timeout_overrides, timeouts
from run.info import build_run_info
from scenarios.common import STEP_DEADLINES
from tests.conftest import Deadlines
from tests.test_plan import config
from tests.test_report_conformance import outcome

ROOT = Path(__file__).resolve().parent.parent


def test_every_deadline_has_a_name_a_positive_default_and_a_reason() -> None:
    assert len(timeouts.TABLE) > 60
    for name, deadline in timeouts.TABLE.items():
        assert re.fullmatch(r"[a-z]+\.[a-z][a-z-]*[a-z]", name), name
        assert deadline.default_s > 0 and len(deadline.why) > 10, name
    assert {f"step.{name}" for name in STEP_DEADLINES} <= set(timeouts.TABLE)


def test_no_deadline_is_written_outside_the_table() -> None:
    """Constants ending in _TIMEOUT_S/_DEADLINE_S/_GRACE_S and literal deadlines in calls are gone:
    code asks the table (scenarios/common.py holds the installer's waits, rendered into plans)."""

    def grep(pattern: str) -> list[str]:
        found = subprocess.run(
            ["git", "grep", "-nE", pattern, "--", "*.py", ":!tests", ":!run/timeouts.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if found.returncode == 128:
            pytest.skip(f"not a git checkout: {found.stderr.strip()}")
        return found.stdout.splitlines()

    assert grep(r"^[A-Z_]*(TIMEOUT|DEADLINE|GRACE)[A-Z_]*_S *(: *[a-z]+ *)?=") == []
    literal = grep(r"(timeout_s|deadline_s|grace_s|timeout)=[1-9][0-9.]*[,)]")
    assert [line for line in literal if not line.startswith("programs/waits.py")] == []


def test_overrides_come_from_name_value_pairs_or_a_yaml_file(tmp_path: Path) -> None:
    listed = tmp_path / "deadlines.yaml"
    listed.write_text("kind.create: 1800\nstep.rollout: 600\n")
    assert timeout_overrides.parse(["check.xds=30", str(listed)]) == {
        "check.xds": 30.0,
        "kind.create": 1800.0,
        "step.rollout": 600.0,
    }
    for bad, wanted in (
        ("kind.creat=9", "unknown deadline 'kind.creat'; known deadlines"),
        ("kind.create=0", "must be a positive, finite number of seconds"),
        ("kind.create=inf", "must be a positive, finite number of seconds"),
        ("kind.create=soon", "must be a positive, finite number of seconds"),
        (str(tmp_path / "absent.yaml"), "expected NAME=SECONDS or a YAML file of them"),
    ):
        with pytest.raises(timeouts.TimeoutsError, match=re.escape(wanted)):
            timeout_overrides.parse([bad])
    listed.write_text("- not a mapping\n")
    with pytest.raises(timeouts.TimeoutsError, match="expected a mapping of deadline names to seconds"):
        timeout_overrides.parse([str(listed)])


def test_code_reads_the_run_s_value_at_the_moment_it_waits(deadlines: Deadlines) -> None:
    assert timeouts.KIND_CREATE.seconds() == 900
    assert CommandRunner().default_timeout_s == timeouts.COMMAND.default_s
    deadlines({"kind.create": 1234.5, "command.default": 77, "upgrade.max-gap": 9})
    assert timeouts.KIND_CREATE.seconds() == 1234.5
    assert CommandRunner().default_timeout_s == 77
    assert UpgradeDriver(None, None, Path()).max_gap_s == 9  # type: ignore[arg-type]


def test_plan_prints_the_table_and_renders_overridden_waits() -> None:
    text, _ = plan_text(config(scenarios=("ip-passthrough",)))
    table = text.split("\n\n", 1)[0]
    assert table.startswith("# deadlines (change with --timeout NAME=SECONDS")
    assert re.search(r"#   kind\.create +900s  image pull and boot of a node", table)
    assert "deadline_s=300" in text and "deadline_s=600" not in text
    longer, _ = plan_text(config(scenarios=("ip-passthrough",), timeouts={"step.rollout": 600}))
    assert re.search(r"#   step\.rollout +600s  .*\(default 300s\)", longer)
    assert "for='condition=Available', deadline_s=600" in longer
    assert "for='load-balancer-address', deadline_s=300" in longer  # only the rollouts changed


def test_the_report_records_every_deadline_and_the_overrides() -> None:
    suite = replace(config(), plan=False, timeouts={"check.xds": 30.0})
    info = build_run_info(suite)
    assert info.timeouts["overridden"] == {"check.xds": 30.0}
    assert info.timeouts["effective"]["check.xds"] == 30.0
    assert info.timeouts["effective"]["kind.create"] == 900
    report = build_report(info, [outcome("ip-passthrough", "test_istiod", "passed")])
    assert report["timeouts"] == info.timeouts
    validate(report)
