"""Host preflight: Docker, inotify limits, memory; every problem named with its fix."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from clusters.kind.preflight import (
    MEMORY_PER_CLUSTER_MIB,
    check_docker,
    check_inotify,
    check_memory,
    find_docker,
    preflight,
)
from clusters.preflight import PreflightError
from programs.redaction import Redactor
from programs.runner import CommandRunner
from programs.tools import ResolvedTool
from reports.categories import ENVIRONMENT, classify
from tests import topology_child
from tests.fakeexec import FakeTools


def fake_proc(root: Path, *, watches: int, instances: int, available_kib: int) -> Path:
    inotify = root / "sys" / "fs" / "inotify"
    inotify.mkdir(parents=True)
    (inotify / "max_user_watches").write_text(f"{watches}\n")
    (inotify / "max_user_instances").write_text(f"{instances}\n")
    (root / "meminfo").write_text(
        f"MemTotal:       32000000 kB\nMemFree:         1000000 kB\nMemAvailable:   {available_kib} kB\n"
    )
    return root


def test_fit_host_passes(fake_tools: FakeTools, runner: CommandRunner, tmp_path: Path) -> None:
    fake_tools.install("docker").on(r"^info", stdout="27.3.1\n")
    proc = fake_proc(tmp_path / "proc", watches=524288, instances=512, available_kib=16 * 1024 * 1024)
    preflight(runner, "docker", 3, proc)
    assert fake_tools.lines("docker") == ["info --format {{.ServerVersion}}"]


def test_every_problem_is_reported_at_once_with_its_fix(
    fake_tools: FakeTools, runner: CommandRunner, tmp_path: Path
) -> None:
    fake_tools.install("docker").on(
        r"^info",
        exit=1,
        stderr="Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n",
    )
    proc = fake_proc(tmp_path / "proc", watches=8192, instances=128, available_kib=3 * 1024 * 1024)
    with pytest.raises(PreflightError) as caught:
        preflight(runner, "docker", 3, proc)
    message = str(caught.value)
    assert [problem.what.split(" ")[0] for problem in caught.value.problems] == [
        "the",
        "fs.inotify.max_user_watches",
        "fs.inotify.max_user_instances",
        "3072",
    ]
    assert message.startswith("host preflight failed, no cluster was created:")
    assert "Cannot connect to the Docker daemon" in message
    assert "fix: start Docker" in message
    assert "sudo sysctl fs.inotify.max_user_watches=524288" in message
    assert "sudo sysctl fs.inotify.max_user_instances=512" in message
    assert f"need about {3 * MEMORY_PER_CLUSTER_MIB} MiB" in message
    assert message.count("fix:") == 4


def test_missing_docker_is_named() -> None:
    problems = check_docker(CommandRunner(Redactor()), None)
    assert len(problems) == 1
    assert "no 'docker' executable on PATH" in problems[0].what
    assert "install Docker Engine" in problems[0].fix


def test_docker_is_found_on_path(fake_tools: FakeTools) -> None:
    fake_tools.install("docker")
    assert find_docker() == str(fake_tools.bin_dir / "docker")
    assert find_docker("no-such-docker-binary") is None


def test_limits_are_not_checked_where_proc_has_no_inotify(tmp_path: Path) -> None:
    assert check_inotify(tmp_path) == []
    assert check_memory(3, tmp_path) == []


def test_memory_check_scales_with_the_clusters_to_create(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, watches=524288, instances=512, available_kib=5 * 1024 * 1024)
    assert check_memory(2, proc) == []
    assert len(check_memory(3, proc)) == 1
    assert check_memory(0, proc) == []  # reusing clusters needs no new memory


# -- real kind and cloud-provider-kind, real docker client, no Docker engine ---------------


def _docker_engine_answers() -> bool:
    docker = find_docker()
    if docker is None:
        return False
    return subprocess.run([docker, "info"], capture_output=True, check=False, timeout=60).returncode == 0


@pytest.mark.realtools
def test_real_tools_without_docker_engine_stop_with_one_clear_message(
    real_tool: Callable[[str], ResolvedTool], fake_tools: FakeTools, tmp_path: Path
) -> None:
    if _docker_engine_answers():
        pytest.skip(
            "a Docker engine answers here: this test needs a host without one (it would create clusters)"
        )
    kind = real_tool("kind")
    cpk = real_tool("cloud-provider-kind")
    kubectl = fake_tools.install("kubectl").on(r"^version --client", stdout="Client Version: v1.37.0\n")
    test_file = topology_child.write_project(
        tmp_path / "child", "def test_needs_clusters(topology):\n    pass\n", conftest=None
    )
    argv = topology_child.command(
        test_file,
        "--tool-path",
        f"kind={kind.path}",
        "--tool-path",
        f"cloud-provider-kind={cpk.path}",
        "--tool-path",
        f"kubectl={fake_tools.bin_dir / kubectl.name}",
    )
    result = subprocess.run(
        argv,
        env=topology_child.environment(fake_tools.path_env(), tmp_path / "state"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output  # the session was stopped
    assert "Traceback" not in output
    assert "Interrupted: host preflight failed, no cluster was created:" in output
    docker_problem = "Docker daemon does not answer" if find_docker() else "no 'docker' executable on PATH"
    # Said once in the report of the stopped session (the short summary may repeat it,
    # depending on the pytest version), with its fix right below.
    report = output.split("short test summary info", 1)[0]
    assert report.count(docker_problem) == 1, output
    assert output.count("fix: ") >= 1
    assert "1 error" in output  # the one test that needed clusters; no other test ran
    transcript = (test_file.parent / "report" / "logs" / "commands-main.log").read_text()
    # The host preflight runs first (host, then tools, then clusters): with Docker
    # unusable no tool was even resolved.
    assert "docker info" in transcript or docker_problem.startswith("no 'docker'")
    assert f"{kind.path} version" not in transcript
    assert f"{cpk.path} --help" not in transcript
    assert "create cluster" not in transcript
    assert "get clusters" not in transcript  # nothing cluster-related ran before the preflight


@pytest.mark.slow
def test_suites_without_docker_or_tools_stop_first_at_the_host_preflight(tmp_path: Path) -> None:
    """Issue 10: ``pytest suites`` on a host without Docker and without a kubectl to be had
    stops first with the Docker preflight message, having created and fetched nothing."""
    empty_path = tmp_path / "bin"
    empty_path.mkdir()  # no docker, no kubectl, no go: nothing on PATH at all
    tools_dir, state_dir, report_dir = tmp_path / "tools", tmp_path / "state", tmp_path / "report"
    env = {
        "HOME": str(tmp_path / "home"),
        "PATH": str(empty_path),
        "EICP_TOOLS_DIR": str(tools_dir),
        "EICP_STATE_DIR": str(state_dir),
        "EICP_RUNS_DIR": str(tmp_path / "runs"),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites",
            "-p",
            "no:cacheprovider",
            "--scenario",
            "ip-passthrough",
            "--no-download",
            "--report-dir",
            str(report_dir),
        ],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    assert "Interrupted: host preflight failed, no cluster was created:" in output
    assert "no 'docker' executable on PATH" in output
    assert "could not be had" not in output  # no tool was even looked for
    # One error, filed as the environment's fault, not as a product failure.
    assert "EnvironmentFault: host preflight failed" in output
    assert classify("EnvironmentFault: host preflight failed, no cluster was created:") == ENVIRONMENT
    assert "1 error" in output
    assert list(tools_dir.iterdir()) == []  # nothing downloaded or built
    assert not state_dir.exists()  # no cluster record, no lock: nothing created
    transcript = report_dir / "logs" / "commands-main.log"
    assert not transcript.exists() or "kubectl" not in transcript.read_text()
