"""ci/kwok_tier_check.py: what the self-tests' kwok tier must show, and the one tolerated finding."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KWOK_REASON = "kwok mode runs no data plane"


def load_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kwok_tier_check", ROOT / "ci" / "kwok_tier_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHECK = load_check()


def scenario(name: str) -> dict[str, Any]:
    return {
        "scenario": name,
        "checks": {
            "passed": [
                "controlplane/test_remote_secrets_present",
                "injection/test_sidecars_injected_by_external_control_plane",
                "validation/test_invalid_config_rejected_by_istiod",
                CHECK.XDS_CHECK,
            ],
            "failed": [],
            "skipped": list(CHECK.REAL_TRAFFIC),
        },
        "skipReasons": dict.fromkeys(CHECK.REAL_TRAFFIC, KWOK_REASON),
        "failures": [],
    }


GOOD: dict[str, Any] = {
    "mode": "kwok",
    "standIns": [{"component": "nodes"}],
    "scenarios": [scenario("ip-passthrough"), scenario("dns-tls"), scenario("second-remote")],
}


def with_xds_failure(message: str, name: str = "second-remote") -> dict[str, Any]:
    report = copy.deepcopy(GOOD)
    entry = next(s for s in report["scenarios"] if s["scenario"] == name)
    entry["checks"]["passed"].remove(CHECK.XDS_CHECK)
    entry["checks"]["failed"].append(CHECK.XDS_CHECK)
    entry["failures"].append({"check": CHECK.XDS_CHECK, "message": message})
    return report


def test_a_clean_tier_run_passes() -> None:
    assert CHECK.problems_of(GOOD, 0) == ([], [])


def test_the_known_finding_is_tolerated_only_in_its_exact_form() -> None:
    known = "endpoint 10.20.0.2:5000 is listed 2 times, as a workload of Istio clusters config, eicp-1-remote"
    problems, findings = CHECK.problems_of(with_xds_failure(known), 1)
    assert problems == [] and len(findings) == 1 and "config cluster a second time" in findings[0]
    other = "endpoint 10.20.0.2:5000 (helloworld v1 pod) missing from the EDS"
    problems, findings = CHECK.problems_of(with_xds_failure(other), 1)
    assert findings == [] and any("missing from the EDS" in p for p in problems)
    # The same message on the other scenario is not the known finding.
    problems, _ = CHECK.problems_of(with_xds_failure(known, "ip-passthrough"), 1)
    assert any(p.startswith("ip-passthrough:") for p in problems)


def test_a_skipped_control_plane_check_or_a_crash_fails_the_tier() -> None:
    report = copy.deepcopy(GOOD)
    entry = report["scenarios"][0]
    entry["checks"]["passed"].remove("validation/test_invalid_config_rejected_by_istiod")
    entry["checks"]["skipped"].append("validation/test_invalid_config_rejected_by_istiod")
    problems, _ = CHECK.problems_of(report, 0)
    assert problems == ["ip-passthrough: validation/test_invalid_config_rejected_by_istiod did not pass"]
    assert CHECK.problems_of(GOOD, 2)[0] == ["the suite exited 2"]
    assert CHECK.problems_of(GOOD, 1)[0] == ["the suite exited 1"]


def test_the_finding_is_read_from_junit_when_the_report_shortened_the_message(tmp_path: Path) -> None:
    report = with_xds_failure("Failed: [traffic/xds-endpoints] helloworld pods are not weighted equally")
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite><testcase name="t[second-remote-1.31]">'
        '<properties><property name="eicp.scenario" value="second-remote" />'
        '<property name="eicp.family" value="traffic" />'
        '<property name="eicp.check" value="test_helloworld_endpoints_sent_to_client_proxy" />'
        '<property name="traffic/xds-endpoints" value="remote: endpoint 10.20.0.2:5000 is listed 2 times, '
        'as a workload of Istio clusters config, eicp-1-remote" /></properties>'
        '<failure message="not weighted equally">...</failure></testcase></testsuite></testsuites>'
    )
    assert CHECK.problems_of(report, 1)[1] == []  # the shortened message alone is not enough
    problems, findings = CHECK.problems_of(report, 1, CHECK.junit_texts(junit))
    assert problems == [] and len(findings) == 1
