"""Name resolution inside the kwok tier's network namespaces: the suite's own hosts files.

kwok clusters have no cluster DNS, and the host's resolver is no place for the suite's test
names. ``ip netns exec NAME`` bind-mounts every file of ``/etc/netns/NAME/`` over its
namesake in ``/etc`` for the command it starts and everything that command starts later
(iproute2, ``ip-netns(8)``), so a cluster's namespace gets files of its own, written before
its processes (kube-apiserver included) start:

- ``hosts``: localhost, then the names the suite publishes there, one marked line each;
- ``nsswitch.conf``: the host's, with ``hosts: files``: the namespaces have no route to any
  DNS server, so names resolve through that hosts file only, and a name missing from it
  fails at once as not found (glibc and Go's resolver both read ``hosts:`` from it).

A published name is written *in place* (same inode: the bind mount keeps the file it was made
from, a rename would never be seen); Go's resolver re-reads ``/etc/hosts`` when its mtime
changes (at most every 5 s), glibc on every lookup. The host's own ``/etc/hosts`` and
``/etc/nsswitch.conf`` are only read, never written. ``remove`` deletes the directory; the
netns deletion (clusters/netns.py) and the leftover sweep call it.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("eicp.netns")

NETNS_ETC = Path("/etc/netns")
HOST_NSSWITCH = Path("/etc/nsswitch.conf")
MARK = "eicp-netns-hostname"
HEADER = (
    "# Written by the eicp suite for network namespace {netns}: `ip netns exec {netns}` binds it\n"
    "# over /etc/hosts. Removed with the namespace.\n"
)
LOCALHOST = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$"
)


class HostsFileError(ValueError):
    """A name, address or namespace the hosts files cannot take (the message says which)."""


def files_only_nsswitch(host_text: str) -> str:
    """The host's nsswitch.conf with its ``hosts:`` database set to ``files`` alone."""
    lines = [line for line in host_text.splitlines() if not re.match(r"^\s*hosts\s*:", line)]
    return "\n".join([*lines, "hosts: files"]) + "\n"


def marked_line(hostname: str, address: str) -> str:
    return f"{address} {hostname} #{MARK}:{hostname}:"


def without_name(text: str, hostname: str) -> str:
    mark = f"#{MARK}:{hostname}:"
    return "".join(line for line in text.splitlines(keepends=True) if mark not in line)


@dataclass(frozen=True)
class NetnsEtcFiles:
    """The ``/etc/netns/<name>/`` files of the suite's namespaces (``root`` is for tests)."""

    root: Path = NETNS_ETC
    host_nsswitch: Path = HOST_NSSWITCH

    def directory(self, netns: str) -> Path:
        if not _SAFE_NAME.match(netns) or netns in (".", ".."):
            raise HostsFileError(f"network namespace name {netns!r} is not a plain name")
        return self.root / netns

    def hosts(self, netns: str) -> Path:
        return self.directory(netns) / "hosts"

    def create(self, netns: str) -> None:
        """Write the namespace's hosts and nsswitch.conf; call before anything runs in it."""
        directory = self.directory(netns)
        directory.mkdir(parents=True, exist_ok=True, mode=0o755)
        nsswitch = self.host_nsswitch.read_text() if self.host_nsswitch.exists() else ""
        _write(directory / "nsswitch.conf", files_only_nsswitch(nsswitch))
        _write(directory / "hosts", HEADER.format(netns=netns) + LOCALHOST)
        log.info("hosts files for network namespace %s: %s", netns, directory)

    def publish(self, netns: str, hostname: str, address: str) -> None:
        """``hostname`` -> ``address`` in the namespace's hosts file (replacing an earlier line)."""
        if not _HOSTNAME.match(hostname):
            raise HostsFileError(f"{hostname!r} is not a lower-case DNS name of two labels or more")
        if not re.fullmatch(r"[0-9a-fA-F:.]+", address):
            raise HostsFileError(f"{address!r} is not an IP address (hosts lines map names to IPs)")
        path = self._existing(netns)
        _rewrite_in_place(
            path, without_name(path.read_text(), hostname) + marked_line(hostname, address) + "\n"
        )

    def withdraw(self, netns: str, hostname: str) -> None:
        """Remove the line of ``hostname`` (nothing to do when the file or line is gone)."""
        path = self.hosts(netns)
        if not path.exists():
            return
        text = path.read_text()
        kept = without_name(text, hostname)
        if kept != text:
            _rewrite_in_place(path, kept)

    def lookup(self, netns: str, hostname: str) -> str | None:
        """The address the namespace's hosts file gives ``hostname`` (the suite's marked line)."""
        path = self.hosts(netns)
        if not path.exists():
            return None
        for line in path.read_text().splitlines():
            if f"#{MARK}:{hostname}:" in line:
                return line.split()[0]
        return None

    def remove(self, netns: str) -> None:
        directory = self.directory(netns)
        if directory.exists():
            shutil.rmtree(directory, ignore_errors=True)
            log.info("removed the hosts files of network namespace %s", netns)

    def names(self) -> list[str]:
        """Namespaces that have files here (the sweep filters the suite's own)."""
        if not self.root.is_dir():
            return []
        return sorted(entry.name for entry in self.root.iterdir() if entry.is_dir())

    def _existing(self, netns: str) -> Path:
        path = self.hosts(netns)
        if not path.exists():
            raise HostsFileError(
                f"network namespace {netns} has no hosts file of the suite's ({path}): it must be made "
                "before the namespace's processes start, or they never see it"
            )
        return path


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o644)  # public, whatever the umask: every process of the namespace reads it


def _rewrite_in_place(path: Path, text: str) -> None:
    """Truncate and write the same inode: the bind mounts made from it see the change."""
    with path.open("r+", encoding="utf-8") as handle:
        handle.seek(0)
        handle.write(text)
        handle.truncate()
