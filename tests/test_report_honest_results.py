"""Honest results in the conformance report, from a pytester run of the real plugins: a run
narrowed with ``-k`` is partial, never success; every required check run and passed is success;
a failed uninstall is the scenario's teardown failing, not its last check."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reports.conformance import validate

pytest_plugins = ["pytester"]


HONEST_CONFTEST = """
import os

import pytest

from install.session import UninstallFailed

pytest_plugins = ["fixtures.options", "fixtures.core", "fixtures.scenario_plugin", "fixtures.reports_plugin"]


def pytest_configure(config):
    config.addinivalue_line("markers", "controlplane: check family")


def pytest_eicp_required_checks(config, scenarios, upgrade):
    # As suites/conftest.py answers from suites/registry.py: every check below is required.
    return {scenario: [("controlplane", "test_a"), ("controlplane", "test_b")] for scenario in scenarios}


@pytest.fixture(scope="session")
def fake_install(scenario_id, release):
    yield
    if os.environ.get("BROKEN_UNINSTALL"):
        raise UninstallFailed(f"uninstall of {scenario_id} failed; later scenarios on these clusters are not safe")
"""

HONEST_CHECKS = """
import pytest

pytestmark = pytest.mark.controlplane

def test_a(fake_install, scenario_id, release): pass
def test_b(fake_install, scenario_id, release): pass
"""


def _honest_run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    pytester.makeconftest(HONEST_CONFTEST)
    pytester.makepyfile(test_checks=HONEST_CHECKS)
    result = pytester.runpytest(
        "--scenario", "ip-passthrough", "--istio-version", "1.30", "--report-dir", str(pytester.path / "r"), *args
    )  # fmt: skip
    report = json.loads((pytester.path / "r" / "conformance-report.json").read_text())
    validate(report)
    [scenario] = report["scenarios"]
    return result, scenario


def test_a_run_narrowed_with_k_is_partial_never_success(pytester: pytest.Pytester) -> None:
    result, scenario = _honest_run(pytester, "-k", "test_a")
    result.assert_outcomes(passed=1, deselected=1)
    assert scenario["result"] == "partial"
    assert scenario["checks"]["passed"] == ["controlplane/test_a"]
    assert scenario["checks"]["skipped"] == ["controlplane/test_b"]  # required, not run


def test_every_required_check_run_and_passed_is_success(pytester: pytest.Pytester) -> None:
    result, scenario = _honest_run(pytester)
    result.assert_outcomes(passed=2)
    assert scenario["result"] == "success"


def test_an_uninstall_failure_is_the_scenarios_teardown_not_the_last_check(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROKEN_UNINSTALL", "1")
    result, scenario = _honest_run(pytester)
    result.assert_outcomes(passed=2, errors=1)  # pytest itself still names the last item's teardown
    assert scenario["result"] == "failure"
    assert set(scenario["checks"]["passed"]) == {"controlplane/test_a", "controlplane/test_b"}
    assert scenario["checks"]["failed"] == ["teardown/scenario-uninstall-and-restore"]
    [failure] = scenario["failures"]
    assert failure["outcome"] == "error" and "uninstall of ip-passthrough failed" in failure["message"]
