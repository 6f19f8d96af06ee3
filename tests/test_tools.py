"""Tool resolution: explicit path -> cache -> verified download -> Go build; errors list every way tried."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
from pathlib import Path
from typing import Any

import pytest

from programs import downloads as downloads_module
from programs import gobuild
from programs import tools as tools_module
from programs.runner import CommandRunner
from programs.tools import ToolResolver, ToolUnavailable, env_var_for
from scenarios.releases import load_pins
from tests.fakeexec import FakeTools

FAKE_KIND = "#!/bin/sh\necho 'kind v0.33.0 go1.26 linux/amd64'\n"


def spec(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "version": "v0.33.0",
        "go_module": "sigs.k8s.io/kind",
        "go_package": ".",
        "go_version_ldflags": {"main.version": "{version}"},
        "download_url": "https://example.invalid/kind/{version}/kind-linux-{arch}",
        "checksum_url": "https://example.invalid/kind/{version}/kind-linux-{arch}.sha256sum",
        "version_args": ["version"],
        "version_pattern": "kind (v[0-9.]+)",
    }
    base.update(overrides)
    return base


def resolver(tmp_path: Path, runner: CommandRunner, **kwargs: Any) -> ToolResolver:
    return ToolResolver.from_pins(
        {"kind": spec(**kwargs.pop("spec", {}))}, tmp_path / "cache", runner, **kwargs
    )


def serve(monkeypatch: pytest.MonkeyPatch, files: dict[str, bytes]) -> list[str]:
    """Replace the HTTPS download with a lookup in ``files``; unknown URLs fail like no network."""
    fetched: list[str] = []

    def download(url: str, destination: Path) -> None:
        fetched.append(url)
        if url not in files:
            raise OSError(f"[Errno -2] Name or service not known: {url}")
        destination.write_bytes(files[url])

    monkeypatch.setattr(downloads_module, "download_file", download)
    return fetched


def write_fake_go(fake_tools: FakeTools, tmp_path: Path, binary: str = FAKE_KIND) -> Path:
    module_dir = tmp_path / "modcache" / "kind@v0.33.0"
    module_dir.mkdir(parents=True)
    go = fake_tools.install("go")
    go.on(r"^mod download -json sigs.k8s.io/kind@v0.33.0$", stdout=json.dumps({"Dir": str(module_dir)}))
    # `go build ... -o <target>` writes the binary the way the real one would.
    go.on(r"^build .* -o (\S+) \.$", write_file=(r"\1", binary))
    return module_dir


def test_explicit_path_wins_and_is_version_checked(tmp_path: Path, runner: CommandRunner) -> None:
    binary = tmp_path / "my-kind"
    binary.write_text(FAKE_KIND)
    binary.chmod(0o755)
    tool = resolver(tmp_path, runner, explicit={"kind": binary}).resolve("kind")
    assert tool.path == binary and tool.source == "explicit"


def test_explicit_path_from_environment(
    tmp_path: Path, runner: CommandRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = tmp_path / "env-kind"
    binary.write_text(FAKE_KIND)
    binary.chmod(0o755)
    monkeypatch.setenv(env_var_for("kind"), str(binary))
    assert env_var_for("kind") == "EICP_KIND_BIN"
    assert resolver(tmp_path, runner).resolve("kind").path == binary


def test_broken_explicit_path_fails_instead_of_falling_back(tmp_path: Path, runner: CommandRunner) -> None:
    with pytest.raises(ToolUnavailable, match=r"explicit /nope/kind: .*could not start"):
        resolver(tmp_path, runner, explicit={"kind": Path("/nope/kind")}).resolve("kind")


def test_download_is_verified_and_cached(
    tmp_path: Path, runner: CommandRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = FAKE_KIND.encode()
    digest = hashlib.sha256(body).hexdigest()
    fetched = serve(
        monkeypatch,
        {
            "https://example.invalid/kind/v0.33.0/kind-linux-amd64": body,
            "https://example.invalid/kind/v0.33.0/kind-linux-amd64.sha256sum": f"{digest}  kind-linux-amd64\n".encode(),
        },
    )
    monkeypatch.setattr(tools_module, "host_arch", lambda: "amd64")
    tool = resolver(tmp_path, runner).resolve("kind")
    assert tool.source == "download"
    assert tool.path == tmp_path / "cache" / "kind" / "v0.33.0" / "kind"
    # A second resolver (another xdist worker) finds it in the cache without fetching.
    fetched.clear()
    again = resolver(tmp_path, runner).resolve("kind")
    assert again.source == "cache" and fetched == []


def test_checksum_mismatch_is_refused(
    tmp_path: Path, runner: CommandRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tools_module, "host_arch", lambda: "amd64")
    serve(
        monkeypatch,
        {
            "https://example.invalid/kind/v0.33.0/kind-linux-amd64": FAKE_KIND.encode(),
            "https://example.invalid/kind/v0.33.0/kind-linux-amd64.sha256sum": b"0" * 64
            + b"  kind-linux-amd64\n",
        },
    )
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolUnavailable) as raised:
        resolver(tmp_path, runner).resolve("kind")
    assert "SHA-256 mismatch" in str(raised.value)
    assert not (tmp_path / "cache" / "kind" / "v0.33.0" / "kind").exists()


def test_archive_member_is_extracted(
    tmp_path: Path, runner: CommandRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tools_module, "host_arch", lambda: "amd64")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = FAKE_KIND.encode()
        info = tarfile.TarInfo("linux-amd64/kind")
        info.size, info.mode = len(data), 0o755
        archive.addfile(info, io.BytesIO(data))
    body = buffer.getvalue()
    serve(
        monkeypatch,
        {
            "https://example.invalid/kind.tgz": body,
            "https://example.invalid/sums": f"{hashlib.sha256(body).hexdigest()}  kind.tgz\n".encode(),
        },
    )
    tool = resolver(
        tmp_path,
        runner,
        spec={
            "download_url": "https://example.invalid/kind.tgz",
            "checksum_url": "https://example.invalid/sums",
            "archive_member": "linux-{arch}/kind",
        },
    ).resolve("kind")
    assert tool.source == "download" and tool.path.read_text() == FAKE_KIND


def test_a_download_must_match_the_pinned_sha256_too(
    tmp_path: Path, runner: CommandRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The published checksum file agrees with the artifact, but versions.yaml pins another
    SHA-256 (python -m programs.pins wrote it): the binary is refused."""
    body = FAKE_KIND.encode()
    digest = hashlib.sha256(body).hexdigest()
    serve(
        monkeypatch,
        {
            "https://example.invalid/kind/v0.33.0/kind-linux-amd64": body,
            "https://example.invalid/kind/v0.33.0/kind-linux-amd64.sha256sum": f"{digest}  kind-linux-amd64\n".encode(),
        },
    )
    monkeypatch.setattr(tools_module, "host_arch", lambda: "amd64")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolUnavailable) as raised:
        resolver(tmp_path, runner, spec={"sha256": {"linux-amd64": "f" * 64}}).resolve("kind")
    assert f"SHA-256 {digest} is not the one versions.yaml pins" in str(raised.value)
    assert (
        resolver(tmp_path, runner, spec={"sha256": {"linux-amd64": digest}}).resolve("kind").source
        == "download"
    )


def test_a_go_build_needs_the_pinned_module_hash(
    tmp_path: Path, runner: CommandRunner, fake_tools: FakeTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(monkeypatch, {})
    module_dir = tmp_path / "modcache" / "kind@v0.33.0"
    module_dir.mkdir(parents=True)
    go = fake_tools.install("go")
    listing = {"Dir": str(module_dir), "Sum": "h1:the-module-hash="}
    go.on(r"^mod download -json sigs.k8s.io/kind@v0.33.0$", stdout=json.dumps(listing))
    go.on(r"^build .* -o (\S+) \.$", write_file=(r"\1", FAKE_KIND))
    monkeypatch.setenv("PATH", f"{fake_tools.bin_dir}")
    with pytest.raises(ToolUnavailable) as raised:
        resolver(tmp_path, runner, spec={"go_sum": "h1:another-hash="}).resolve("kind")
    assert "module hash h1:the-module-hash=, not the h1:another-hash= versions.yaml pins" in str(raised.value)
    assert [call.args[0] for call in fake_tools.calls("go")] == ["mod"]  # nothing was built
    tool = resolver(tmp_path, runner, spec={"go_sum": "h1:the-module-hash="}).resolve("kind")
    assert tool.source == "go build"


def test_go_build_fallback_stamps_the_version(
    tmp_path: Path, runner: CommandRunner, fake_tools: FakeTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(monkeypatch, {})
    module_dir = write_fake_go(fake_tools, tmp_path)
    tool = resolver(tmp_path, runner).resolve("kind")
    assert tool.source == "go build"
    download, build = fake_tools.calls("go")
    assert download.args == ("mod", "download", "-json", "sigs.k8s.io/kind@v0.33.0")
    assert build.cwd == str(module_dir)
    assert build.args[:4] == ("build", "-trimpath", "-ldflags", "-s -w -X main.version=v0.33.0")
    assert build.env["CGO_ENABLED"] == "0"


def test_go_revision_builds_another_module_version_under_the_wanted_name(
    tmp_path: Path, runner: CommandRunner, fake_tools: FakeTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(monkeypatch, {})
    go = fake_tools.install("go")
    go.on(r"^mod download -json sigs.k8s.io/kind@v0.0.0-2026-abc$", stdout=json.dumps({"Dir": str(tmp_path)}))
    go.on(r"^build .* -o (\S+) \.$", write_file=(r"\1", "#!/bin/sh\necho 'kind v9.9.10'\n"))
    tool = resolver(tmp_path, runner).resolve("kind", "v9.9.10", go_revision="v0.0.0-2026-abc")
    assert tool.version == "v9.9.10" and "v9.9.10" in str(tool.path)


def test_wrong_version_in_cache_is_not_used(
    tmp_path: Path, runner: CommandRunner, fake_tools: FakeTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = tmp_path / "cache" / "kind" / "v0.33.0" / "kind"
    cached.parent.mkdir(parents=True)
    cached.write_text("#!/bin/sh\necho 'kind v0.20.0'\n")
    cached.chmod(0o755)
    serve(monkeypatch, {})
    write_fake_go(fake_tools, tmp_path)
    tool = resolver(tmp_path, runner).resolve("kind")
    assert tool.source == "go build" and "v0.33.0" in tool.version_output


def test_every_way_tried_is_listed_when_nothing_works(
    tmp_path: Path, runner: CommandRunner, fake_tools: FakeTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(monkeypatch, {})
    fake_tools.install("go").on(
        "mod download",
        exit=1,
        stdout=json.dumps({"Error": "reading https://proxy.golang.org/...: 403 Forbidden"}),
    )
    with pytest.raises(ToolUnavailable) as raised:
        resolver(tmp_path, runner).resolve("kind")
    message = str(raised.value)
    assert "kind v0.33.0 could not be had; tried:" in message
    assert "- cache:" in message and "does not exist" in message
    assert "- download https://example.invalid/kind/v0.33.0/kind-linux-" in message
    assert "Name or service not known" in message
    assert (
        "- go build sigs.k8s.io/kind@v0.33.0: reading https://proxy.golang.org/...: 403 Forbidden" in message
    )
    assert "--tool-path kind=" in message and "EICP_KIND_BIN" in message


def test_no_go_toolchain_is_named(
    tmp_path: Path, runner: CommandRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(monkeypatch, {})
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ToolUnavailable, match=r"go build sigs.k8s.io/kind@v0.33.0: 'go' is not on PATH"):
        resolver(tmp_path, runner).resolve("kind")


def test_concurrent_resolvers_build_once(
    tmp_path: Path, runner: CommandRunner, fake_tools: FakeTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(monkeypatch, {})
    write_fake_go(fake_tools, tmp_path)
    results: list[str] = []

    def resolve() -> None:
        results.append(resolver(tmp_path, runner).resolve("kind").source)

    threads = [threading.Thread(target=resolve) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["cache", "cache", "go build"]
    assert [call.args[0] for call in fake_tools.calls("go")].count("build") == 1


def test_unknown_tool_is_named(tmp_path: Path, runner: CommandRunner) -> None:
    with pytest.raises(ToolUnavailable, match="no entry for 'helmfile'"):
        resolver(tmp_path, runner).resolve("helmfile")


def test_listener_hears_every_resolved_tool_once(tmp_path: Path, runner: CommandRunner) -> None:
    binary = tmp_path / "my-kind"
    binary.write_text(FAKE_KIND)
    binary.chmod(0o755)
    heard: list[tuple[str, str, str]] = []
    tools = resolver(tmp_path, runner, explicit={"kind": binary})
    tools.on_resolved = lambda tool: heard.append((tool.name, tool.version, tool.source))
    tools.resolve("kind")
    tools.resolve("kind")  # memoised: not heard again
    assert heard == [("kind", "v0.33.0", "explicit")]


# -- Go builds through a generated wrapper module (programs/gobuild.py) ----------------------

# The replace block of k8s.io/kubernetes v1.35.4's go.mod (first lines, as published), and
# etcd server v3.6.16's (sibling directories, absent from its module zip).
KUBERNETES_GO_MOD_REPLACES = """require (
\tk8s.io/api v0.0.0
\tk8s.io/apiextensions-apiserver v0.0.0
\tk8s.io/apimachinery v0.0.0 // indirect
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/apiextensions-apiserver => ./staging/src/k8s.io/apiextensions-apiserver
\tk8s.io/apimachinery => ./staging/src/k8s.io/apimachinery
\tk8s.io/sample-cli-plugin => ./staging/src/k8s.io/sample-cli-plugin
)
"""
ETCD_GO_MOD_REPLACES = """replace (
\tgo.etcd.io/etcd/api/v3 => ../api
)

replace go.etcd.io/etcd => ./FORBIDDEN_DEPENDENCY
replace github.com/x/y v1.0.0 => github.com/x/y v1.0.1
"""


def test_local_replaces_are_the_modules_replaced_by_directories() -> None:
    assert gobuild.local_replaces(KUBERNETES_GO_MOD_REPLACES) == [
        "k8s.io/api",
        "k8s.io/apiextensions-apiserver",
        "k8s.io/apimachinery",
        "k8s.io/sample-cli-plugin",
    ]
    # k8s.io/kubernetes v1.35.8 replaces sample-cli-plugin without requiring it, and the module
    # proxy serves no v0.35.8 of it: pinning it would fail a build that never needs it.
    assert gobuild.pinned_local_replaces(KUBERNETES_GO_MOD_REPLACES, "v0.35.8") == {
        "k8s.io/api": "v0.35.8",
        "k8s.io/apiextensions-apiserver": "v0.35.8",
        "k8s.io/apimachinery": "v0.35.8",
    }
    assert gobuild.local_replaces(ETCD_GO_MOD_REPLACES) == ["go.etcd.io/etcd/api/v3", "go.etcd.io/etcd"]


def test_wrapper_module_requires_and_replaces_every_pinned_module() -> None:
    text = gobuild.wrapper_go_mod("k8s.io/kubernetes", "v1.35.4", {"k8s.io/api": "v0.35.4"})
    assert text.startswith("module eicp.local/gowrap\n\ngo 1.25\n\nrequire k8s.io/kubernetes v1.35.4\n")
    assert "\tk8s.io/api v0.35.4\n" in text and "\tk8s.io/api => k8s.io/api v0.35.4\n" in text
    assert gobuild.wrapper_tools_go("k8s.io/kubernetes/cmd/kubectl").endswith(
        'import _ "k8s.io/kubernetes/cmd/kubectl"\n'
    )


def test_version_templates_know_major_minor_patch() -> None:
    assert tools_module.expand_template("v0.{minor}.{patch}", "v1.35.4") == "v0.35.4"
    assert tools_module.expand_template("{major}.{minor}", "v1.35.4") == "1.35"
    assert tools_module.expand_template("{minor}", "1.31-dev+abc") == ""
    assert tools_module.expand_template("{module_time}", "v1.35.4") == "{module_time}"


def test_wrapper_build_tidies_a_generated_module_and_stamps_the_version(
    tmp_path: Path, runner: CommandRunner, fake_tools: FakeTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(monkeypatch, {})
    go_mod = tmp_path / "kubernetes.mod"
    go_mod.write_text(KUBERNETES_GO_MOD_REPLACES)
    info = tmp_path / "kubernetes.info"
    info.write_text('{"Version":"v1.35.4","Time":"2026-04-15T18:01:22Z"}')
    go = fake_tools.install("go")
    go.on(
        r"^mod download -json k8s.io/kubernetes@v1.35.4$",
        stdout=json.dumps({"Dir": str(tmp_path), "GoMod": str(go_mod), "Info": str(info)}),
    )
    go.on(r"^mod tidy$")
    go.on(
        r"^build .* -o (\S+) k8s.io/kubernetes/cmd/kubectl$",
        write_file=(r"\1", "#!/bin/sh\necho 'Client Version: v1.35.4'\n"),
    )
    pins = {
        "kubectl": {
            "version": "v1.35.4",
            "go_module": "k8s.io/kubernetes",
            "go_build": "wrapper",
            "go_package": "k8s.io/kubernetes/cmd/kubectl",
            "go_wrapper_pin_local_replaces": "v0.{minor}.{patch}",
            "go_version_ldflags": {
                "k8s.io/client-go/pkg/version.gitVersion": "{version}",
                "k8s.io/component-base/version.gitMinor": "{minor}",
                "k8s.io/component-base/version.buildDate": "{module_time}",
            },
            "version_args": ["version", "--client"],
            "version_pattern": "Client Version: (v[0-9.]+)",
        }
    }
    tool = ToolResolver.from_pins(pins, tmp_path / "cache", runner).resolve("kubectl")
    assert tool.source == "go build" and tool.path == tmp_path / "cache" / "kubectl" / "v1.35.4" / "kubectl"
    _, tidy, build = fake_tools.calls("go")
    # The wrapper lives in a temporary directory of the tools cache, gone after the build.
    assert Path(tidy.cwd).parent == tmp_path / "cache" and not Path(tidy.cwd).exists()
    assert build.cwd == tidy.cwd
    assert build.args[3] == (
        "-s -w -X k8s.io/client-go/pkg/version.gitVersion=v1.35.4 "
        "-X k8s.io/component-base/version.gitMinor=35 "
        "-X k8s.io/component-base/version.buildDate=2026-04-15T18:01:22Z"
    )
    assert build.env["CGO_ENABLED"] == "0"


def test_kwok_tier_pins_are_one_kubernetes_release() -> None:
    tools = load_pins().tools
    kube = {
        tools[name]["version"]
        for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
    }
    assert len(kube) == 1
    (version,) = kube
    assert tools["kwok"]["go_version_ldflags"]["sigs.k8s.io/kwok/pkg/consts.KubeVersion"] == version
    assert tools["kwokctl"]["go_version_ldflags"] == tools["kwok"]["go_version_ldflags"]
    # The Kubernetes minor lies inside every supported Istio release's range.
    major, minor_number = (int(part) for part in version.removeprefix("v").split(".")[:2])
    minor = (major, minor_number)
    pins = load_pins()
    for release in pins.supported:
        assert pins.profiles[release].kubernetes.allows(minor), release
    # pilot-discovery is built from the same Istio module (and ldflags) as istioctl.
    assert tools["pilot-discovery"]["go_module"] == tools["istioctl"]["go_module"]
    assert tools["pilot-discovery"]["go_version_ldflags"] == tools["istioctl"]["go_version_ldflags"]
