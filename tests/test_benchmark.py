"""ci/benchmark.py: the union of command spans, and the overhead ratio it reports."""

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


def test_the_ratio_is_wall_over_tool_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    phase = {"role": "external", "scenario": "s", "outcome": "passed"}
    document = {
        "phases": [
            {**phase, "kind": "cluster", "name": "create", "start": 100.0, "duration": 10.0},
            {**phase, "kind": "install", "name": "istiod", "start": 110.0, "duration": 10.0},
        ],
        "commandSpans": [[100.0, 9.0], [110.0, 9.0], [300.0, 5.0]],
    }
    summary = BENCH.summarize(document)
    assert summary["wall_s"] == 20.0 and summary["tool_s"] == 18.0
    assert summary["ratio"] == pytest.approx(20.0 / 18.0)
    (tmp_path / "timeline.json").write_text(json.dumps(document))
    assert BENCH.main([str(tmp_path), "--strict", "--target", "1.05"]) == 1
    assert BENCH.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ratio 1.111" in out and "cluster" in out and "istiod (external, s)" in out
    assert BENCH.main([str(tmp_path / "missing")]) == 2
