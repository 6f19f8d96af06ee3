"""The layering contracts in pyproject.toml are loaded, kept, and would catch a broken one."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def contracts() -> list[dict[str, object]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(data["tool"]["importlinter"]["contracts"])


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    if not LINT_IMPORTS.exists():
        pytest.skip(f"lint-imports not installed beside {sys.executable} (pip install -e '.[dev]')")
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_every_contract_is_kept_in_the_tree() -> None:
    result = lint_imports(ROOT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    flowing = " ".join(output.split())  # lint-imports wraps long contract names
    for contract in contracts():
        assert f"{contract['name']} KEPT" in flowing, output
    assert f"Contracts: {len(contracts())} kept, 0 broken." in output


def _copy_tree(target: Path) -> None:
    for name in ("pyproject.toml", *(str(p) for p in _root_packages())):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target / name)


@pytest.mark.slow
def test_a_pure_renderer_importing_the_installer_breaks_a_contract(tmp_path: Path) -> None:
    """Plant one forbidden import in a copy of the tree: lint-imports must fail and name it."""
    _copy_tree(tmp_path)
    steps = tmp_path / "scenarios" / "steps.py"
    steps.write_text(steps.read_text() + "\nimport install.installer  # planted by the self-test\n")
    result = lint_imports(tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Scenarios are pure renderers: they import nothing outside themselves BROKEN" in " ".join(
        output.split()
    )
    assert "scenarios.steps -> install.installer" in output


@pytest.mark.slow
def test_a_provider_importing_another_breaks_a_contract(tmp_path: Path) -> None:
    """What providers share lives in clusters/; kwok reaching into kind's package is caught."""
    _copy_tree(tmp_path)
    config = tmp_path / "clusters" / "kwok" / "config.py"
    config.write_text(config.read_text() + "\nimport clusters.kind.cli  # planted by the self-test\n")
    result = lint_imports(tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "No cluster provider imports another" in output and "BROKEN" in output
    assert "clusters.kwok.config -> clusters.kind.cli" in output


def _root_packages() -> list[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(data["tool"]["importlinter"]["root_packages"])
