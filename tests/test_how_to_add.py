"""ARCHITECTURE.md's "How to add" is what it really takes: in a copy of the tree, add a dummy
scenario and a dummy cluster provider the way it says, count the files touched beside their own
modules and tests (at most three each), and show the suite takes them up: the options accept
them, --plan renders the scenario, collection decides where each check runs from the new
provider's capabilities, the layering contracts hold and the new code type-checks (layer 1)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

DUMMY_SCENARIO = '''"""dummy: ip-passthrough under another id (the how-to-add self-test's scenario)."""

from __future__ import annotations

from scenarios import ip_passthrough
from scenarios.common import RenderContext, RenderedScenario
from scenarios.facts import Facts
from scenarios.istioctl_flow import render_flow
from scenarios.releases import IstioRelease
from scenarios.steps import Role

SCENARIO = "dummy"
ROLES: tuple[Role, ...] = ("external", "remote")


def render(release: IstioRelease, facts: Facts) -> RenderedScenario:
    ctx = RenderContext(release, facts)
    flow = ip_passthrough.flow(ctx)
    return render_flow(ctx, SCENARIO, ROLES, flow, ip_passthrough.expectations(ctx, SCENARIO))
'''

DUMMY_PROVIDER = '''"""--topology-mode dummy: the how-to-add self-test's provider; its clusters can do nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from clusters.capabilities import Capability, ProviderCapabilities
from clusters.cluster import ProviderError, Topology
from clusters.provider import ExternalLoadBalancers, LoadBalancerProvider, ProviderContext, StepRecordLike
from scenarios.steps import Role

CAPABILITIES = ProviderCapabilities(
    mode="dummy",
    clusters="dummy clusters",
    creates_clusters=False,
    supports=frozenset(),
    lacks={capability: "dummy clusters run nothing" for capability in Capability},
)


@dataclass
class DummyProvider:
    capabilities: ClassVar[ProviderCapabilities] = CAPABILITIES

    def provision(self, roles: tuple[Role, ...]) -> Topology:
        raise ProviderError("dummy clusters cannot be provisioned")

    def load_balancers(self) -> LoadBalancerProvider:
        return ExternalLoadBalancers()

    def step_recorded(self, record: StepRecordLike) -> None:
        return None

    def stand_ins(self) -> tuple[str, ...]:
        return ()

    def teardown(self, *, failed: bool, interrupted: bool) -> str | None:
        return None


def build_dummy_provider(context: ProviderContext) -> DummyProvider:
    return DummyProvider()
'''


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=600, check=False, env={"PATH": "/usr/bin:/bin"}
    )


def _git(tree: Path, *args: str) -> str:
    done = _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], tree)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _edit(path: Path, anchor: str, insert: str, *, before: bool = False) -> None:
    text = path.read_text()
    assert text.count(anchor) == 1, f"{path}: the anchor {anchor!r} is not there once"
    path.write_text(text.replace(anchor, insert + anchor if before else anchor + insert))


def _add_scenario(tree: Path) -> None:
    (tree / "scenarios" / "dummy.py").write_text(DUMMY_SCENARIO)
    registry = tree / "scenarios" / "registry.py"
    _edit(registry, "from scenarios import ", "from scenarios import dummy\n", before=True)
    _edit(
        registry,
        "\n)\nSCENARIO_IDS",
        "\n    ScenarioSpec(dummy.SCENARIO, dummy.ROLES, dummy.render),",
        before=True,
    )


def _add_provider(tree: Path) -> None:
    package = tree / "clusters" / "dummy"
    package.mkdir()
    (package / "__init__.py").write_text('"""``--topology-mode dummy`` (the how-to-add self-test)."""\n')
    (package / "provider.py").write_text(DUMMY_PROVIDER)
    providers = tree / "clusters" / "providers.py"
    _edit(providers, "from clusters import existing\n", "from clusters.dummy import provider as dummy\n")
    _edit(
        providers,
        "\n)\nMODES",
        "\n    ProviderSpec(dummy.CAPABILITIES, dummy.build_dummy_provider),",
        before=True,
    )
    pyproject = tree / "pyproject.toml"
    text = pyproject.read_text()
    listed = '"clusters.kind", "clusters.kwok", "clusters.existing"'
    assert text.count(listed) == 2, "the provider-naming contracts list every provider package"
    pyproject.write_text(text.replace(listed, listed + ', "clusters.dummy"'))


def _touched(tree: Path, own: tuple[str, ...]) -> set[str]:
    """Files changed or added since the last commit, beside ``own`` and tests/."""
    changed = {line[3:] for line in _git(tree, "status", "--porcelain", "--untracked-files=all").splitlines()}
    _git(tree, "add", "-A")
    _git(tree, "commit", "-q", "-m", "added")
    return {name for name in changed if not name.startswith(("tests/", *own))}


def _how_to_add(what: str) -> str:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    match = re.search(rf"^- \*\*{what}\*\*: (.*?)(?=^- \*\*|\Z)", text, re.M | re.S)
    assert match, f"ARCHITECTURE.md has no 'How to add' entry for {what}"
    return match.group(1)


@pytest.mark.slow
def test_adding_a_scenario_and_a_provider_touches_what_architecture_md_says(tmp_path: Path) -> None:
    if not LINT_IMPORTS.exists():
        pytest.skip(f"lint-imports not installed beside {sys.executable} (pip install -e '.[dev]')")
    tree = tmp_path / "tree"
    files = _run(["git", "ls-files"], ROOT)
    if files.returncode != 0:
        pytest.skip(f"not a git checkout: {files.stderr.strip()}")
    for name in files.stdout.split():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tree / name)
    _git(tree, "init", "-q")
    _git(tree, "add", "-A")
    _git(tree, "commit", "-q", "-m", "the tree")

    _add_scenario(tree)
    scenario_files = _touched(tree, ("scenarios/dummy.py",))
    _add_provider(tree)
    provider_files = _touched(tree, ("clusters/dummy/",))
    assert scenario_files == {"scenarios/registry.py"}
    assert provider_files == {"clusters/providers.py", "pyproject.toml"}
    for what, touched in (("a scenario", scenario_files), ("a cluster provider", provider_files)):
        assert len(touched) <= 3
        documented = _how_to_add(what)
        assert all(f"`{name}`" in documented for name in touched), (what, touched, documented)

    suite = [PYTHON, "-m", "pytest", "suites", "-p", "no:cacheprovider", "--report-dir", str(tmp_path / "r")]
    plan = _run([*suite, "--plan", "--scenario", "dummy", "--istio-version", "1.30"], tree)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "# scenario dummy -- Istio 1.30" in plan.stdout and "kind: IstioOperator" in plan.stdout
    collected = _run(
        [*suite, "--collect-only", "-q", "-rs", "--topology-mode", "dummy", "--scenario", "dummy"], tree
    )
    assert collected.returncode == 0, collected.stdout + collected.stderr
    items = [line for line in collected.stdout.splitlines() if line.startswith("suites/")]
    assert items and all("[dummy-" in item for item in items)
    assert [item for item in items if "route_helloworld_evenly" in item]  # the xDS check: every mode
    layering = _run([str(LINT_IMPORTS), "--no-cache"], tree)
    assert layering.returncode == 0, layering.stdout + layering.stderr
    types = _run(
        [PYTHON, "-m", "mypy", "scenarios/dummy.py", "clusters/dummy", "clusters/providers.py"], tree
    )
    assert types.returncode == 0, types.stdout + types.stderr
