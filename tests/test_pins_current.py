"""The support lists of versions.yaml are current today: no end-of-life minor in the default matrix.

This test reads today's date on purpose: it starts failing on the day a supported minor reaches
the end of life versions.yaml records for it (news/support), until the minor is moved to
``istio.past_end_of_life`` (``python -m programs.pins update`` does it, and the weekly
pins workflow opens that pull request).
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from scenarios.releases import load_pins

PINS = load_pins()
REPO = Path(__file__).resolve().parent.parent


def _matrix_module() -> Any:
    spec = importlib.util.spec_from_file_location("ci_matrix", REPO / "ci" / "matrix.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_end_of_life_minor_is_supported_today() -> None:
    assert PINS.support_problems(date.today()) == []


def test_the_default_matrix_and_version_hold_no_end_of_life_minor_today() -> None:
    today = date.today()
    rows = _matrix_module().certification_matrix(PINS, today)["include"]
    minors = {".".join(row["istio"].split(".")[:2]) for row in rows}
    assert minors == set(PINS.supported)
    for minor in minors:
        assert not PINS.profiles[minor].is_end_of_life(today), minor
    default = PINS.resolve_release(PINS.default_version())
    assert not default.profile.is_end_of_life(today) and default.profile.supported


def test_a_supported_minor_past_its_end_of_life_is_reported() -> None:
    """The check has teeth: 1.29 back in istio.supported fails it, with the date and the fix."""
    stale = replace(
        PINS,
        supported=("1.29", *PINS.supported),
        past_end_of_life=(),
        profiles={**PINS.profiles, "1.29": replace(PINS.profiles["1.29"], supported=True)},
    )
    eol = PINS.profiles["1.29"].end_of_life
    assert eol is not None
    assert stale.support_problems(eol - timedelta(days=1)) == []
    (problem,) = stale.support_problems(eol)
    assert "1.29" in problem and eol.isoformat() in problem and "past_end_of_life" in problem
    early = replace(PINS, past_end_of_life=("1.29",))
    assert early.support_problems(eol - timedelta(days=1))


def test_the_nightly_workflow_takes_its_releases_from_the_matrix_script() -> None:
    text = (REPO / "ci" / "workflows" / "nightly.yaml").read_text()
    assert "python ci/matrix.py" in text
    for minor in (*PINS.supported, *PINS.past_end_of_life, *PINS.candidates):
        assert f'"{minor}' not in text and f"'{minor}" not in text, minor
