"""kwok-mode host preflight: every problem named with its fix, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusters.kwok import preflight
from clusters.preflight import PreflightError
from programs.runner import CommandRunner


def meminfo(tmp_path: Path, available_kib: int) -> Path:
    (tmp_path / "meminfo").write_text(f"MemTotal: 25000000 kB\nMemAvailable: {available_kib} kB\n")
    return tmp_path


def test_root_is_required_and_the_fix_says_how() -> None:
    assert preflight.check_root(euid=0) == []
    (problem,) = preflight.check_root(euid=1000)
    assert "not running as root" in problem.what and "sudo" in problem.fix


def test_memory_counts_clusters_and_istiods(tmp_path: Path) -> None:
    proc = meminfo(tmp_path, 1000 * 1024)  # 1000 MiB
    (problem,) = preflight.check_memory(2, 1, proc)
    assert (
        "1000 MiB of memory available; 2 kwok cluster(s) and 1 istiod(s) need about 1500 MiB" in problem.what
    )
    assert preflight.check_memory(1, 1, proc) == []


def test_missing_iproute2_names_the_package(
    runner: CommandRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    (problem,) = preflight.check_iproute2(runner)
    assert "no 'ip' executable on PATH" in problem.what and "apt-get install iproute2" in problem.fix


def test_problems_are_raised_together(
    monkeypatch: pytest.MonkeyPatch, runner: CommandRunner, tmp_path: Path
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PreflightError) as raised:
        preflight.kwok_preflight(runner, clusters=3, istiods=1, proc=meminfo(tmp_path, 512 * 1024))
    message = str(raised.value)
    assert message.startswith("host preflight failed, no cluster was created:")
    assert "not running as root" in message and "iproute2" in message and "2100 MiB" in message
