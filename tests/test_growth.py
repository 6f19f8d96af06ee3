"""ci/growth.py: the growth exponent it fits, and a small run of the whole benchmark.

A benchmark, not a timed test: nothing here asserts how long anything took, only that the
figures are computed as documented and every workload ran on real inputs.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("growth", ROOT / "ci" / "growth.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["growth"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


GROWTH = load()


@pytest.mark.parametrize(("power", "linear"), [(0.5, True), (1.0, True), (2.0, False)])
def test_the_exponent_is_the_log_log_slope(power: float, linear: bool) -> None:
    sizes = (1, 2, 4, 8, 16)
    seconds = tuple(0.01 * size**power for size in sizes)
    assert GROWTH.fitted_exponent(sizes, seconds) == pytest.approx(power)
    growth = GROWTH.Growth("w", "units", sizes, seconds, seconds)
    assert growth.linear is linear


def test_an_exponent_needs_two_sizes() -> None:
    with pytest.raises(ValueError, match="at least two"):
        GROWTH.fitted_exponent((4,), (1.0,))
    with pytest.raises(ValueError, match="different sizes"):
        GROWTH.fitted_exponent((4, 4), (1.0, 2.0))


def test_the_merge_budget_is_one_night_not_the_whole_chain() -> None:
    chain = GROWTH.Growth("merge", "nights", (1, 30), (0.1, 3.0), (0.1, 3.0), command_s=0.6, unit_s=0.2)
    assert chain.within_budget
    slow_command = GROWTH.Growth(
        "merge", "nights", (1, 30), (0.1, 3.0), (0.1, 3.0), command_s=1.5, unit_s=0.2
    )
    assert not slow_command.within_budget


def test_the_inputs_are_the_real_matrix() -> None:
    cells = GROWTH.matrix_cells()
    assert len(cells) == 16
    assert len({release.label for release, _ in cells}) == 4 and len({s for _, s in cells}) == 4
    combinations = GROWTH.plan_combinations()
    assert len(combinations) == len(GROWTH.releases()) * 4 * 3
    assert GROWTH.render_plans(combinations[:3]) > 100  # real plans: many lines each


@pytest.mark.slow
def test_a_small_run_writes_every_workload(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    figures = tmp_path / "growth.json"
    assert GROWTH.main(["--repeat", "1", "--nights", "3", "--json", str(figures)]) == 0
    table = capsys.readouterr().out
    for workload in ("plan", "report", "merge"):
        assert f"\n{workload} " in table
    data = json.loads(figures.read_text())
    assert [entry["workload"] for entry in data] == ["plan", "report", "merge"]
    for entry in data:
        assert len(entry["sizes"]) >= 2 and len(entry["cpuSeconds"]) == len(entry["sizes"])
        assert all(seconds > 0 for seconds in entry["wallSeconds"])
    assert data[2]["sizes"][-1] == 3 and data[2]["commandSeconds"] > 0
