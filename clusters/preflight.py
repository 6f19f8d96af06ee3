"""What every provider's host preflight shares: a problem with its fix, and the one error that
lists them all, so a user fixes every problem in one go instead of one per run.

The checks themselves are the providers' own (clusters/kind/preflight.py, clusters/kwok/preflight.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clusters.cluster import ProviderError

# What a host without Docker can still certify, named here once: the Docker preflight's message
# (clusters/kind/preflight.py) and ci/certify.sh's preflight step show it; the README's quick
# start shows the same command.
WITHOUT_DOCKER = (
    "without Docker, certify the control plane on this host in kwok mode (real API servers and "
    "the real istiod, no data plane; as root, with iproute2, HAProxy and curl): 'bash ci/certify.sh "
    "--topology-mode kwok --scenario ip-passthrough --scenario dns-tls --scenario second-remote', "
    "adding --offline-snapshot where no "
    "Istio release can be fetched (it builds the pinned Istio source snapshot instead)"
)


@dataclass(frozen=True)
class Problem:
    what: str
    fix: str


class PreflightError(ProviderError):
    """The host cannot run the clusters; ``problems`` says why and how to fix each."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = ["host preflight failed, no cluster was created:"]
        for problem in problems:
            lines.append(f"  - {problem.what}")
            lines.append(f"    fix: {problem.fix}")
        super().__init__("\n".join(lines))


def available_memory_mib(proc: Path = Path("/proc")) -> int | None:
    meminfo = proc / "meminfo"
    if not meminfo.exists():
        return None
    for line in meminfo.read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return None
