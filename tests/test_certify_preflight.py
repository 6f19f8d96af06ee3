"""ci/certify.sh checks the host before it resolves or builds any tool, and a host without
Docker hears the command that certifies the control plane there instead (kwok mode)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clusters.kind.preflight import check_docker
from clusters.preflight import WITHOUT_DOCKER
from clusters.preflight_cli import main as preflight_main
from programs.redaction import Redactor
from programs.runner import CommandRunner

REPO = Path(__file__).resolve().parent.parent


def test_the_docker_problems_name_the_kwok_command() -> None:
    (problem,) = check_docker(CommandRunner(Redactor()), None)
    assert WITHOUT_DOCKER in problem.fix
    assert "bash ci/certify.sh --topology-mode kwok" in WITHOUT_DOCKER
    readme = (REPO / "README.md").read_text()
    assert (
        "bash ci/certify.sh --topology-mode kwok --scenario ip-passthrough --scenario dns-tls --scenario second-remote"
        in readme
    )


def test_the_preflight_cli_refuses_bad_usage_and_passes_existing_mode(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert preflight_main(["--topology-mode", "nope"]) == 4
    assert preflight_main(["--topology-mode", "existing"]) == 0
    assert "passed" in capsys.readouterr().out


@pytest.mark.slow
def test_certify_stops_at_the_preflight_before_any_tool(tmp_path: Path) -> None:
    if any(shutil.which("docker", path=d) for d in ("/usr/bin", "/bin")):
        pytest.skip("a docker client is in /usr/bin or /bin here: this test needs a PATH without one")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",  # no docker, no go: nothing a tool step could use
        "HOME": str(tmp_path),
        "EICP_VENV": sys.prefix,  # the self-tests' own environment (certify.sh reuses it)
        "EICP_TOOLS_DIR": str(tmp_path / "tools"),
        "EICP_REPORT_DIR": str(tmp_path / "report"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        **{
            k: v
            for k, v in os.environ.items()
            if k.startswith(("PIP_", "http", "HTTP", "no_proxy", "NO_PROXY"))
        },
    }
    result = subprocess.run(
        ["bash", str(REPO / "ci" / "certify.sh"), "--scenario", "ip-passthrough"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "==> Host preflight for --topology-mode kind" in output
    assert "==> Tools for" not in output and "==> Conformance run" not in output
    assert "no 'docker' executable on PATH" in output
    assert WITHOUT_DOCKER in output
    assert not (tmp_path / "tools").exists() or not any((tmp_path / "tools").iterdir())


@pytest.mark.slow
def test_certify_plan_on_a_warm_checkout_starts_pytest_within_five_seconds(tmp_path: Path) -> None:
    """``--plan`` touches no cluster and no tool: no preflight, no tools step, and a warm
    environment (ci/python_env.sh's stamp) is not installed again."""
    env = {
        **os.environ,
        "EICP_VENV": sys.prefix,  # the self-tests' own environment (certify.sh reuses it)
        "EICP_REPORT_DIR": str(tmp_path / "report"),
        "EICP_TOOLS_DIR": str(tmp_path / "tools"),
    }
    argv = ["bash", str(REPO / "ci" / "certify.sh"), "--plan", "--scenario", "ip-passthrough"]
    for attempt in ("warm-up", "measured"):
        started = time.monotonic()
        process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        lines, pytest_started = [], None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("==> Conformance run") and pytest_started is None:
                pytest_started = time.monotonic() - started
        assert process.wait(timeout=600) == 0, "".join(lines)
        output = "".join(lines)
        if attempt == "warm-up" and "up to date:" not in output:
            continue  # the first start on this checkout installed the project: now it is warm
        assert "up to date:" in output, output
        assert "==> Host preflight" not in output and "==> Tools for" not in output
        assert "BuildBackendWarning" not in output and "pip install" not in output
        assert pytest_started is not None and pytest_started < 5.0, (pytest_started, output)
        return
