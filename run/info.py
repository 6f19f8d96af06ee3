"""What the reports say about the run itself: suite, Istio, Kubernetes and tool versions, mode,
date, and the facts only the code doing the work learns: the stand-ins a run used, the traffic
probe's figures during an upgrade.

They are noted on the run's one ``RunFacts`` (fixture ``run_facts``, or
``run.state.run_state(config).facts``; never a module global), by the code that learns them::

    run_facts.note_kubernetes_version("external", "v1.34.0")     # topology, after `kubectl version`
    run_facts.note_tool("kind", "v0.33.0", source="cache")        # tool resolution
    run_facts.note_stand_ins(provider.stand_ins())                # "component (stand-in)" texts
    run_facts.note_upgrade_probe(entry)                           # reports/probe_figures.py

Under pytest-xdist every worker notes its own; the controller merges them (``export``/``merge``).
"""

from __future__ import annotations

import datetime as dt
import threading
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from run import timeouts
from run.config import SuiteConfig
from scenarios.releases import IstioRelease, load_pins
from scenarios.workarounds import WORKAROUNDS

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
SUITE_NAME = "istio-external-control-plane-conformance"
UNKNOWN = "unknown"
REPORTED_TOOLS = ("kind", "cloud-provider-kind", "kubectl", "helm")


def stand_in_entry(text: str, role: str | None = None) -> dict[str, Any]:
    """A provider's stand-in (``"nodes (kwok: no kubelet, ...)"``) as the reports list it."""
    component, _, rest = text.partition(" (")
    return {"component": component, "standIn": rest.removesuffix(")") or "stood in for", "role": role}


class RunFacts:
    """What a run learns while it works: each cluster's Kubernetes server, each tool used, what
    the cluster provider stood in for, the upgrade probes' figures.

    One per pytest process, reachable as ``run.state.run_state(config).facts`` (fixture
    ``run_facts``); thread-safe, since clusters are created in parallel.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kubernetes: dict[str, str] = {}
        self._tools: dict[str, str] = {}
        self._stand_ins: list[dict[str, Any]] = []  # report entries: component, standIn, role
        self._probes: list[dict[str, Any]] = []  # reports/probe_figures.py upgrade_probe_entry
        self._xds_probes: list[dict[str, Any]] = []  # kwok's stand-in for a traffic probe

    def note_kubernetes_version(self, role: str, version: str | None) -> None:
        """Record the server version a cluster reported (``None`` when it could not be read)."""
        with self._lock:
            self._kubernetes[role] = version or UNKNOWN

    def note_tool(self, name: str, version: str, source: str | None = None) -> None:
        """Record the version of a tool actually used (overrides the pinned one in reports)."""
        with self._lock:
            self._tools[name] = version + (f" ({source})" if source else "")

    def note_stand_ins(self, stand_ins: Iterable[str], *, role: str | None = None) -> None:
        """Record what the cluster provider stands in for, in its "component (stand-in)" form."""
        self._add_stand_ins(stand_in_entry(text, role) for text in stand_ins)

    def note_stand_in(self, component: str, stand_in: str, *, role: str | None = None) -> None:
        """Record that ``component`` was replaced by ``stand_in`` in this run."""
        self._add_stand_ins([{"component": component, "standIn": stand_in, "role": role}])

    def note_upgrade_probe(self, entry: Mapping[str, Any]) -> None:
        """Record one traffic probe's figures during an upgrade (reports/probe_figures.py)."""
        with self._lock:
            self._probes.append(dict(entry))

    def note_upgrade_xds_probe(self, entry: Mapping[str, Any]) -> None:
        """Record kwok mode's stand-in for a traffic probe (one ``upgradeXdsProbe`` of the schema)."""
        with self._lock:
            self._xds_probes.append(dict(entry))

    def _add_stand_ins(self, entries: Iterable[dict[str, Any]]) -> None:
        with self._lock:
            self._stand_ins.extend(entry for entry in entries if entry not in self._stand_ins)

    def export(self) -> dict[str, Any]:
        with self._lock:
            return {
                "kubernetes": dict(self._kubernetes),
                "tools": dict(self._tools),
                "standIns": [dict(entry) for entry in self._stand_ins],
                "upgradeProbes": [dict(entry) for entry in self._probes],
                "upgradeXdsProbes": [dict(entry) for entry in self._xds_probes],
            }

    def merge(self, data: Mapping[str, Any]) -> None:
        with self._lock:
            for role, version in data.get("kubernetes", {}).items():
                # A known version beats "unknown" from another worker's failed lookup.
                if self._kubernetes.get(role, UNKNOWN) == UNKNOWN:
                    self._kubernetes[role] = version
            self._tools.update(data.get("tools", {}))
            self._stand_ins.extend(e for e in data.get("standIns", []) if e not in self._stand_ins)
            self._probes.extend(dict(entry) for entry in data.get("upgradeProbes", []))
            self._xds_probes.extend(dict(entry) for entry in data.get("upgradeXdsProbes", []))

    def reset(self) -> None:
        with self._lock:
            self._kubernetes.clear()
            self._tools.clear()
            self._stand_ins.clear()
            self._probes.clear()
            self._xds_probes.clear()


def suite_version() -> str:
    try:
        with PYPROJECT.open("rb") as handle:
            return str(tomllib.load(handle)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return UNKNOWN


def release_entry(release: IstioRelease) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "version": str(release.version),
        "build": release.label,
        "hub": release.hub,
        "tag": release.tag,
        "custom": release.custom,
        "requested": release.requested or str(release.version),
        "resolution": release.resolution,
        # The revision of istio.io's guide every install step followed (--guide-revision).
        "guideRevision": release.procedure.guide,
    }
    source = release.source
    if source is not None:  # an Istio source: what it is, never a release
        entry["source"] = {
            "spec": source.spec,
            "kind": source.kind,
            "revision": source.revision,
            "branch": source.branch,
            "committed": source.committed.isoformat() if source.committed else None,
            "dirty": source.dirty_digest is not None,
            "stamp": source.stamp,
        }
    return entry


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
    # What the cluster provider stood in for instead of running it (empty for kind, existing),
    # as report entries (stand_in_entry), and the traffic probes' figures during an upgrade.
    stand_ins: list[dict[str, Any]] = field(default_factory=list)
    upgrade_probes: list[dict[str, Any]] = field(default_factory=list)
    upgrade_xds_probes: list[dict[str, Any]] = field(default_factory=list)
    # The run's deadlines (run/timeouts.py): every one's value, and which were overridden.
    timeouts: dict[str, dict[str, float]] = field(default_factory=dict)
    # Workarounds of known issues the run applied (--workaround): name and what it changes.
    workarounds: list[dict[str, str]] = field(default_factory=list)

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
        """The versions certified; an Istio source by its label (its VERSION file's minor alone
        would read as a release)."""
        return (
            ", ".join(entry["build"] if entry.get("source") else entry["version"] for entry in self.releases)
            or UNKNOWN
        )

    @property
    def istio_build(self) -> str:
        return ", ".join(entry["build"] for entry in self.releases) or UNKNOWN

    @property
    def guide_revisions(self) -> str:
        """The guide revision of each release, in release order (one when they agree)."""
        revisions = [str(entry.get("guideRevision", UNKNOWN)) for entry in self.releases]
        return ", ".join(dict.fromkeys(revisions)) or UNKNOWN


def build_run_info(
    config: SuiteConfig, *, now: dt.datetime | None = None, facts: RunFacts | None = None
) -> RunInfo:
    pins = load_pins()
    noted = (facts or RunFacts()).export()
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
        stand_ins=noted["standIns"],
        upgrade_probes=noted["upgradeProbes"],
        upgrade_xds_probes=noted["upgradeXdsProbes"],
        timeouts=timeouts.report_entry(config.timeouts),
        workarounds=[{"name": name, "change": WORKAROUNDS[name]} for name in config.workarounds],
    )
