"""What the reports say about the run itself: suite, Istio, Kubernetes and tool versions, mode, date.

Facts only known at run time are noted by the code that learns them, from any module::

    from run.info import note_kubernetes_version, note_tool
    note_kubernetes_version("external", "v1.34.0")     # topology, after `kubectl version`
    note_tool("kind", "v0.33.0", source="cache")        # tool resolution

Under pytest-xdist every worker notes its own; the controller merges them (``export``/``merge``).
"""

from __future__ import annotations

import datetime as dt
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from run.config import SuiteConfig
from scenarios.releases import IstioRelease, load_pins

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
SUITE_NAME = "istio-external-control-plane-conformance"
UNKNOWN = "unknown"
REPORTED_TOOLS = ("kind", "cloud-provider-kind", "kubectl", "helm")

_lock = threading.Lock()
_kubernetes: dict[str, str] = {}
_tools: dict[str, str] = {}
_stand_ins: list[str] = []  # what the cluster provider stands in for (kwok mode)


def note_kubernetes_version(role: str, version: str | None) -> None:
    """Record the server version a cluster reported (``None`` when it could not be read)."""
    with _lock:
        _kubernetes[role] = version or UNKNOWN


def note_tool(name: str, version: str, source: str | None = None) -> None:
    """Record the version of a tool actually used (overrides the pinned one in reports)."""
    with _lock:
        _tools[name] = version + (f" ({source})" if source else "")


def note_stand_ins(stand_ins: tuple[str, ...]) -> None:
    """Record what the cluster provider stands in for instead of running it for real."""
    with _lock:
        _stand_ins.extend(item for item in stand_ins if item not in _stand_ins)


def export() -> dict[str, dict[str, str]]:
    with _lock:
        return {
            "kubernetes": dict(_kubernetes),
            "tools": dict(_tools),
            "stand_ins": {item: item for item in _stand_ins},
        }


def merge(data: dict[str, dict[str, str]]) -> None:
    with _lock:
        for role, version in data.get("kubernetes", {}).items():
            # A known version beats "unknown" from another worker's failed lookup.
            if _kubernetes.get(role, UNKNOWN) == UNKNOWN:
                _kubernetes[role] = version
        _tools.update(data.get("tools", {}))
        _stand_ins.extend(item for item in data.get("stand_ins", {}) if item not in _stand_ins)


def reset() -> None:
    with _lock:
        _kubernetes.clear()
        _tools.clear()
        _stand_ins.clear()


def suite_version() -> str:
    try:
        with PYPROJECT.open("rb") as handle:
            return str(tomllib.load(handle)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return UNKNOWN


def release_entry(release: IstioRelease) -> dict[str, Any]:
    return {
        "version": str(release.version),
        "build": release.label,
        "hub": release.hub,
        "tag": release.tag,
        "custom": release.custom,
    }


@dataclass(frozen=True)
class RunInfo:
    suite_version: str
    date: str
    mode: str
    releases: list[dict[str, Any]]
    upgrade_to: dict[str, Any] | None
    kubernetes: dict[str, str]
    tools: dict[str, str]
    selected_scenarios: list[str] = field(default_factory=list)
    # What the cluster provider stands in for instead of running it (empty for kind, existing).
    stand_ins: list[str] = field(default_factory=list)

    @property
    def kubernetes_version(self) -> str:
        """One line: the version when every cluster agrees, else ``role=version`` pairs."""
        known = sorted(set(self.kubernetes.values()))
        if not known:
            return UNKNOWN
        if len(known) == 1:
            return known[0]
        return ", ".join(f"{role}={version}" for role, version in sorted(self.kubernetes.items()))

    @property
    def istio_version(self) -> str:
        return ", ".join(entry["version"] for entry in self.releases) or UNKNOWN

    @property
    def istio_build(self) -> str:
        return ", ".join(entry["build"] for entry in self.releases) or UNKNOWN


def build_run_info(config: SuiteConfig, *, now: dt.datetime | None = None) -> RunInfo:
    pins = load_pins()
    noted = export()
    tools = {name: str(pins.tools.get(name, {}).get("version") or UNKNOWN) for name in REPORTED_TOOLS}
    tools.update(noted["tools"])
    stamp = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    return RunInfo(
        suite_version=suite_version(),
        date=stamp.isoformat().replace("+00:00", "Z"),
        mode=config.mode,
        releases=[release_entry(release) for release in config.releases],
        upgrade_to=release_entry(config.upgrade_to) if config.upgrade_to else None,
        kubernetes=noted["kubernetes"],
        tools=tools,
        selected_scenarios=list(config.scenarios),
        stand_ins=list(noted.get("stand_ins", {})),
    )
