"""The kwok tier's per-namespace hosts files (pure: a temporary directory stands for /etc/netns)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusters.netns_etc import HostsFileError, NetnsEtcFiles, files_only_nsswitch

HOST_NSSWITCH = """passwd:         files
group:          files
hosts:          files mdns4_minimal [NOTFOUND=return] dns
networks:       files
"""


@pytest.fixture
def etc(tmp_path: Path) -> NetnsEtcFiles:
    (tmp_path / "nsswitch.conf").write_text(HOST_NSSWITCH)
    return NetnsEtcFiles(root=tmp_path / "netns", host_nsswitch=tmp_path / "nsswitch.conf")


def test_a_namespace_gets_localhost_and_files_only_resolution(etc: NetnsEtcFiles) -> None:
    etc.create("eicp-r1-remote")
    hosts = etc.hosts("eicp-r1-remote").read_text()
    assert "127.0.0.1 localhost" in hosts and "ip netns exec eicp-r1-remote" in hosts
    nsswitch = (etc.directory("eicp-r1-remote") / "nsswitch.conf").read_text()
    assert "hosts: files\n" in nsswitch and "dns" not in nsswitch and "passwd:         files" in nsswitch
    assert etc.names() == ["eicp-r1-remote"]


def test_publishing_rewrites_the_same_file_in_place(etc: NetnsEtcFiles) -> None:
    etc.create("eicp-r1-remote")
    path = etc.hosts("eicp-r1-remote")
    inode = path.stat().st_ino
    etc.publish("eicp-r1-remote", "istiod.external-istiod.eicp.test", "10.250.0.5")
    etc.publish("eicp-r1-remote", "istiod.external-istiod.eicp.test", "10.250.0.6")  # replaces
    assert etc.lookup("eicp-r1-remote", "istiod.external-istiod.eicp.test") == "10.250.0.6"
    assert path.read_text().count("istiod.external-istiod.eicp.test") == 2  # one line: name and its mark
    assert path.stat().st_ino == inode  # a bind mount made from it sees every change
    etc.withdraw("eicp-r1-remote", "istiod.external-istiod.eicp.test")
    assert etc.lookup("eicp-r1-remote", "istiod.external-istiod.eicp.test") is None
    assert "localhost" in path.read_text() and path.stat().st_ino == inode
    etc.withdraw("eicp-r1-gone", "x.eicp.test")  # nothing there: nothing to do
    etc.remove("eicp-r1-remote")
    assert etc.names() == []


def test_bad_input_is_refused_naming_it(etc: NetnsEtcFiles) -> None:
    etc.create("eicp-r1-remote")
    with pytest.raises(HostsFileError, match="not a lower-case DNS name"):
        etc.publish("eicp-r1-remote", "Not_A_Name", "10.0.0.1")
    with pytest.raises(HostsFileError, match="not an IP address"):
        etc.publish("eicp-r1-remote", "a.eicp.test", "gateway.example.com")
    with pytest.raises(HostsFileError, match="must be made before the namespace's processes start"):
        etc.publish("eicp-r1-other", "a.eicp.test", "10.0.0.1")
    with pytest.raises(HostsFileError, match="not a plain name"):
        etc.directory("../etc")


def test_files_only_nsswitch_keeps_every_other_database() -> None:
    assert files_only_nsswitch(HOST_NSSWITCH).splitlines() == [
        "passwd:         files",
        "group:          files",
        "networks:       files",
        "hosts: files",
    ]
