"""``python -m programs.pins``, run against the upstream responses recorded on 2026-12-06
(tests/data/upstream/2026-12-06/manifest.yaml says how each was recorded: live captures of the
Go checksum database through the module proxy, the rest reconstructed from stored copies of the
upstream pages) and against main's versions.yaml of that day (versions-before.yaml; its
procedure blocks since in the guide-revisions form the table has now).

Where a test needs upstream data the recording has not got (a chart archive, a newer release),
it writes a small synthetic recording of its own and says so.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from programs.https_fetch import FetchError, HttpsFetcher, RecordedFetcher
from programs.pins import istio, sail, yaml_edit
from programs.pins.__main__ import main as pins_main
from programs.pins.__main__ import problems_of
from scenarios.releases import VERSIONS_FILE, parse_pins

RECORDED = Path(__file__).resolve().parent / "data" / "upstream" / "2026-12-06"
BEFORE = RECORDED / "versions-before.yaml"
TODAY = "2026-12-06"


@pytest.fixture(autouse=True)
def _default_module_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOPROXY", raising=False)  # the recording's URLs name proxy.golang.org


def run(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = pins_main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_check_reports_todays_stale_pins_with_their_sources(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(
        "check", "--versions", str(BEFORE), "--recorded", str(RECORDED), "--today", TODAY, capsys=capsys
    )
    assert code == 1, out
    lines = out.splitlines()

    def line(prefix: str) -> str:
        found = [text for text in lines if text.startswith(prefix)]
        assert len(found) == 1, (prefix, out)
        return found[0]

    assert "past its end of life (1.29: 2026-10-12)" in line(
        "- [end-of-life] Istio supported: pinned 1.29, 1.30, 1.31"
    )
    for minor, old, new in (
        ("1.29", "1.29.8", "1.29.10"),
        ("1.30", "1.30.5", "1.30.7"),
        ("1.31", "1.31.1", "1.31.3"),
    ):
        text = line(f"- [stale] Istio {minor} latest_patch: pinned {old}; upstream {new}")
        assert "(source: https://api.github.com/repos/istio/istio/releases?per_page=100)" in text
    assert "h1:" not in out  # checksums are written, not printed
    helm = line("- [stale] tool helm: pinned v3.19.0; upstream v3.22.0")
    assert "sumdb/sum.golang.org/lookup/helm.sh/helm/v3@v3.22.0" in helm
    assert line("- [stale] tool kubernetes: pinned v1.35.4; upstream v1.35.8")
    assert line("- [stale] tool etcd: pinned v3.6.16; upstream v3.6.17")
    cpk = line("- [stale] tool cloud-provider-kind: pinned v0.10.0; upstream v0.11.0")
    assert "newer but unverifiable: v0.11.1" in cpk and "HTTP 404" in cpk
    sail_line = line("- [unverifiable] Sail Operator chart: pinned 1.30.3; upstream 1.31.1")
    assert "what chart 1.31.1 installs cannot be read" in sail_line and "not pinned" in sail_line


def test_update_writes_a_table_the_offline_tier_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "versions.yaml"
    target.write_text(BEFORE.read_text())
    code, out = run(
        "update", "--versions", str(target), "--recorded", str(RECORDED), "--today", TODAY, capsys=capsys
    )
    assert code == 0, out
    text = target.read_text()
    assert problems_of(text, date(2026, 12, 6)) == []  # parses, no EOL minor supported, every plan renders
    pins = parse_pins(yaml.safe_load(text))
    assert (pins.supported, pins.past_end_of_life) == (("1.30", "1.31"), ("1.29",))
    assert [pins.profiles[m].latest_patch for m in ("1.29", "1.30", "1.31")] == [
        "1.29.10",
        "1.30.7",
        "1.31.3",
    ]
    tools = pins.tools
    assert {
        name: tools[name]["version"] for name in ("helm", "cloud-provider-kind", "etcd", "kind", "kwok")
    } == {
        "helm": "v3.22.0",
        "cloud-provider-kind": "v0.11.0",
        "etcd": "v3.6.17",
        "kind": "v0.33.0",
        "kwok": "v0.8.0",
    }
    kube = {
        tools[n]["version"]
        for n in ("kubectl", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
    }
    assert (
        kube
        == {"v1.35.8"}
        == {tools["kwok"]["go_version_ldflags"]["sigs.k8s.io/kwok/pkg/consts.KubeVersion"]}
    )
    # The module hashes the checksum database gave (the recorded live responses), beside each version.
    assert tools["helm"]["go_sum"] == "h1:n1if5iQgHYsujPAcO5oonH/KiSNUmqmUF0iGVjSF3AU="
    assert tools["kube-scheduler"]["go_sum"] == tools["kube-apiserver"]["go_sum"]  # one module, merged
    # The sail pins stay: nothing verifies what a newer chart installs.
    assert pins.profiles["1.30"].sail_chart_version == "1.30.3"
    # Only what changed changed: every other line of the file, comments included, is still there.
    before, after = BEFORE.read_text().splitlines(), text.splitlines()
    kept = [line for line in before if line in after]
    assert len(before) - len(kept) <= 16, [line for line in before if line not in after]
    assert "  # Each release's facts, checked against its release notes (istio/istio.io" in after
    assert '  supported: ["1.30", "1.31"]' in after and '  past_end_of_life: ["1.29"]' in after
    # Run again: nothing left to update.
    code, out = run(
        "check", "--versions", str(target), "--recorded", str(RECORDED), "--today", TODAY, capsys=capsys
    )
    assert code == 0, out
    code, out = run(
        "update", "--versions", str(target), "--recorded", str(RECORDED), "--today", TODAY, capsys=capsys
    )
    assert code == 0 and "nothing written" in out


def test_this_branchs_table_is_current_against_the_recording(capsys: pytest.CaptureFixture[str]) -> None:
    """versions.yaml as committed: nothing stale; the Sail chart pinned from its release notes
    is reported unverifiable (the recorded Helm index predates it), as the comments say."""
    code, out = run("check", "--recorded", str(RECORDED), "--today", TODAY, capsys=capsys)
    assert code == 0, out
    assert "- [stale]" not in out and "- [end-of-life]" not in out
    assert (
        "[unverifiable] Sail Operator chart 1.31.2: pinned 1.31.2; upstream newest in the index: 1.31.1"
        in out
    )


# --- refusing what cannot be verified (synthetic recordings) ---------------------------------


def recording(tmp_path: Path, responses: dict[str, bytes | int]) -> Path:
    """A synthetic recording: url -> body (or an HTTP status)."""
    root = tmp_path / "recorded"
    root.mkdir()
    entries: list[dict[str, Any]] = []
    for index, (url, body) in enumerate(responses.items()):
        entry: dict[str, Any] = {
            "url": url,
            "how": "synthetic",
            "source": "written by tests/test_pins_command.py",
        }
        if isinstance(body, int):
            entry["status"] = body
        else:
            (root / f"{index}.bin").write_bytes(body)
            entry["file"] = f"{index}.bin"
        entries.append(entry)
    (root / "manifest.yaml").write_text(yaml.safe_dump({"recorded_on": TODAY, "responses": entries}))
    return root


def chart(enum: list[str]) -> bytes:
    crd = {
        "spec": {
            "versions": [
                {
                    "schema": {
                        "openAPIV3Schema": {
                            "properties": {"spec": {"properties": {"version": {"enum": enum}}}}
                        }
                    }
                }
            ]
        }
    }
    data = yaml.safe_dump(crd).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        info = tarfile.TarInfo(sail.CRD_MEMBER)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def index(version: str, archive: bytes, digest: str | None = None) -> bytes:
    url = f"https://example.invalid/sail-operator-{version}.tgz"
    entry = {"version": version, "digest": digest or hashlib.sha256(archive).hexdigest(), "urls": [url]}
    return yaml.safe_dump({"apiVersion": "v1", "entries": {"sail-operator": [entry]}}).encode()


def sail_update(tmp_path: Path, archive: bytes, digest: str | None = None) -> dict[str, Any]:
    pins = parse_pins(yaml.safe_load(BEFORE.read_text()))
    url = "https://example.invalid/sail-operator-1.99.0.tgz"
    fetcher = RecordedFetcher(
        recording(tmp_path, {sail.INDEX_URL: index("1.99.0", archive, digest), url: archive})
    )
    from programs.pins.model import Upstream

    findings = sail.sail_findings(pins, Upstream(fetcher, date(2026, 12, 6)))
    return {f.subject: f for f in findings}


def test_a_newer_sail_chart_is_pinned_from_what_its_crd_installs(tmp_path: Path) -> None:
    found = sail_update(tmp_path, chart(["v1.31-latest", "v1.31.9", "v1.31.8", "v1.30.12", "v1.31.10-rc.0"]))
    changes = {c.where: c.value for f in found.values() for c in f.changes}
    assert changes["istio.releases.1.31.sail_chart_version"] == "1.99.0"
    assert changes["istio.releases.1.31.sail_istio_up_to"] == "1.31.9"  # never a pre-release
    assert changes["istio.releases.1.30.sail_istio_up_to"] == "1.30.12"
    assert "istio.releases.1.29.sail_chart_version" not in changes  # installs no 1.29: keeps its pin


def test_a_chart_whose_digest_differs_from_the_index_is_refused(tmp_path: Path) -> None:
    found = sail_update(tmp_path, chart(["v1.31.9"]), digest="0" * 64)
    finding = found["Sail Operator chart"]
    assert finding.status.value == "unverifiable" and "the index says" in finding.detail
    assert not finding.changes


def test_a_tool_release_without_any_checksum_is_not_pinned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """helm v3.99.0 is listed (synthetic) but neither its checksum file nor the checksum
    database knows it: the newest verifiable release (v3.22.0, recorded) is proposed instead."""
    manifest = yaml.safe_load((RECORDED / "manifest.yaml").read_text())
    responses: dict[str, bytes | int] = {}
    for entry in manifest["responses"]:
        responses[entry["url"]] = (
            (RECORDED / entry["file"]).read_bytes() if entry.get("file") else int(entry["status"])
        )
    helm_url = "https://api.github.com/repos/helm/helm/releases?per_page=100"
    listed = json.loads(responses[helm_url])  # type: ignore[arg-type]
    responses[helm_url] = json.dumps([{"tag_name": "v3.99.0"}, *listed]).encode()
    root = recording(tmp_path, responses)
    code, out = run(
        "check", "--versions", str(BEFORE), "--recorded", str(root), "--today", TODAY, capsys=capsys
    )
    assert code == 1
    helm = next(text for text in out.splitlines() if "tool helm" in text)
    assert "upstream v3.22.0" in helm and "newer but unverifiable: v3.99.0" in helm


def test_an_updated_table_that_would_not_do_is_not_written(tmp_path: Path) -> None:
    text = VERSIONS_FILE.read_text().replace("hub: docker.io/istio", "hub: registry.istio.io/release", 1)
    assert any("retired registry" in problem for problem in problems_of(text, date(2026, 12, 6)))
    assert any("end of life" in problem for problem in problems_of(BEFORE.read_text(), date(2026, 12, 6)))


# --- the pieces ---------------------------------------------------------------------------


def test_the_end_of_life_date_is_read_from_the_announcement() -> None:
    text = (RECORDED / "istio.io" / "announcing-1.29-eol.md").read_text()
    assert istio.parse_end_of_life(text) == date(2026, 10, 12)
    assert istio.parse_end_of_life(
        "title: Support for Istio 1.30 has ended on the 1st of March, 2027"
    ) == date(2027, 3, 1)
    assert istio.parse_end_of_life("title: Istio 1.30 news") is None


def test_recorded_responses_say_what_they_are() -> None:
    fetcher = RecordedFetcher(RECORDED)
    assert fetcher.recorded_on == TODAY
    for url, response in fetcher.responses.items():
        assert response.how in ("live", "reconstructed"), url
        assert response.source, url
        if response.file is not None:
            assert response.file.is_file(), url
    with pytest.raises(FetchError, match="not among the responses recorded"):
        fetcher.get("https://example.invalid/nothing")
    with pytest.raises(FetchError) as absent:
        fetcher.get(istio.EOL_URL.format(minor="1.31"))
    assert absent.value.status == 404


def test_the_github_token_goes_to_github_only_and_is_never_shown() -> None:
    fetcher = HttpsFetcher(token="ghp_secret-token-value")
    assert fetcher._headers("https://api.github.com/repos/istio/istio/releases")["Authorization"].endswith(
        "value"
    )
    assert "Authorization" not in fetcher._headers(
        "https://istio-ecosystem.github.io/sail-operator/index.yaml"
    )
    assert "ghp_secret" not in repr(fetcher)
    with pytest.raises(FetchError, match="non-HTTPS"):
        fetcher.get("http://example.invalid/")


def test_bad_input_is_refused_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run("check", "--versions", str(tmp_path / "missing.yaml"), capsys=capsys)
    assert code == 4 and "missing.yaml" in out
    assert run("bogus", capsys=capsys)[0] == 4
    assert run("check", "--today", "tomorrow", capsys=capsys)[0] == 4


def test_comments_survive_a_rewrite() -> None:
    data = yaml_edit.load(BEFORE.read_text())
    assert yaml_edit.dump(data) == BEFORE.read_text()  # the round trip alone changes nothing
