"""What every provider's host preflight shares: a problem with its fix, and the one error that
lists them all, so a user fixes every problem in one go instead of one per run.

The checks themselves are the providers' own (clusters/kind/preflight.py, clusters/kwok/preflight.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clusters.cluster import ProviderError


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
