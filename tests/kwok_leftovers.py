"""What a kwok-mode run may leave on the host: nothing. Shared by the kwok tier's self-tests.

A child suite run gets a cluster prefix and a runs directory of its own (``--cluster-prefix``,
``EICP_RUNS_DIR``), so everything it made is recognisable: network namespaces and their
``/etc/netns`` files named ``<prefix>-...``, bridges whose alias is ``<prefix>-...``, and
processes (kube-apiserver, istiod, HAProxy, synthetic proxies) whose command line or working
directory is under the runs directory. A listener needs a process or a namespace, so none of
those left means no listener left either.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from clusters.netns_etc import NetnsEtcFiles


def _processes_under(directory: Path) -> list[str]:
    found = []
    marker = str(directory).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            cwd = os.readlink(entry / "cwd").encode()
        except OSError:
            continue
        if marker in cmdline or cwd.startswith(marker):
            shown = cmdline.replace(b"\0", b" ").decode(errors="replace")[:160]
            found.append(f"pid {entry.name}: {shown}")
    return found


def leftovers(prefix: str, runs_dir: Path) -> list[str]:
    """Everything of a run with ``prefix`` and ``runs_dir`` still on the host."""
    found: list[str] = []
    netns = json.loads(
        subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True, check=True).stdout
        or "[]"
    )
    found += [
        f"network namespace {entry['name']}" for entry in netns if entry["name"].startswith(prefix + "-")
    ]
    found += [f"/etc/netns/{name}" for name in NetnsEtcFiles().names() if name.startswith(prefix + "-")]
    links = subprocess.run(
        ["ip", "-j", "-d", "link", "show", "type", "bridge"], capture_output=True, text=True, check=True
    ).stdout
    found += [
        f"bridge {link['ifname']} ({link.get('ifalias')})"
        for link in json.loads(links or "[]")
        if str(link.get("ifalias", "")).startswith(prefix + "-")
    ]
    found += _processes_under(runs_dir)
    return found


def haproxy_running_under(runs_dir: Path) -> bool:
    """Whether the gateway stand-in of a run with ``runs_dir`` is up (its configuration is there)."""
    return any("haproxy" in line for line in _processes_under(runs_dir))
