"""Known upstream issues as results (suites/known_issues.yaml, suites/evaluation/known.py).

The table is checked against the code that uses it; the judgement of a verdict is checked
case by case; then a child pytest run of a check with the suite's own ``verdict_of`` fixture
shows the strict expected failure: xfailed while the issue reproduces, a failure naming the
issue when it no longer does ("retire it"), a plain failure for anything else, and the
conformance report's ``knownIssues`` and ``success-with-known-issues`` built from those reports.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reports.conformance import build_report, validate
from reports.outcomes import PROP_KNOWN_ISSUE as REPORTS_PROP
from reports.outcomes import CheckIdentity, CheckOutcome
from scenarios import registry
from scenarios.dns_tls import UPSTREAM_CA_SECRET
from scenarios.facts import Facts
from scenarios.releases import load_pins
from scenarios.versions import IstioVersion
from scenarios.workarounds import (
    GATEWAY_TRUSTS_ISTIOD_CA,
    MULTICLUSTER_LABEL,
    UNLABELLED_CONFIG_SECRET,
    WORKAROUNDS,
)
from suites.evaluation.evaluators.clusters import CONFIG_CLUSTER_TWICE
from suites.evaluation.evaluators.injection import GATEWAY_SYSTEM_ROOTS
from suites.evaluation.evaluators.verdict import Finding, Verdict
from suites.evaluation.known import PROP_KNOWN_ISSUE, expected_issues, judgement, table
from suites.registry import checks
from tests import checks_fakes as fake
from tests.test_report_conformance import info

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
CHECK = "controlplane/test_istiod_registers_exactly_the_scenario_clusters"
V131 = IstioVersion.parse("1.31.1")


def test_the_table_names_real_checks_workarounds_and_expectation_fields() -> None:
    issues = table()
    assert CONFIG_CLUSTER_TWICE in issues, "the id the registered-clusters evaluator emits is listed"
    registered = {check.id for check in checks()}
    for issue in issues.values():
        assert issue.check in registered, issue.id
        assert issue.workaround_option is None or issue.workaround_option in WORKAROUNDS, issue.id
    assert PROP_KNOWN_ISSUE == REPORTS_PROP  # suites and reports name the property alike


def test_the_config_cluster_issue_reproduces_only_where_its_conditions_hold() -> None:
    exp = replace(fake.second_remote(), istiod_watches_own_namespace_secrets=True)
    assert [i.id for i in expected_issues(CHECK, exp, V131)] == [CONFIG_CLUSTER_TWICE]
    assert expected_issues("controlplane/test_remote_secrets_present", exp, V131) == ()
    worked_around = replace(exp, config_secret_multicluster_label=False)
    assert expected_issues(CHECK, worked_around, V131) == ()
    older_guide = replace(exp, istiod_watches_own_namespace_secrets=False)
    assert expected_issues(CHECK, older_guide, V131) == ()
    fixed = {CONFIG_CLUSTER_TWICE: replace(table()[CONFIG_CLUSTER_TWICE], fixed_in="1.31.0")}
    assert expected_issues(CHECK, exp, V131, fixed) == ()


def verdict(*, findings: tuple[Finding, ...] = (), problems: tuple[str, ...] = ()) -> Verdict:
    return Verdict("controlplane/registered-clusters", "e", "o", "d", problems=problems, findings=findings)


SEEN = Finding(
    CONFIG_CLUSTER_TWICE,
    "istiod-1: cluster 'config' is registered from secret external-istiod/istio-kubeconfig",
)


def test_judgement_of_each_case() -> None:
    expected = (table()[CONFIG_CLUSTER_TWICE],)
    reproduced = judgement(verdict(findings=(SEEN,)), expected)
    assert reproduced.expected_failure and reproduced.known == (SEEN,)
    gone = judgement(verdict(), expected)
    assert gone.problems == (
        f"known issue {CONFIG_CLUSTER_TWICE} no longer reproduces: retire it "
        f"({table()[CONFIG_CLUSTER_TWICE].title}; known_issues.yaml)",
    )
    other = judgement(verdict(findings=(SEEN,), problems=("cluster second is not registered",)), expected)
    assert not other.expected_failure and other.problems == ("cluster second is not registered",)
    unlisted = judgement(verdict(findings=(Finding("no-such-issue", "odd"),)), ())
    assert unlisted.problems == ("odd (detected as no-such-issue, which known_issues.yaml does not list)",)
    where_not = judgement(
        verdict(findings=(SEEN,)), (), replace(fake.second_remote(), config_secret_multicluster_label=False)
    )
    assert "seen where known_issues.yaml says it does not reproduce" in where_not.problems[0]
    assert "config_secret_multicluster_label is False, not True" in where_not.problems[0]


CHILD_CONFTEST = """
import json
import pytest
from dataclasses import dataclass, replace
from pathlib import Path
from programs.redaction import Redactor
from reports.outcomes import OutcomeCollector, identify, store_identity
from suites.conftest import verdict_of  # the suite's own fixture, under test
from tests import checks_fakes as fake

COLLECTOR = OutcomeCollector()


@dataclass(frozen=True)
class Installed:
    scenario: str
    release: object
    topology: object
    expectations: object
    diagnostics_dir: Path


@pytest.fixture
def redactor():
    return Redactor()


@pytest.fixture
def installed_scenario(scenario_id, case):
    exp = replace(
        fake.second_remote(),
        istiod_watches_own_namespace_secrets=True,
        config_secret_multicluster_label=case != "worked-around",
    )
    return Installed(scenario_id, fake.release(), None, exp, Path("diag"))


def pytest_collection_modifyitems(items):
    for item in items:
        store_identity(item, identify(item))


def pytest_runtest_logreport(report):
    COLLECTOR.add(report)


def pytest_sessionfinish(session):
    Path("outcomes.json").write_text(json.dumps([o.as_dict() for o in COLLECTOR.outcomes()]))
"""

CHILD_CHECK = """
import pytest
from suites.evaluation.evaluators.clusters import CONFIG_CLUSTER_TWICE
from suites.evaluation.evaluators.injection import GATEWAY_SYSTEM_ROOTS
from suites.evaluation.evaluators.verdict import Finding, Verdict

pytestmark = pytest.mark.controlplane
SEEN = Finding(CONFIG_CLUSTER_TWICE, "istiod-1: cluster 'config' is registered from the config cluster's own secret")
CASES = {
    "reproduces": dict(findings=(SEEN,)),
    "no-longer-reproduces": dict(),
    "another-problem-too": dict(findings=(SEEN,), problems=("cluster second is not registered",)),
    "worked-around": dict(),
}


@pytest.mark.parametrize("scenario_id", ["second-remote"])
@pytest.mark.parametrize("case", list(CASES))
def test_istiod_registers_exactly_the_scenario_clusters(installed_scenario, verdict_of, case):
    verdict_of(Verdict("controlplane/registered-clusters", "e", "o", "d", **CASES[case]))
"""


def test_strict_expected_failure_turns_into_a_failure_when_the_issue_no_longer_reproduces(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest(CHILD_CONFTEST)
    pytester.makepyfile(test_child=CHILD_CHECK)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rxXf", "-o", "xfail_strict=true")
    result.assert_outcomes(passed=1, failed=2, xfailed=1)
    text = result.stdout.str()
    assert (
        "XFAIL test_child.py::test_istiod_registers_exactly_the_scenario_clusters[reproduces-second-remote]"
        in text
    )
    assert f"known issue {CONFIG_CLUSTER_TWICE} no longer reproduces: retire it" in text
    assert "cluster second is not registered" in text
    outcomes = {o["check"]: o for o in json.loads((pytester.path / "outcomes.json").read_text())}
    known = outcomes["test_istiod_registers_exactly_the_scenario_clusters[reproduces]"]
    assert known["outcome"] == "known-issue"
    assert [issue["id"] for issue in known["knownIssues"]] == [CONFIG_CLUSTER_TWICE]
    assert (
        outcomes["test_istiod_registers_exactly_the_scenario_clusters[no-longer-reproduces]"]["outcome"]
        == "failed"
    )
    assert (
        outcomes["test_istiod_registers_exactly_the_scenario_clusters[worked-around]"]["outcome"] == "passed"
    )
    # The conformance report built from those outcomes: the known issue listed, the result said.
    report = build_report(
        info(),
        [
            CheckOutcome(
                CheckIdentity("second-remote", "1.30.3", "controlplane", "test_registered"),
                "n",
                outcome=known["outcome"],
                message=known["message"],
                known_issues=known["knownIssues"],
            ),
            CheckOutcome(CheckIdentity("second-remote", "1.30.3", "controlplane", "test_other"), "m"),
        ],
    )
    validate(report)
    scenario = report["scenarios"][0]
    assert scenario["result"] == report["result"] == "success-with-known-issues"
    assert scenario["statistics"] == {"Passed": 1, "Failed": 0, "Skipped": 0, "KnownIssues": 1}
    assert scenario["knownIssues"][0]["id"] == CONFIG_CLUSTER_TWICE
    assert "proxyless gRPC" in scenario["knownIssues"][0]["consequence"]
    assert "known issues: config-cluster-registered-twice" in report["summary"]


@pytest.mark.parametrize("scenario", ["ip-passthrough", "dns-tls", "sail", "second-remote"])
def test_the_workaround_changes_only_the_config_secret_step_and_what_is_expected(scenario: str) -> None:
    pins = load_pins()
    release = pins.resolve_release("1.30.3" if scenario == "sail" else "1.31")
    facts = Facts(cluster_names={"remote": "r", "second": "s"}, external_istiod_addr="10.0.0.1")
    plain = registry.render(scenario, release, facts)
    worked = registry.render(
        scenario, release, replace(facts, workarounds=frozenset({UNLABELLED_CONFIG_SECRET}))
    )
    changed = [(a, b) for a, b in zip(plain.plan.steps, worked.plan.steps, strict=True) if a != b]
    assert [a.name for a, _ in changed] == ["remote-secret-config"]
    step = changed[0][1]
    assert step.params["without_labels"] == [MULTICLUSTER_LABEL]
    assert f"with the workaround {UNLABELLED_CONFIG_SECRET}" in step.seed
    assert plain.expectations.config_secret_multicluster_label
    assert not worked.expectations.config_secret_multicluster_label
    assert plain.expectations.istiod_watches_own_namespace_secrets


def test_every_report_shows_the_known_issue() -> None:
    """The HTML summary (its own cell and a section with consequence and workaround) and the Allure
    categories (a category of its own, matching what allure-pytest writes for a strict xfail)."""
    from reports.categories import CATEGORIES, category_name
    from reports.html import render_summary
    from tests.test_html import info as html_info

    issue = table()[CONFIG_CLUSTER_TWICE].report()
    known = CheckOutcome(
        CheckIdentity("second-remote", "1.30.3", "controlplane", "test_registered"),
        "k",
        outcome="known-issue",
        message="KnownIssueReproduced: known issue config-cluster-registered-twice reproduces",
        known_issues=[issue],
    )
    passed = CheckOutcome(CheckIdentity("second-remote", "1.30.3", "controlplane", "test_other"), "p")
    report = build_report(html_info(), [known, passed])
    page = render_summary(html_info(), report, [known, passed], [])
    assert '<td class="cell known"' in page and "success-with-known-issues" in page
    section = page.split("<h2>Known issues</h2>", 1)[1].split("<h2>", 1)[0]
    assert (
        CONFIG_CLUSTER_TWICE in section
        and "Consequence:" in section
        and "--workaround unlabelled-config-secret" in section
    )
    allure_message = (
        f"XFAIL known issue {CONFIG_CLUSTER_TWICE}: {issue['title']}\n\nKnownIssueReproduced: ..."
    )
    assert category_name(allure_message, status="skipped") == "Known issues (expected failures)"
    assert category_name("Skipped: not applicable", status="skipped") == "Unknown"
    assert sum(c.name == "Known issues (expected failures)" for c in CATEGORIES) == 1


def test_the_guides_destination_rule_on_a_certificate_of_your_own_is_the_gateway_issue() -> None:
    """dns-tls with --external-tls-secret renders the guide's DestinationRule (SIMPLE, no CA): the
    issue is expected by the injection check; with the suite's PKI, or the workaround, it is not."""
    release = load_pins().resolve_release("1.31")
    check = "injection/test_sidecars_injected_by_external_control_plane"
    own = Facts(cluster_names={"remote": "r"}, external_hostname="istiod.example.com", suite_pki=False)
    for scenario in ("dns-tls", "second-remote"):
        exp = registry.render(scenario, release, replace(own, second_remote_base="dns-tls")).expectations
        assert [i.id for i in expected_issues(check, exp, V131)] == [GATEWAY_SYSTEM_ROOTS], scenario
    suite = registry.render("dns-tls", release, replace(own, suite_pki=True)).expectations
    assert expected_issues(check, suite, V131) == ()
    worked = registry.render(
        "dns-tls", release, replace(own, workarounds=frozenset({GATEWAY_TRUSTS_ISTIOD_CA}))
    )
    assert expected_issues(check, worked.expectations, V131) == ()
    assert table()[GATEWAY_SYSTEM_ROOTS].workaround_option == GATEWAY_TRUSTS_ISTIOD_CA


def test_the_gateway_workaround_adds_istiods_ca_and_names_it_in_the_destination_rule() -> None:
    release = load_pins().resolve_release("1.31")
    own = Facts(cluster_names={"remote": "r"}, external_hostname="istiod.example.com", suite_pki=False)
    plain = registry.render("dns-tls", release, own).plan
    worked = registry.render(
        "dns-tls", release, replace(own, workarounds=frozenset({GATEWAY_TRUSTS_ISTIOD_CA}))
    ).plan
    added = [s.name for s in worked.steps if s.name not in {p.name for p in plain.steps}]
    assert added == ["external-secret-cacerts", f"external-secret-{UPSTREAM_CA_SECRET}"]
    assert all(
        f"with the workaround {GATEWAY_TRUSTS_ISTIOD_CA}" in s.seed for s in worked.steps if s.name in added
    )
    # The user's gateway certificate is never the suite's to make.
    assert not any(s.name == f"external-secret-{own.external_tls_secret}" for s in worked.steps)

    def upstream_tls(plan: Any) -> list[Any]:
        routing = next(s for s in plan.steps if s.name == "external-istiod-routing")
        rule = next(m for m in routing.manifests if m["kind"] == "DestinationRule")
        return [level["tls"] for level in rule["spec"]["trafficPolicy"]["portLevelSettings"]]

    assert upstream_tls(plain) == [{"mode": "SIMPLE"}, {"mode": "SIMPLE"}]  # seed 001 as written
    for tls in upstream_tls(worked):
        assert tls["credentialName"] == UPSTREAM_CA_SECRET
        assert tls["sni"] == tls["subjectAltNames"][0] == "istiod.external-istiod.svc"
    routing = next(s for s in worked.steps if s.name == "external-istiod-routing")
    assert f"with the workaround {GATEWAY_TRUSTS_ISTIOD_CA}" in routing.seed
