"""Bad input stops the run at configure time, before any work, naming the value and the accepted ones."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from programs.runner import CommandRunner

REPO = Path(__file__).resolve().parent.parent
EXISTING_CONTEXTS = ["--topology-mode", "existing", "--external-context", "a", "--remote-context", "b"]


def run_pytest(runner: CommandRunner, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.run(
        [sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        check=False,
        timeout_s=120,
        env=env,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--istio-version", "9.9.9"],
            "--istio-version: unsupported Istio version 9.9.9: supported releases are 1.30, 1.31 (candidates: 1.32) (past their end of life, on request: 1.29)",
        ),
        (["--istio-version", "1.3x"], "malformed Istio version '1.3x'"),
        (
            ["--scenario", "nope"],
            "--scenario 'nope' is not valid: accepted values are ip-passthrough, dns-tls, sail, second-remote",
        ),
        (["--timeout", "kind.creat=9"], "--timeout 'kind.creat=9': unknown deadline 'kind.creat'"),
        (["--timeout", "step.rollout=-1"], "--timeout step.rollout=-1: must be a positive, finite number"),
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
            "--reuse-clusters applies to --topology-mode kind only",
        ),
        (
            [*EXISTING_CONTEXTS, "--scenario", "dns-tls"],
            "dns-tls on existing clusters needs --external-hostname",
        ),
        (
            [
                "--topology-mode",
                "kwok",
                "--scenario",
                "dns-tls",
                "--external-hostname",
                "istiod.example.com",
                "--external-tls-secret",
                "mine",
            ],
            "--external-tls-secret 'mine' in kwok mode needs --external-tls-secret-file FILE",
        ),
        (
            ["--ingress", "nginx"],
            "--ingress 'nginx' is not valid: accepted values are istio, gateway-api, both",
        ),
        (
            ["--egress-gateway", "istioctl"],
            "--egress-gateway 'istioctl' is not valid: accepted values are none, helm",
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
        (
            ["--workaround", "nope"],
            "--workaround 'nope' is not valid: accepted values are unlabelled-config-secret",
        ),
        (
            ["--guide-revision", "latest"],
            "--guide-revision 'latest' is not valid: accepted values are 001, istio.io-6129086",
        ),
        (
            # The older procedure's revision: no supported release offers it.
            ["--guide-revision", "000"],
            "--guide-revision '000' is not valid: accepted values are 001, istio.io-6129086",
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


# -- every bad input refused before any work, exit code 4, no traceback --------------


def assert_refused(code: int, output: str, *named: str) -> None:
    assert code == pytest.ExitCode.USAGE_ERROR, output
    for text in named:
        assert text in output, output
    assert "Traceback" not in output
    assert "test session starts" not in output


def test_report_and_tools_dirs_that_are_files_or_cannot_be_made(
    runner: CommandRunner, tmp_path: Path
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    code, output = run_pytest(runner, "--report-dir", str(a_file))
    assert_refused(code, output, f"--report-dir {a_file}: {a_file} is a file, not a directory")
    code, output = run_pytest(runner, "--tools-dir", str(a_file / "below"))
    assert_refused(code, output, f"--tools-dir {a_file / 'below'}: {a_file} is a file")
    code, output = run_pytest(runner, "--report-dir", "/sys/eicp-cannot-be-made")
    assert_refused(code, output, "--report-dir /sys/eicp-cannot-be-made: cannot be created")
    code, output = run_pytest(runner, "--tools-dir", "/sys/eicp-cannot-be-made")
    assert_refused(code, output, "--tools-dir /sys/eicp-cannot-be-made: cannot be created")


@pytest.mark.parametrize(
    "hostname",
    ["https://istiod.example.com", "istiod.example.com:443", "has space.example", "under_score.example"],
)
def test_external_hostname_must_be_an_rfc1123_host_name(runner: CommandRunner, hostname: str) -> None:
    code, output = run_pytest(runner, "--scenario", "dns-tls", "--external-hostname", hostname)
    assert_refused(code, output, f"--external-hostname {hostname!r} is not an RFC 1123 host name")


def test_external_hostname_for_a_scenario_that_does_not_use_it(runner: CommandRunner) -> None:
    code, output = run_pytest(
        runner, "--scenario", "ip-passthrough", "--external-hostname", "istiod.example.com"
    )
    assert_refused(
        code, output, "--external-hostname 'istiod.example.com' is used by the dns-tls scenario only"
    )


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--istio-hub", "gcr.io/istio release", "is not an image registry reference"),
        ("--istio-hub", "docker.io/istio:1.30.3", "is not an image registry reference"),
        ("--istio-tag", "bad tag!", "is not an image tag"),
        ("--istio-tag", "-leading-dash", "is not an image tag"),
    ],
)
def test_image_references(runner: CommandRunner, flag: str, value: str, message: str) -> None:
    code, output = run_pytest(runner, f"{flag}={value}")  # "=": values may start with "-"
    assert_refused(code, output, f"{flag} {value!r} {message}")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0"])
def test_diagnostics_timeout_must_be_finite_and_positive(runner: CommandRunner, value: str) -> None:
    code, output = run_pytest(runner, f"--diagnostics-timeout={value}")
    assert_refused(
        code, output, f"--diagnostics-timeout {float(value)}", "positive, finite number of seconds"
    )


def test_tool_path_must_be_an_executable_file(runner: CommandRunner, tmp_path: Path) -> None:
    code, output = run_pytest(runner, "--tool-path", f"kind={tmp_path}")
    assert_refused(code, output, f"--tool-path kind={tmp_path}: is a directory")
    plain = tmp_path / "kind"
    plain.write_text("#!/bin/sh\n")
    plain.chmod(0o644)
    code, output = run_pytest(runner, "--tool-path", f"kind={plain}")
    assert_refused(code, output, f"--tool-path kind={plain}: is not executable")


def test_workers_without_loadgroup_are_refused(runner: CommandRunner) -> None:
    code, output = run_pytest(runner, "-n", "2", "--dist", "load")
    assert_refused(code, output, "--dist 'load' with -n", "accepted: --dist loadgroup")


def test_workers_alone_get_loadgroup() -> None:
    from types import SimpleNamespace

    from fixtures.options import one_scenario_per_worker

    option = SimpleNamespace(numprocesses=2, dist="load")  # what xdist makes of a bare -n 2
    config = SimpleNamespace(
        option=option,
        pluginmanager=SimpleNamespace(hasplugin=lambda name: name == "xdist"),
        invocation_params=SimpleNamespace(args=("suites", "-n", "2")),
        getoption=lambda name, default=None: getattr(option, name, default),
    )
    one_scenario_per_worker(config)  # type: ignore[arg-type]
    assert option.dist == "loadgroup"


def test_cluster_prefix_must_not_end_with_a_dash(runner: CommandRunner) -> None:
    code, output = run_pytest(runner, "--cluster-prefix", "eicp-")
    assert_refused(code, output, "--cluster-prefix 'eicp-'", "not ending with '-'")


def test_existing_kubeconfig_from_the_environment_must_exist(runner: CommandRunner, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-kubeconfig"
    code, output = run_pytest(
        runner, *EXISTING_CONTEXTS, "--scenario", "ip-passthrough", env={"KUBECONFIG": str(missing)}
    )
    assert_refused(code, output, f"$KUBECONFIG ({missing}) does not exist")
    assert "contexts there: none" not in output


def test_every_bad_context_is_named_at_once(runner: CommandRunner, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\ncontexts:\n- name: prod-east\n- name: prod-west\n")
    code, output = run_pytest(
        runner, *EXISTING_CONTEXTS, "--scenario", "ip-passthrough", "--kubeconfig", str(kubeconfig)
    )
    assert_refused(
        code,
        output,
        f"--external-context 'a', --remote-context 'b' are not contexts in {kubeconfig}",
        "contexts there: prod-east, prod-west",
    )


def test_keep_on_failure_is_refused_on_existing_clusters(runner: CommandRunner) -> None:
    code, output = run_pytest(runner, *EXISTING_CONTEXTS, "--scenario", "ip-passthrough", "--keep-on-failure")
    assert_refused(
        code,
        output,
        "--keep-on-failure applies to --topology-mode kind and --topology-mode kwok only",
        "neither creates nor deletes",
    )


@pytest.mark.parametrize("name", ["Prod_East", "-east", "a" * 64])
def test_cluster_names_must_be_dns1123_labels(runner: CommandRunner, name: str) -> None:
    code, output = run_pytest(
        runner, *EXISTING_CONTEXTS, "--scenario", "ip-passthrough", f"--remote-cluster-name={name}"
    )
    assert_refused(code, output, f"--remote-cluster-name {name!r} is not a DNS-1123 label")


def test_certify_passes_the_tool_options_to_its_tools_step(tmp_path: Path) -> None:
    """ci/certify.sh gives its tools step --tool-path, --tools-dir and --no-download, and only
    the tools of the run's mode; a fake venv python records every call."""
    import subprocess

    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    calls = tmp_path / "calls"
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {calls}\n')
    python.chmod(0o755)
    args = [
        "--topology-mode",
        "existing",
        "--tool-path",
        "kubectl=/opt/kubectl",
        "--tools-dir=/opt/tools",
        "--no-download",
        "--external-context",
        "a",
    ]
    result = subprocess.run(
        ["bash", str(REPO / "ci" / "certify.sh"), *args],
        env={"PATH": "/usr/bin:/bin", "EICP_VENV": str(venv), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = calls.read_text().splitlines()
    tools_step = next(line for line in lines if "programs.tools_cli" in line)
    assert tools_step == (
        "-m programs.tools_cli --tool-path kubectl=/opt/kubectl --tools-dir=/opt/tools --no-download kubectl helm"
    )
    assert "kind" not in tools_step  # existing mode needs no kind and no cloud-provider-kind
    pytest_step = next(line for line in lines if line.startswith("-m pytest"))
    assert " ".join(args) in pytest_step  # the run itself gets every option unchanged


def test_guide_revision_selects_the_procedure_of_every_release(runner: CommandRunner) -> None:
    """--guide-revision 001 plans seed 001's procedure for a release that follows today's page
    by default, and the plan names the revision in every step."""
    code, output = run_pytest(
        runner, "--plan", "--scenario", "ip-passthrough", "--istio-version", "1.31", "--guide-revision", "001"
    )
    assert code == 0, output
    assert "remote-config-cluster (manifest-generate-apply) -- seed 001 §" in output
    assert "istio.io-6129086" not in output
    code, output = run_pytest(runner, "--plan", "--scenario", "ip-passthrough", "--istio-version", "1.31")
    assert code == 0, output
    assert "remote-config-cluster (istioctl-install) -- seed istio.io-6129086 §" in output
