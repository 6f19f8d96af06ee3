"""Failure categories: environment faults apart from product failures, as Allure sees them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reports.categories import CATEGORIES, category_name, classify, write_categories


@pytest.mark.parametrize(
    ("message", "category"),
    [
        (
            "ERROR: failed to create cluster: Cannot connect to the Docker daemon at unix:///var/run/docker.sock",
            "Environment: Docker unreachable",
        ),
        (
            "AssertionError: pod sample/curl-1 not Ready: ImagePullBackOff (docker.io/curlimages/curl)",
            "Environment: image pull failed",
        ),
        (
            "install.installer.EnvironmentFault: LoadBalancer istio-system/istio-ingressgateway got no "
            "address: timed out after 300s",
            "Environment: LoadBalancer address not assigned",
        ),
        (
            "EnvironmentFault: DNS precondition failed: external.eicp.test: no such host",
            "Environment: DNS resolution",
        ),
        (
            "install.installer.EnvironmentFault: inotify limits too low",
            "Environment: kind cluster or host limits",
        ),
        (
            "install.installer.EnvironmentFault: node memory below 8 GiB",
            "Environment: fault reported by the suite",
        ),
        (
            "AssertionError: webhook istio-sidecar-injector has 2 webhooks, expected 4",
            "Product: failed checks",
        ),
    ],
)
def test_messages_land_in_the_right_category(message: str, category: str) -> None:
    assert category_name(message) == category
    assert classify(message) == ("product" if category.startswith("Product") else "environment")


def test_environment_fault_in_the_trace_only() -> None:
    trace = "def install(...):\n>       raise EnvironmentFault(msg)\nE       install.installer.EnvironmentFault: x\n"
    assert (
        category_name("step 'lb' failed", trace, status="broken")
        == "Environment: fault reported by the suite"
    )
    # Source code that merely mentions the name is not a fault.
    assert category_name("boom", "    except EnvironmentFault:\nE   RuntimeError: boom", "broken") == (
        "Product: install or fixture errors"
    )


def test_categories_json(tmp_path: Path) -> None:
    written = json.loads(write_categories(tmp_path / "allure").read_text())
    assert [entry["name"] for entry in written] == [category.name for category in CATEGORIES]
    assert all(entry["messageRegex"].startswith("(?") for entry in written if "messageRegex" in entry)
    assert written[-2:] == [
        {"name": "Product: failed checks", "matchedStatuses": ["failed"]},
        {"name": "Product: install or fixture errors", "matchedStatuses": ["broken"]},
    ]


def test_allure3_rules_carry_the_patterns_as_javascript_regexes() -> None:
    from reports.allure_files import allure3_config
    from reports.categories import allure3_rules, js_regex

    assert js_regex(r"(?is).*docker.*") == (".*docker.*", "is")
    assert js_regex(r"(?ms).*^E\s+x") == (r".*^E\s+x", "ms")
    assert js_regex("plain") == ("plain", "")
    rules = allure3_rules()
    assert [rule["name"] for rule in rules] == [category.name for category in CATEGORIES]
    suite_fault = next(rule for rule in rules if rule["name"] == "Environment: fault reported by the suite")
    # Message or trace (two matchers, which Allure 3 ORs), as classify() does.
    assert [sorted(matcher) for matcher in suite_fault["matchers"]] == [
        ["message", "statuses"],
        ["statuses", "trace"],
    ]
    assert rules[-1] == {"name": "Product: install or fixture errors", "matchers": [{"statuses": ["broken"]}]}
    config = allure3_config("nightly")
    assert config.count("new RegExp(") == sum(
        len(rule["matchers"]) for rule in rules if rule["matchers"][0].get("message")
    )
    assert "(?" not in config  # no inline flags left: JavaScript rejects them
