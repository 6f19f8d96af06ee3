"""Which scenarios a topology mode can certify at all, and why not the others.

kwok mode (real API servers and a real external istiod, no nodes, no images) cannot run the Sail
scenario; its checks are skipped with the reason, before anything is installed, instead of
failing at a step that cannot work there. (dns-tls runs there: the clusters' own hosts files
hold the test hostname and HAProxy stands in for the gateway, see clusters/kwok/.)
"""

from __future__ import annotations

import pytest

from run.config import SuiteConfig

KWOK_NOT_APPLICABLE: dict[str, str] = {
    "sail": (
        "not applicable in kwok mode: the Sail operator cannot run here (kwok runs no operator "
        "image, and the operator's Go module github.com/istio-ecosystem/sail-operator is not "
        "served by this Go module proxy, so it cannot be built as a host process)"
    ),
}


def not_applicable(mode: str, scenario: str) -> str | None:
    """Why ``scenario`` cannot be certified in ``mode``, or ``None`` when it can."""
    return KWOK_NOT_APPLICABLE.get(scenario) if mode == "kwok" else None


@pytest.fixture(scope="session", autouse=True)
def applicable_in_this_mode(scenario_id: str, config_: SuiteConfig) -> None:
    """Skip (with the reason) the checks of a scenario this mode cannot run, before its install."""
    reason = not_applicable(config_.mode, scenario_id)
    if reason:
        pytest.skip(reason)
