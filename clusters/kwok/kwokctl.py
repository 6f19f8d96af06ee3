"""kwokctl, run inside a cluster's network namespace with the suite's binaries and work directory.

Every call is ``ip netns exec <netns> kwokctl ...`` through the suite's runner, with
``KWOK_WORKDIR`` under the run directory (nothing in the user's ``~/.kwok``) and a ``PATH``
whose first entry holds the pinned kubectl (kwokctl calls ``kubectl`` from PATH to wait for
its clusters).
"""

from __future__ import annotations

import base64
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from clusters.kwok.config import scale_node_args
from clusters.netns import NetnsHost
from programs.runner import CommandResult, CommandRunner
from run.timeouts import KWOK_CREATE, KWOK_DELETE, KWOK_SCALE
from scenarios.steps import Role


@dataclass
class Kwokctl:
    runner: CommandRunner
    kwokctl_bin: Path
    kubectl_bin: Path
    workdir: Path  # KWOK_WORKDIR

    @property
    def bin_dir(self) -> Path:
        return self.workdir / "bin"

    def env(self) -> dict[str, str]:
        link = self.bin_dir / "kubectl"
        if not link.exists():
            self.bin_dir.mkdir(parents=True, exist_ok=True)
            # Clusters are created side by side: another one may make the same link meanwhile.
            with contextlib.suppress(FileExistsError):
                link.symlink_to(self.kubectl_bin)
        return {
            "KWOK_WORKDIR": str(self.workdir),
            "PATH": f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        }

    def cluster_dir(self, name: str) -> Path:
        return self.workdir / "clusters" / name

    def run(
        self, host: NetnsHost, role: Role, *args: str, timeout_s: float, check: bool = True
    ) -> CommandResult:
        return self.runner.run(
            host.exec_argv([str(self.kwokctl_bin), *args]),
            env=self.env(),
            timeout_s=timeout_s,
            check=check,
            title=f"[{role}] kwokctl {' '.join(args[:3])} (in netns {host.netns})",
        )

    def create(self, host: NetnsHost, role: Role, name: str, config: Path, kubeconfig: Path) -> None:
        self.run(
            host,
            role,
            "create",
            "cluster",
            "--name",
            name,
            "--config",
            str(config),
            "--kubeconfig",
            str(kubeconfig),
            "--wait",
            f"{int(KWOK_CREATE.seconds() - 30)}s",
            timeout_s=KWOK_CREATE.seconds(),
        )

    def scale_node(self, host: NetnsHost, role: Role, name: str) -> None:
        self.run(host, role, *scale_node_args(role), "--name", name, timeout_s=KWOK_SCALE.seconds())

    def delete(self, host: NetnsHost, role: Role, name: str) -> CommandResult:
        return self.run(
            host, role, "delete", "cluster", "--name", name, timeout_s=KWOK_DELETE.seconds(), check=False
        )


def inline_credentials(text: str) -> str:
    """The kubeconfig with its certificate and key files inlined as ``*-data`` fields."""
    data: dict[str, Any] = yaml.safe_load(text)
    pairs = (
        ("clusters", "cluster", ("certificate-authority",)),
        ("users", "user", ("client-certificate", "client-key")),
    )
    for section, inner, keys in pairs:
        for entry in data.get(section) or []:
            body = entry.get(inner) or {}
            for key in keys:
                if key in body:
                    body[f"{key}-data"] = base64.b64encode(Path(body.pop(key)).read_bytes()).decode()
    return yaml.safe_dump(data, sort_keys=False)
