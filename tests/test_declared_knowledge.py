"""What a scenario or a topology mode is, is declared once (scenarios/registry.py ScenarioSpec,
clusters/providers.py ProviderSpec) and asked everywhere else: no code outside those packages
compares a scenario id or a mode name (git grep over the tracked sources, layer 1)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from clusters.providers import MODES
from scenarios.registry import SCENARIO_IDS

ROOT = Path(__file__).resolve().parent.parent


def git_grep(pattern: str, *paths: str) -> list[str]:
    listed = subprocess.run(
        ["git", "grep", "-nE", pattern, "--", "*.py", *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode == 128:
        pytest.skip(f"not a git checkout: {listed.stderr.strip()}")
    return listed.stdout.splitlines()


def test_no_scenario_id_is_written_outside_the_scenarios_package() -> None:
    """ci/ names the runs it checks (ci/kwok_tier_check.py), tests/ the scenarios they test."""
    ids = "|".join(re.escape(scenario) for scenario in SCENARIO_IDS)
    assert git_grep(f"[\"']({ids})[\"']", ":!tests", ":!scenarios", ":!ci") == []


def test_no_mode_name_is_compared_outside_the_providers_and_option_parsing() -> None:
    """run/config.py parses the options and run/option_rules.py says where each applies (by mode,
    in its refusals); ci/ scripts name the modes they run."""
    outside = (":!tests", ":!clusters", ":!run/config.py", ":!run/option_rules.py", ":!ci")
    assert git_grep(r"mode ?[!=]= ?[\"']", *outside) == []
    names = "|".join(MODES)
    assert git_grep(f"(==|!=) ?[\"']({names})[\"']", *outside) == []
