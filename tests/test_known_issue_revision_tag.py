"""Known issue remote-injection-moved-to-unlisted-revision-tag: where each guide revision meets it
(from the rendered plans) and the webhook check's verdict (pure; the configurations shaped as
istioctl install leaves them: the tag's webhooks copied from the injector, the injector's
selectors set to never match, istioctl/pkg/tag generate.go and util.go in the pinned Istio
sources, as the kwok tier saw them)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from scenarios import registry
from scenarios.expectations import ScenarioExpectations
from scenarios.facts import Facts
from scenarios.releases import load_pins
from scenarios.versions import IstioVersion
from suites.evaluation.evaluators.controlplane import evaluate_webhooks
from suites.evaluation.evaluators.revision_tags import UNLISTED_REVISION_TAG
from suites.evaluation.known import expected_issues, judgement, table
from tests import checks_fakes as fake

CHECK = "controlplane/test_remote_webhook_configurations"
TAG = "istio-revision-tag-default-external-istiod"
INJECTOR = "istio-sidecar-injector-external-istiod"
NEVER_MATCH = {"matchLabels": {"istio.io/deactivated": "never-match"}}


def rendered(scenario: str, guide: str | None = None, **options: Any) -> ScenarioExpectations:
    release = load_pins().resolve_release("1.31", guide=guide)
    facts = Facts(cluster_names={"remote": "r", "second": "s"}, external_istiod_addr="10.0.0.1", **options)
    return registry.render(scenario, release, facts).expectations


def second_remote(guide: str | None = None) -> ScenarioExpectations:
    return rendered("second-remote", guide)


def as_istioctl_install_leaves_it(exp: ScenarioExpectations, role: str) -> tuple[Any, Any]:
    """What the guide lists for ``role``, then the default tag istioctl install adds: the
    injector deactivated, the tag's copy (labelled istio.io/tag) and the default validator."""
    muts, vals = fake.healthy_webhooks(exp, role)
    injector = next(m for m in muts["items"] if m["metadata"]["name"] == INJECTOR)
    tag = copy.deepcopy(injector)
    tag["metadata"] = {"name": TAG, "labels": {"istio.io/rev": "default", "istio.io/tag": "default"}}
    for hook in injector["webhooks"]:
        hook["namespaceSelector"] = hook["objectSelector"] = NEVER_MATCH
    muts["items"].append(tag)
    vals["items"].append(fake.validating("istiod-default-validator"))
    return muts, vals


@pytest.mark.parametrize(
    ("scenario", "guide", "options", "expected"),
    [
        # Today's page: the config cluster's listing names the tag; the second cluster's does not.
        ("ip-passthrough", None, {}, False),
        ("dns-tls", None, {}, False),
        ("second-remote", None, {}, True),
        # Seed 001: the ingress gateway's istioctl install on the config cluster makes the tag.
        ("ip-passthrough", "001", {}, True),
        ("second-remote", "001", {}, True),
        # ... unless nothing is installed there with istioctl (the Gateway API ingress).
        ("ip-passthrough", "001", {"ingress": "gateway-api"}, False),
    ],
)
def test_where_the_issue_is_expected(
    scenario: str, guide: str | None, options: dict[str, Any], expected: bool
) -> None:
    exp = rendered(scenario, guide, **options)
    assert exp.istioctl_install_adds_unlisted_revision_tag is expected
    found = [issue.id for issue in expected_issues(CHECK, exp, IstioVersion.parse("1.31.1"))]
    assert found == ([UNLISTED_REVISION_TAG] if expected else [])


def test_what_the_page_lists_on_the_second_cluster() -> None:
    assert {hook.name for hook in second_remote().webhooks["second"]} == {INJECTOR}


def test_as_istioctl_install_leaves_the_second_cluster_the_check_reports_the_known_issue_only() -> None:
    exp = second_remote()
    muts, vals = as_istioctl_install_leaves_it(exp, "second")
    verdict = evaluate_webhooks("second", muts, vals, exp.webhooks["second"], diagnostics=fake.DIAGNOSTICS)
    assert verdict.problems == ()
    [finding] = verdict.findings
    assert finding.issue == UNLISTED_REVISION_TAG
    assert f"the guide lists {INJECTOR}, which istioctl install deactivated" in finding.text
    assert f"injected through {TAG} (4 webhooks)" in finding.text
    version = IstioVersion.parse("1.31.1")
    verdict_judged = judgement(verdict, expected_issues(CHECK, exp, version), exp)
    assert verdict_judged.expected_failure


def test_a_second_cluster_as_the_page_lists_it_no_longer_reproduces_the_issue() -> None:
    exp = second_remote()
    muts, vals = fake.healthy_webhooks(exp, "second")
    verdict = evaluate_webhooks("second", muts, vals, exp.webhooks["second"], diagnostics=fake.DIAGNOSTICS)
    assert verdict.ok and verdict.findings == ()
    judged = judgement(verdict, expected_issues(CHECK, exp, IstioVersion.parse("1.31.1")), exp)
    assert judged.problems == (
        f"known issue {UNLISTED_REVISION_TAG} no longer reproduces: retire it "
        f"({table()[UNLISTED_REVISION_TAG].title}; known_issues.yaml)",
    )


def test_no_finding_where_the_listed_injector_injects_or_the_listing_names_the_tag() -> None:
    exp = second_remote()
    muts, vals = as_istioctl_install_leaves_it(exp, "second")
    for config in muts["items"]:  # the injector as the guide's listing would have it: active
        for hook in config["webhooks"]:
            hook.pop("namespaceSelector", None)
            hook.pop("objectSelector", None)
    active = evaluate_webhooks("second", muts, vals, exp.webhooks["second"], diagnostics=fake.DIAGNOSTICS)
    assert active.ok and active.findings == ()
    muts, vals = as_istioctl_install_leaves_it(exp, "remote")  # the config cluster's listing has both
    listed = evaluate_webhooks("remote", muts, vals, exp.webhooks["remote"], diagnostics=fake.DIAGNOSTICS)
    assert listed.ok and listed.findings == ()


def test_seen_where_no_istioctl_install_makes_a_tag_it_is_a_plain_failure() -> None:
    exp = rendered("ip-passthrough", "001", ingress="gateway-api")
    muts, vals = as_istioctl_install_leaves_it(exp, "remote")
    verdict = evaluate_webhooks("remote", muts, vals, exp.webhooks["remote"], diagnostics=fake.DIAGNOSTICS)
    judged = judgement(verdict, expected_issues(CHECK, exp, IstioVersion.parse("1.31.1")), exp)
    [problem] = judged.problems
    assert "seen where known_issues.yaml says it does not reproduce" in problem
    assert "istioctl_install_adds_unlisted_revision_tag is False, not True" in problem
