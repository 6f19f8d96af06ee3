"""Tool resolution: explicit path -> cache -> verified download -> Go build; errors list every way tried."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
from pathlib import Path

import pytest

from programs import tools as tools_module
from programs.runner import CommandRunner
from programs.tools import ToolUnavailable, env_var_for
from tests.fakeexec import FakeTools
from tests.tools_support import FAKE_KIND, resolver, serve, write_fake_go


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
