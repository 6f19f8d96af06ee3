"""ci/benchmark.py: the union of command spans, the critical path through the lanes, and the
overhead ratio it reports against it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmark", ROOT / "ci" / "benchmark.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = load()


def test_overlapping_commands_count_once_and_are_clipped_to_the_window() -> None:
    spans = [(0.0, 4.0), (2.0, 4.0), (10.0, 2.0), (-5.0, 6.0), (19.0, 5.0)]
    assert BENCH.union_seconds(spans, (0.0, 20.0)) == pytest.approx(6.0 + 2.0 + 1.0)
    assert BENCH.union_seconds([], (0.0, 20.0)) == 0.0


def test_the_ratio_is_wall_over_the_critical_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    phase = {"role": "external", "scenario": "s", "outcome": "passed"}
    document = {
        "phases": [
            {**phase, "kind": "cluster", "name": "create", "start": 100.0, "duration": 10.0},
            {**phase, "kind": "install", "name": "istiod", "start": 110.0, "duration": 10.0},
        ],
        # An older timeline: spans without lanes are the main lane's.
        "commandSpans": [[100.0, 9.0], [110.0, 9.0], [300.0, 5.0]],
    }
    summary = BENCH.summarize(document)
    assert summary["wall_s"] == 20.0 and summary["tool_s"] == 18.0 and summary["critical_path_s"] == 18.0
    assert summary["ratio"] == pytest.approx(20.0 / 18.0)
    assert [row["overhead_s"] for row in summary["phases"]] == pytest.approx([1.0, 1.0])
    (tmp_path / "timeline.json").write_text(json.dumps(document))
    assert BENCH.main([str(tmp_path), "--strict", "--target", "1.05"]) == 1
    assert BENCH.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ratio 1.111" in out and "critical path 18.0s" in out and "istiod (external, s)" in out
    assert BENCH.main([str(tmp_path / "missing")]) == 2


def test_the_critical_path_takes_the_longest_branch_of_each_fork() -> None:
    """main: 10 s of its own, then a fork (uninstall on two remotes: 6 s and 8 s side by side),
    then 2 s; one branch forks again (2 s and 3 s). Critical path: 10 + max(6, 5 + 3) + 2."""
    spans = [
        (0.0, 10.0, "main"),
        (10.0, 6.0, "main/1.0"),
        (10.0, 5.0, "main/1.1"),
        (15.0, 2.0, "main/1.1/1.0"),
        (15.0, 3.0, "main/1.1/1.1"),
        (18.0, 2.0, "main"),
    ]
    seconds, lanes = BENCH.critical_path(spans, (0.0, 20.0))
    assert seconds == pytest.approx(10 + 8 + 2)
    assert lanes == ["main", "main/1.1", "main/1.1/1.1"]
    # The same work done one branch after the other takes longer, but is no longer a path.
    serial = [(0.0, 10.0, "main"), (10.0, 6.0, "main/1.0"), (16.0, 8.0, "main/1.1"), (24.0, 2.0, "main")]
    assert BENCH.critical_path(serial, (0.0, 26.0))[0] == pytest.approx(10 + 8 + 2)
    # Two xdist workers are roots of their own: the longer one is the run's path.
    workers = [(0.0, 5.0, "gw0"), (0.0, 7.0, "gw1"), (7.0, 1.0, "gw1")]
    assert BENCH.critical_path(workers, (0.0, 8.0)) == (pytest.approx(8.0), ["gw1"])


def test_each_phase_counts_its_own_lane_and_the_lanes_it_forked() -> None:
    document = {
        "phases": [
            {"kind": "cleanup", "name": "uninstall", "start": 0.0, "duration": 12.0, "lane": "main"},
            {"kind": "cleanup", "name": "remote", "start": 1.0, "duration": 10.0, "lane": "main/1.0"},
            {"kind": "cleanup", "name": "second", "start": 1.0, "duration": 6.0, "lane": "main/1.1"},
        ],
        "commandSpans": [[0.0, 1.0, "main"], [1.0, 9.0, "main/1.0"], [1.0, 5.0, "main/1.1"]],
    }
    summary = BENCH.summarize(document)
    tools = {row["name"]: row["tool_s"] for row in summary["phases"]}
    assert tools == pytest.approx({"uninstall": 10.0, "remote": 9.0, "second": 5.0})
    assert summary["critical_path_s"] == pytest.approx(10.0)
    assert summary["ratio"] == pytest.approx(1.2)
    assert summary["path_by_kind"] == pytest.approx({"cleanup": 10.0})
