"""ci/python_env.sh: the warm start of ci/certify.sh and ci/selftest.sh skips pip when
pyproject.toml and the installed version are as the last install left them, and pip's noise
reaches the terminal only when the install fails.

The virtual environment is a stand-in: its ``python`` runs this interpreter for the stamp's
state (so the real ``importlib.metadata`` reads the version) and plays pip itself, noting each
call and printing the kind of noise pip and setuptools print. The installed version is a
``.dist-info`` directory that the fake pip writes ahead of everything on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOISE = "BuildBackendWarning: Editable installation."

FAKE_PYTHON = f"""#!/usr/bin/env bash
if [ "$1" = -m ] && [ "$2" = pip ]; then
  echo "pip $*" >>"$CALLS"
  echo "{NOISE}" >&2
  echo "Successfully installed something"
  if [ "${{FAIL_PIP:-0}}" = 1 ]; then echo "ERROR: No matching distribution found" >&2; exit 1; fi
  meta="$SITE/istio_external_control_plane_conformance-$NEW_VERSION.dist-info"
  rm -rf "$SITE"/istio_external_control_plane_conformance-*.dist-info
  mkdir -p "$meta"
  printf 'Metadata-Version: 2.1\\nName: istio-external-control-plane-conformance\\nVersion: %s\\n' "$NEW_VERSION" >"$meta/METADATA"
  exit 0
fi
exec {sys.executable} "$@"
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / "ci").mkdir(parents=True)
    shutil.copy(REPO / "ci" / "python_env.sh", root / "ci" / "python_env.sh")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    venv = root / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").write_text(FAKE_PYTHON)
    (venv / "python").chmod(0o755)
    (tmp_path / "site").mkdir()
    return root


def python_env(checkout: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    site = checkout.parent / "site"
    return subprocess.run(
        [
            "bash",
            "-c",
            'set -euo pipefail; source ci/python_env.sh; python_env .venv "$@"',
            "python_env",
            *args,
        ],
        cwd=checkout,
        env={
            "PATH": os.environ["PATH"],
            "CALLS": str(checkout.parent / "calls"),
            "SITE": str(site),
            "PYTHONPATH": str(site),
            "NEW_VERSION": "0.1.0",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def pip_calls(checkout: Path) -> list[str]:
    calls = checkout.parent / "calls"
    return calls.read_text().splitlines() if calls.exists() else []


def test_first_install_is_quiet_and_the_warm_start_skips_pip(checkout: Path) -> None:
    first = python_env(checkout, "dev")
    assert first.returncode == 0, first.stderr
    assert NOISE not in first.stdout + first.stderr  # pip's and setuptools' noise: in the log only
    assert NOISE in (checkout / ".venv" / "pip-install.log").read_text()
    assert "installed: istio-external-control-plane-conformance 0.1.0" in first.stdout
    assert pip_calls(checkout)[-1].endswith("install --disable-pip-version-check -e .[dev]")
    calls = len(pip_calls(checkout))

    started = time.monotonic()
    warm = python_env(checkout, "dev")
    elapsed = time.monotonic() - started
    assert warm.returncode == 0, warm.stderr
    assert len(pip_calls(checkout)) == calls, "a warm start ran pip"
    assert warm.stdout.startswith("up to date: istio-external-control-plane-conformance 0.1.0")
    assert warm.stderr == ""
    assert elapsed < 5, f"the warm start took {elapsed:.1f}s"

    # The dev extras cover a plain install (certify.sh after selftest.sh); not the reverse.
    assert python_env(checkout).returncode == 0 and len(pip_calls(checkout)) == calls


def test_plain_install_does_not_cover_the_dev_extras(checkout: Path) -> None:
    assert python_env(checkout).returncode == 0
    calls = len(pip_calls(checkout))
    assert python_env(checkout, "dev").returncode == 0
    assert len(pip_calls(checkout)) > calls


@pytest.mark.parametrize("change", ["pyproject", "installed-version", "forced"])
def test_a_change_installs_again(checkout: Path, change: str) -> None:
    # 9.9.9: not the version any real environment of this interpreter may hold.
    assert python_env(checkout, "dev", NEW_VERSION="9.9.9").returncode == 0
    calls = len(pip_calls(checkout))
    env: dict[str, str] = {}
    if change == "pyproject":
        with (checkout / "pyproject.toml").open("a") as handle:
            handle.write("\n# a new dependency would go here\n")
    elif change == "installed-version":
        shutil.rmtree(next((checkout.parent / "site").iterdir()))  # someone uninstalled it
    else:
        env["EICP_FORCE_INSTALL"] = "1"
    again = python_env(checkout, "dev", **env)
    assert again.returncode == 0, again.stderr
    assert len(pip_calls(checkout)) > calls
    assert again.stdout.startswith("installing ")


def test_a_failed_install_prints_pips_output_and_forgets_the_stamp(checkout: Path) -> None:
    assert python_env(checkout, "dev").returncode == 0
    with (checkout / "pyproject.toml").open("a") as handle:
        handle.write("\n# changed\n")
    failed = python_env(checkout, "dev", FAIL_PIP="1")
    assert failed.returncode == 1
    assert "ERROR: No matching distribution found" in failed.stderr
    assert "pip install of .[dev] failed" in failed.stderr
    assert not (checkout / ".venv" / ".eicp-install-stamp").exists()
    # The next start tries again instead of trusting a stamp of the failed install.
    retry = python_env(checkout, "dev")
    assert retry.returncode == 0 and retry.stdout.startswith("installing ")
