"""Selecting checks: ``-m <family> --scenario <id>`` collects exactly that family for that scenario.

Runs the real suite's collection (root conftest, scenario plugin, suites/) in a subprocess,
with fake kind/kubectl/istioctl/helm/docker first on PATH to prove collection touches nothing.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from scenarios.registry import SCENARIO_IDS
from scenarios.releases import load_pins
from suites import test_controlplane, test_injection, test_traffic, test_validation
from suites.registry import checks
from tests.fakeexec import FakeTools

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
FAMILIES: dict[str, ModuleType] = {
    "controlplane": test_controlplane,
    "injection": test_injection,
    "validation": test_validation,
    "traffic": test_traffic,
}
Collect = Callable[..., tuple[list[str], dict[str, tuple[str, str]]]]
_ITEM = re.compile(r"^(suites/\S+::\S+)$", re.MULTILINE)
_PRINTED = re.compile(r"^EICP-ITEM (\S+) (\S+) (\S+)$", re.MULTILINE)

# Every check family users select by (pyproject markers); the upgrade family belongs to another module.
FAMILY_MARKERS = (*FAMILIES, "upgrade")
# Loaded into the collecting pytest: prints each item's xdist group and check-family markers.
ITEM_PRINTER = f"""
def pytest_collection_finish(session):
    for item in session.items:
        mark = item.get_closest_marker("xdist_group")
        families = [m.name for m in item.iter_markers() if m.name in {FAMILY_MARKERS!r}]
        print("EICP-ITEM", item.nodeid, mark.args[0] if mark else None, ",".join(families) or "-")
"""


def _checks(module: ModuleType) -> list[str]:
    return sorted(
        name for name, obj in vars(module).items() if name.startswith("test_") and inspect.isfunction(obj)
    )


def _default_release() -> str:
    pins = load_pins()
    return str(pins.resolve_release(pins.supported[-1]).version)


@pytest.fixture
def collect(pytester: pytest.Pytester, fake_tools: FakeTools, monkeypatch: pytest.MonkeyPatch) -> Collect:
    for tool in ("kind", "kubectl", "istioctl", "helm", "docker", "cloud-provider-kind"):
        fake_tools.install(tool).default(exit=97)
    pytester.makepyfile(eicp_item_printer=ITEM_PRINTER)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path))

    def run(*args: str) -> tuple[list[str], dict[str, tuple[str, str]]]:
        result = pytester.runpytest_subprocess(
            "-c",
            str(REPO / "pyproject.toml"),
            f"--rootdir={REPO}",
            "-p",
            "eicp_item_printer",
            "--collect-only",
            "-q",
            "--report-dir",
            str(pytester.path / "report"),
            *args,
            str(REPO / "suites"),
        )
        assert result.ret == 0, result.stdout.str() + result.stderr.str()
        text = result.stdout.str()
        assert fake_tools.calls() == [], "collection must not run any tool"
        printed = {nodeid: (group, families) for nodeid, group, families in _PRINTED.findall(text)}
        return sorted(_ITEM.findall(text)), printed

    return run


def test_family_and_scenario_selection_collects_exactly_that(collect: Collect) -> None:
    # --egress-gateway helm: the scenario installs the guide's optional egress gateway, so the
    # check of that optional part is collected too.
    items, printed = collect("-m", "injection", "--scenario", "ip-passthrough", "--egress-gateway", "helm")
    label = f"ip-passthrough-{_default_release()}"
    assert items == [f"suites/test_injection.py::{name}[{label}]" for name in _checks(test_injection)]
    assert len(items) >= 2
    # One xdist group, the injection family only: the scenario is installed once for its checks.
    assert set(printed.values()) == {(label, "injection")}


def _patch(minor: str) -> str:
    """The pinned patch a minor resolves to (versions.yaml: the release table moves with upstream)."""
    return str(load_pins().resolve_release(minor).version)


def test_every_check_belongs_to_one_family_and_names_its_scenario(collect: Collect) -> None:
    everything, printed = collect(
        "--scenario", "ip-passthrough", "--scenario", "second-remote", "--istio-version", "1.30"
    )
    ours = [
        item
        for item in everything
        if item.split("::")[0].removeprefix("suites/").removesuffix(".py")
        in {module.__name__.rsplit(".", 1)[-1] for module in FAMILIES.values()}
    ]
    # Checks of optional parts the run does not install (no --egress-gateway) are deselected.
    optional = {check.name for check in checks() if check.needs.parts}
    assert len(ours) == 2 * sum(len(set(_checks(module)) - optional) for module in FAMILIES.values())
    for item in everything:
        assert re.search(rf"\[(ip-passthrough|second-remote)-{re.escape(_patch('1.30'))}\]$", item), item
        group, families = printed[item]
        assert group == re.sub(r".*\[(.*)\]$", r"\1", item)  # grouped by its own scenario
        assert len(families.split(",")) == 1 and families != "-", f"{item} has families {families}"
    for item in ours:
        module = item.split("::")[0].rsplit("/", 1)[-1].removesuffix(".py")
        expected = [family for family, mod in FAMILIES.items() if mod.__name__.endswith(module)]
        assert [printed[item][1]] == expected, item


def test_checks_of_an_optional_part_are_collected_only_where_it_is_installed(collect: Collect) -> None:
    egress = "test_remote_egress_gateway_injected_and_synced"
    assert [check.needs.parts for check in checks() if check.name == egress] == [
        {"egress-gateway": "--egress-gateway helm"}
    ]
    release = _patch("1.30")
    by_default, _ = collect("-m", "injection", "--scenario", "ip-passthrough", "--istio-version", "1.30")
    assert not [item for item in by_default if egress in item]
    asked, _ = collect(
        "-m", "injection", "--scenario", "ip-passthrough", "--scenario", "sail",
        "--istio-version", "1.30", "--egress-gateway", "helm",
    )  # fmt: skip
    # seed 004 (sail) has no egress gateway: its check is not collected there.
    assert [item for item in asked if egress in item] == [
        f"suites/test_injection.py::{egress}[ip-passthrough-{release}]"
    ]
    assert [item for item in asked if "test_ingress_gateways" in item and "sail" in item]


def test_releases_multiply_and_unknown_scenario_is_refused(
    collect: Collect, pytester: pytest.Pytester
) -> None:
    items, _ = collect(
        "-m", "validation", "--scenario", "dns-tls", "--istio-version", "1.29", "--istio-version", "1.30"
    )
    assert {re.sub(r".*\[", "", item) for item in items} == {
        f"dns-tls-{_patch('1.29')}]",
        f"dns-tls-{_patch('1.30')}]",
    }
    result = pytester.runpytest_subprocess(
        "-c",
        str(REPO / "pyproject.toml"),
        f"--rootdir={REPO}",
        "--collect-only",
        "--scenario",
        "nope",
        str(REPO / "suites"),
    )
    assert result.ret != 0
    result.stderr.fnmatch_lines(
        [f"*--scenario 'nope' is not valid: accepted values are {', '.join(SCENARIO_IDS)}*"]
    )
