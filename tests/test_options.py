"""Bad input stops the run at configure time, before any work, naming the value and the accepted ones."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from programs.runner import CommandRunner

REPO = Path(__file__).resolve().parent.parent
EXISTING_CONTEXTS = ["--topology-mode", "existing", "--external-context", "a", "--remote-context", "b"]


def run_pytest(runner: CommandRunner, *args: str) -> tuple[int, str]:
    result = runner.run(
        [sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        check=False,
        timeout_s=120,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--istio-version", "9.9.9"],
            "--istio-version: unsupported Istio version 9.9.9: supported releases are 1.29, 1.30, 1.31",
        ),
        (["--istio-version", "1.3x"], "malformed Istio version '1.3x'"),
        (
            ["--scenario", "nope"],
            "--scenario 'nope' is not valid: accepted values are ip-passthrough, dns-tls, sail, second-remote",
        ),
        (
            ["--topology-mode", "minikube"],
            "--topology-mode 'minikube' is not valid: accepted values are kind, existing",
        ),
        (
            ["--topology-mode", "existing"],
            "--topology-mode existing needs --external-context, --remote-context",
        ),
        (
            [
                "--topology-mode",
                "existing",
                "--external-context",
                "a",
                "--remote-context",
                "b",
                "--scenario",
                "second-remote",
            ],
            "--second-context (the second-remote scenario needs it)",
        ),
        (
            [
                "--topology-mode",
                "existing",
                "--external-context",
                "a",
                "--remote-context",
                "a",
                "--scenario",
                "ip-passthrough",
            ],
            "each role needs its own cluster",
        ),
        (
            [
                "--topology-mode",
                "existing",
                "--external-context",
                "a",
                "--remote-context",
                "b",
                "--scenario",
                "ip-passthrough",
                "--reuse-clusters",
            ],
            "--reuse-clusters applies to kind mode only",
        ),
        (
            [*EXISTING_CONTEXTS, "--scenario", "dns-tls"],
            "dns-tls on existing clusters needs --external-hostname",
        ),
        (
            ["--ingress", "nginx"],
            "--ingress 'nginx' is not valid: accepted values are istio, gateway-api, both",
        ),
        (["--cluster-prefix", "Bad_Prefix"], "--cluster-prefix 'Bad_Prefix'"),
        (["--tool-path", "kind"], "--tool-path 'kind': expected NAME=PATH"),
        (
            ["--tool-path", "docker=/bin/sh"],
            "--tool-path tool 'docker' is not valid: accepted values are kind",
        ),
        (["--tool-path", "kind=/nonexistent/kind"], "--tool-path kind=/nonexistent/kind: no such file"),
        (["--upgrade-to", "1.29.6", "--istio-version", "1.30.3"], "--upgrade-to 1.29.6 is not newer"),
        (["--kind-node-image", "not an image"], "--kind-node-image 'not an image' is not an image reference"),
        (
            ["--second-remote-base", "sail"],
            "--second-remote-base 'sail' is not valid: accepted values are ip-passthrough",
        ),
    ],
)
def test_bad_values_stop_before_any_work(runner: CommandRunner, args: list[str], message: str) -> None:
    code, output = run_pytest(runner, *args)
    assert code == pytest.ExitCode.USAGE_ERROR, output
    assert message in output
    assert "Traceback" not in output
    # Nothing ran: no session started, no test collected, no tool resolved.
    assert "test session starts" not in output


def test_help_and_readme_document_every_option(runner: CommandRunner) -> None:
    code, output = run_pytest(runner, "--help")
    assert code == 0
    section = output.split("Istio external control plane conformance:", 1)[1]
    section = re.split(r"\n\S", section, maxsplit=1)[0]  # up to the next option group's header
    options = sorted(set(re.findall(r"^  (--[a-z][a-z-]+)", section, flags=re.MULTILINE)))
    assert len(options) >= 25, options
    assert {"--istio-version", "--scenario", "--topology-mode", "--plan", "--report-dir"} <= set(options)
    readme = (REPO / "README.md").read_text()
    missing = [option for option in options if f"`{option}" not in readme]
    assert not missing, f"options missing from README.md: {missing}"
