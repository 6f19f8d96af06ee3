"""samples/ of the release under test: cache, verified archive, Go module fallback."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from install.samples import SamplesProvider, SamplesUnavailable
from programs.runner import CommandRunner
from programs.tools import expand_template
from scenarios.releases import load_pins
from tests.fakeexec import FakeTools
from tests.upstream import ISTIO_MODULE, module_dir_or_reason

ARCHIVE_SPEC = load_pins().tools["istio-release-archive"]
OFFLINE_REVISION = load_pins().tier_source()


def samples_tree(root: Path) -> Path:
    for name, text in {
        "helloworld/helloworld.yaml": "kind: Service\n",
        "multicluster/gen-eastwest-gateway.sh": "#!/bin/bash\necho hi\n",
        "curl/curl.yaml": "kind: Deployment\n",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def release_archive(tmp_path: Path, version: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(samples_tree(tmp_path / "src" / "samples"), arcname=f"istio-{version}/samples")
        extra = tmp_path / "src" / "bin-istioctl"
        extra.write_text("binary")
        tar.add(extra, arcname=f"istio-{version}/bin/istioctl")
    return buffer.getvalue()


def fake_downloads(monkeypatch: pytest.MonkeyPatch, payloads: dict[str, bytes]) -> list[str]:
    fetched: list[str] = []

    def download(url: str, destination: Path) -> None:
        fetched.append(url)
        destination.write_bytes(payloads[url])

    monkeypatch.setattr("programs.downloads.download_file", download)
    return fetched


def provider(tmp_path: Path, runner: CommandRunner, **kwargs: object) -> SamplesProvider:
    return SamplesProvider(cache_dir=tmp_path / "tools", runner=runner, archive=ARCHIVE_SPEC, **kwargs)  # type: ignore[arg-type]


def urls(version: str) -> tuple[str, str]:
    url = ARCHIVE_SPEC["download_url"].format(version=version, arch=expand_template("{arch}", version))
    return url, ARCHIVE_SPEC["checksum_url"].format(version=version, arch=expand_template("{arch}", version))


def test_the_archive_is_verified_extracted_and_cached(
    tmp_path: Path, runner: CommandRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = release_archive(tmp_path, "1.30.3")
    url, checksum_url = urls("1.30.3")
    digest = hashlib.sha256(archive).hexdigest()
    fetched = fake_downloads(
        monkeypatch, {url: archive, checksum_url: f"{digest}  {url.rsplit('/', 1)[1]}\n".encode()}
    )
    found = provider(tmp_path, runner).samples_dir("1.30.3")
    assert (found / "helloworld/helloworld.yaml").read_text() == "kind: Service\n"
    assert not (found.parent / "bin").exists()  # only samples/ is kept
    assert "sha256:" + digest in (found.parent / ".complete").read_text()
    again = provider(tmp_path, runner).samples_dir("1.30.3")
    assert again == found and fetched == [url, checksum_url]  # the second call used the cache


def test_a_checksum_mismatch_is_refused_and_reported(
    tmp_path: Path, runner: CommandRunner, monkeypatch: pytest.MonkeyPatch, fake_tools: FakeTools
) -> None:
    archive = release_archive(tmp_path, "1.30.3")
    url, checksum_url = urls("1.30.3")
    fake_downloads(monkeypatch, {url: archive, checksum_url: ("0" * 64 + "  x.tar.gz\n").encode()})
    with pytest.raises(SamplesUnavailable, match="SHA-256 mismatch") as failure:
        provider(tmp_path, runner, go_binary="no-such-go").samples_dir("1.30.3")
    assert "'no-such-go' is not on PATH" in str(failure.value)
    assert not (tmp_path / "tools/istio-samples/1.30.3").exists()


def test_the_go_module_is_the_fallback(tmp_path: Path, runner: CommandRunner, fake_tools: FakeTools) -> None:
    module = tmp_path / "mod" / "istio.io" / "istio@v1.30.3"
    samples_tree(module / "samples")
    module.chmod(0o555)
    go = fake_tools.install("go")
    go.on(
        r"^mod download -json istio.io/istio@1.30.3$",
        stdout=json.dumps({"Dir": str(module), "Version": "v1"}),
    )
    found = provider(tmp_path, runner, allow_download=False, go_binary="go").samples_dir("1.30.3")
    assert (found / "multicluster/gen-eastwest-gateway.sh").is_file()
    assert "go module istio.io/istio@v1" in (found.parent / ".complete").read_text()
    assert go and fake_tools.calls("go")[0].env.get("GOFLAGS") == "-mod=mod"
    module.chmod(0o755)


def test_a_tree_without_the_samples_the_scenarios_read_is_refused(
    tmp_path: Path, runner: CommandRunner, fake_tools: FakeTools
) -> None:
    module = tmp_path / "mod"
    (module / "samples").mkdir(parents=True)
    fake_tools.install("go").on(r"mod download", stdout=json.dumps({"Dir": str(module)}))
    with pytest.raises(SamplesUnavailable, match="not an Istio samples/ tree"):
        provider(tmp_path, runner, allow_download=False).samples_dir("1.30.3")


@pytest.mark.realtools
def test_offline_from_the_cached_istio_module(
    tmp_path: Path, runner: CommandRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = module_dir_or_reason(ISTIO_MODULE, OFFLINE_REVISION)  # fetched first, with the proxy
    if isinstance(module, str):
        pytest.skip(f"the offline Istio module cannot be had: {module}")
    monkeypatch.setenv("GOPROXY", "off")  # prove it works with the module cache alone
    found = provider(tmp_path, runner, allow_download=False).samples_dir(
        "1.31-dev", go_revision=OFFLINE_REVISION
    )
    assert (found / "helloworld/helloworld.yaml").read_text() == (
        module / "samples/helloworld/helloworld.yaml"
    ).read_text()
    assert (
        found / "helloworld/helloworld.yaml"
    ).stat().st_mode & 0o200  # writable copy, unlike the module cache
