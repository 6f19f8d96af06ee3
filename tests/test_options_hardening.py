"""Bad input that got through, or not cleanly: each refused with exit 4, a
message naming the value, and nothing created.

Most cases run ``run.config.build_config`` in-process on options parsed as pytest parses them
(layer 1); a child ``pytest suites`` per family of refusal proves the exit code, the absence
of a traceback and that no directory was created (the report directory, the tools cache, the
runs directory), ``--plan`` included.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from clusters.providers import MODES
from run.config import build_config
from run.config_values import ConfigError
from tests.options_support import option_getter

REPO = Path(__file__).resolve().parent.parent
EXISTING = ("--topology-mode", "existing", "--external-context", "a", "--remote-context", "b")
IP = ("--scenario", "ip-passthrough")
DNS = ("--scenario", "dns-tls")


def refused(tmp_path: Path, *args: str) -> str:
    """The message ``build_config`` refuses ``args`` with (never another exception)."""
    dirs = ("--report-dir", str(tmp_path / "report"), "--tools-dir", str(tmp_path / "tools"))
    with pytest.raises(ConfigError) as error:
        build_config(option_getter(*dirs, *args), modes=MODES)
    assert not (tmp_path / "report").exists() and not (tmp_path / "tools").exists()
    return str(error.value)


def accepted(tmp_path: Path, *args: str) -> None:
    build_config(
        option_getter(
            "--report-dir", str(tmp_path / "report"), "--tools-dir", str(tmp_path / "tools"), *args
        ),
        modes=MODES,
    )


# -- tracebacks that became refusals ---------------------------------------------------------


def test_a_version_with_thousands_of_digits(tmp_path: Path) -> None:
    message = refused(tmp_path, "--istio-version", "1." + "3" * 5000)
    assert "malformed Istio version '1.333" in message and "(5002 characters)" in message


def test_a_report_dir_name_longer_than_the_system_allows(tmp_path: Path) -> None:
    message = refused(tmp_path, "--report-dir", str(tmp_path / ("r" * 300)))
    assert "--report-dir" in message and "longer than this file system allows" in message


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"contexts:\n- name: caf\xe9\n", "is not a kubeconfig"),  # Latin-1, not UTF-8
        (b"contexts: {name: a}\n", "its contexts is a dict, not a list"),
        (b"contexts: a\n", "its contexts is a str, not a list"),
        (b"- a\n- b\n", "its top level is a list"),
        (b"contexts:\n- 3\n", "contexts[0] has no name"),
    ],
    ids=["not-utf8", "contexts-dict", "contexts-string", "top-level-list", "context-without-name"],
)
def test_kubeconfigs_that_are_not_kubeconfigs(tmp_path: Path, content: bytes, problem: str) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_bytes(content)
    message = refused(tmp_path, *EXISTING, *IP, "--kubeconfig", str(kubeconfig))
    assert f"kubeconfig {kubeconfig}" in message and problem in message


# -- messages name the value -----------------------------------------------------------------


def test_istioctl_refusals_name_the_path(tmp_path: Path) -> None:
    plain = tmp_path / "istioctl"
    plain.write_text("#!/bin/sh\n")
    for path, problem in (
        (tmp_path, "is a directory"),
        (tmp_path / "none", "no such file"),
        (plain, "is not executable"),
    ):
        assert f"--istioctl {str(path)!r}: {problem}" in refused(tmp_path, "--istioctl", str(path))


# -- invalid values that were accepted -------------------------------------------------------

INVALID = [
    (("--istio-version", "1.3\uff10"), "malformed Istio version '1.3０'"),  # a fullwidth digit
    (("--istio-version", "1.30\n"), "malformed Istio version '1.30\\n'"),
    (("--upgrade-to", "1.3\u0661", "--istio-version", "1.29"), "malformed Istio version"),  # Arabic-Indic one
    (("--cluster-prefix", "eicp\n"), "--cluster-prefix 'eicp\\n'"),
    (
        ("--kind-node-image", "kindest/node:v1.35.0\n"),
        "--kind-node-image 'kindest/node:v1.35.0\\n' is not an image",
    ),
    (("--istio-hub", "docker.io/istio\n"), "--istio-hub 'docker.io/istio\\n' is not an image registry"),
    (("--istio-tag", "1.30.5\n"), "--istio-tag '1.30.5\\n' is not an image tag"),
    (
        (*EXISTING, *IP, "--remote-cluster-name", "remote1\n"),
        "--remote-cluster-name 'remote1\\n' is not a DNS-1123",
    ),
    (
        (*DNS, "--external-hostname", "istiod.example.com\n"),
        "'istiod.example.com\\n' is not an RFC 1123 host name",
    ),
    (("--kind-node-image", "kindest/../node:v1"), "is not an image reference"),
    (("--kind-node-image", "kindest/nöde:v1"), "is not an image reference"),
    (("--preload-image", "registry.example/../evil:1"), "--preload-image 'registry.example/../evil:1'"),
    (("--preload-image", ""), "--preload-image '' is not an image reference"),
    (("--preload-image", "busybox:1.36\n"), "--preload-image 'busybox:1.36\\n'"),
    ((*EXISTING, *IP, "--remote-api-server", "https://"), "not a host name or an IP address"),
    (
        (*EXISTING, *IP, "--remote-api-server", "https://host:99999"),
        "--remote-api-server 'https://host:99999'",
    ),
    ((*EXISTING, *IP, "--remote-api-server", "https://u:pw@10.0.0.5:6443"), "it holds credentials"),
    ((*EXISTING, *IP, "--remote-api-server", "https://10.0.0.5:6443 x"), "white space"),
    ((*EXISTING, *IP, "--remote-api-server", "https://10.0.0.5:6443?x=1"), "query or a fragment"),
    ((*EXISTING, *IP, "--remote-api-server", "https://bad_host:6443"), "'bad_host' is not a host name"),
    ((*DNS, "--external-hostname", "10.0.0.5"), "'10.0.0.5' is not an RFC 1123 host name"),
    ((*DNS, "--external-hostname", "istiod.exampl\u212a.com"), "is not an RFC 1123 host name"),  # Kelvin sign
    ((*DNS, "--external-hostname", "ístiod.example.com"), "is not an RFC 1123 host name"),
    (
        (*DNS, "--external-hostname", "istiod.example.com", "--external-tls-secret", "Bad_Secret"),
        "--external-tls-secret 'Bad_Secret' is not a Kubernetes Secret name",
    ),
    ((*IP, "--remote-cluster-name", "remote_1"), "--remote-cluster-name 'remote_1' is not a DNS-1123 label"),
    (("--report-dir", ""), "--report-dir '': an empty or blank path"),
    (("--report-dir", "   "), "--report-dir '   ': an empty or blank path"),
    (("--tools-dir", "\t"), "--tools-dir '\\t': an empty or blank path"),
    (("--istioctl", " "), "--istioctl ' ': an empty or blank path"),
    (("--tool-path", "kind= "), "an empty or blank path"),
    (("--image-archive-dir", ""), "--image-archive-dir '': an empty or blank path"),
    ((*EXISTING, *IP, "--kubeconfig", ""), "--kubeconfig '': an empty or blank path"),
    (
        (*EXISTING[:2], "--external-context", " ", "--remote-context", "b", *IP),
        "--external-context ' ': not a context",
    ),
]


@pytest.mark.parametrize(
    ("args", "message"), INVALID, ids=[f"{i}-{a[-1][:20]!r}" for i, (a, _m) in enumerate(INVALID)]
)
def test_invalid_values_are_refused_naming_them(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    assert message in refused(tmp_path, *args)


def test_the_blank_tools_dir_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EICP_TOOLS_DIR", "")
    with pytest.raises(
        ConfigError, match=r"--tools-dir \(from \$EICP_TOOLS_DIR\) '': an empty or blank path"
    ):
        build_config(option_getter("--report-dir", str(tmp_path / "report")), modes=MODES)


@pytest.mark.parametrize(
    "args",
    [
        ("--istio-version", "v1.30"),
        ("--kind-node-image", "kindest/node:v1.35.0@sha256:" + "a" * 64),
        ("--preload-image", "localhost:5000/istio/proxyv2:1.30.5"),
        (*EXISTING, *IP, "--plan", "--remote-api-server", "https://[fd00::5]:6443/k8s/clusters/c-1"),
        (*DNS, "--external-hostname", "istiod.mesh.example.com", "--external-tls-secret", "istiod-gw.cert"),
    ],
)
def test_valid_values_stay_accepted(tmp_path: Path, args: tuple[str, ...]) -> None:
    accepted(tmp_path, *args)


# -- options that do not apply ----------------------------------------------------------------

NOT_APPLYING = [
    (("--plan", "--keep-clusters"), "--keep-clusters does not apply with --plan"),
    (("--plan", "--reuse-clusters"), "--reuse-clusters does not apply with --plan"),
    (("--plan", "--keep-on-failure"), "--keep-on-failure does not apply with --plan"),
    (("--plan", "--preload-image", "busybox:1"), "--preload-image does not apply with --plan"),
    ((*EXISTING, *IP, "--second-context", "c"), "--second-context is for the second remote cluster"),
    (
        (*EXISTING, *IP, "--second-api-server", "https://10.0.0.9:6443"),
        "--second-api-server is for the second",
    ),
    (
        (*EXISTING, *IP, "--kind-node-image", "kindest/node:v1.35.0"),
        "--kind-node-image applies to --topology-mode kind only",
    ),
    ((*EXISTING, *IP, "--cluster-prefix", "eicp"), "--cluster-prefix applies to --topology-mode kind and"),
    ((*IP, "--external-context", "a"), "--external-context applies to --topology-mode existing only"),
    ((*IP, "--kubeconfig", "/etc/hostname"), "--kubeconfig applies to --topology-mode existing only"),
    ((*IP, "--remote-cluster-name", "r1"), "--remote-cluster-name applies to --topology-mode existing only"),
    (
        (*IP, "--external-tls-secret", "istiod-gw-cert"),
        "--external-tls-secret 'istiod-gw-cert' is used by the dns-tls",
    ),
    (
        ("--topology-mode", "kwok", *IP, "--kind-node-image", "kindest/node:v1.35.0"),
        "applies to --topology-mode kind only",
    ),
    (
        ("--topology-mode", "kwok", *IP, "--reuse-clusters"),
        "--reuse-clusters applies to --topology-mode kind only",
    ),
]


@pytest.mark.parametrize(
    ("args", "message"), NOT_APPLYING, ids=[m.split()[0] + f"-{i}" for i, (_a, m) in enumerate(NOT_APPLYING)]
)
def test_options_that_do_not_apply_are_refused(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    assert message in refused(tmp_path, *args)


# -- the whole run: exit 4, no traceback, nothing created ------------------------------------


def _child(tmp_path: Path, *args: str) -> tuple[int, str]:
    """``pytest suites ARGS`` from an empty directory, the caches and runs under tmp_path."""
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("EICP_", "PYTEST_"))}
    env.update({"HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "cache"), "KUBECONFIG": ""})
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(REPO / "suites"), "--rootdir", str(REPO), "-c", str(REPO / "pyproject.toml"),
         "-p", "no:cacheprovider", "-p", "no:benchmark", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr


def _created(tmp_path: Path) -> list[str]:
    return sorted(
        str(path.relative_to(tmp_path))
        for path in tmp_path.rglob("*")
        if path.is_dir() and path.name != "cwd"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ("--upgrade-min-success-ratio", "1.5"),
        ("--tool-path", "kind=/nonexistent/kind"),
        (*EXISTING, *IP, "--kubeconfig", "/nonexistent/kubeconfig"),
        (*EXISTING, *IP),  # KUBECONFIG empty, no ~/.kube/config: no context to be found
        ("--external-context", "a", *IP),
        ("--istio-version", "1." + "3" * 5000),
        ("--report-dir", "r" * 300),
    ],
    ids=["ratio", "tool-path", "kubeconfig", "contexts", "not-applying", "huge-version", "long-report-dir"],
)
def test_a_refused_run_exits_4_and_creates_nothing(tmp_path: Path, args: tuple[str, ...]) -> None:
    code, output = _child(tmp_path, *args)
    assert code == pytest.ExitCode.USAGE_ERROR, output[-3000:]
    assert "Traceback" not in output and "test session starts" not in output
    assert _created(tmp_path) == [], output[-2000:]


@pytest.mark.slow
def test_plan_touches_nothing(tmp_path: Path) -> None:
    code, output = _child(tmp_path, "--plan", *IP, "--istio-version", "1.30")
    assert code == 0, output[-3000:]
    assert "# Istio 1.30" in output
    assert _created(tmp_path) == []
