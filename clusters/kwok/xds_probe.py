"""The upgrade's background probe in kwok mode: an xDS-level stand-in for the traffic probe.

kwok pods run no Envoy, so no request can be sent during the upgrade (install/traffic_probe.py
needs ``kubectl exec curl``). What can be watched instead is what a request depends on at the
control plane: that the client's proxy has an ADS stream to an istiod, synced (CDS, then EDS),
whose helloworld assignment holds an endpoint of every helloworld version the scenario runs
(clusters/kwok/stream_log.py reads the proxy's stream log). This probe follows the client
pod's synthetic proxy (clusters/kwok/xds_proxies.py) while the external control plane is
upgraded and reports, per client:

- the longest stretch without such a stream, against a bound taken from the rollout itself:
  the istiod stand-in replaces the process in place (A stops, then B starts on the same
  address: clusters/kwok/istiod_host.py records both), so the control plane is away for that
  switch-over; the proxy may then take up to two retry intervals (its connection's and its
  stream's, ``RETRY_INTERVAL_S`` each, a constant in the client) to reconnect, and B up to
  ``upgrade.xds-push-allowance`` (run/timeouts.py) to send CDS and EDS on the new stream. Bound = the longest switch-over
  in the probe's window + 2 x retry interval + push allowance;
- whether it stayed connected or reconnected, and ended on a stream opened while B ran, that
  carries the endpoints, and that B's syncz lists with CDS and EDS acknowledged.

Named as a stand-in in every report (``STAND_IN``): it proves the control plane kept serving
the proxies, not that requests succeeded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from clusters.kwok.istiod_host import IstiodRun
from clusters.kwok.pilot_binaries import image_tag
from clusters.kwok.pod_sandbox import SandboxError
from clusters.kwok.stream_log import (
    carries_versions,
    good_intervals,
    longest_gap,
    read_events,
    streams,
)
from clusters.kwok.xds_proxies import RETRY_INTERVAL_S, SyntheticProxies, SyntheticProxy
from clusters.upgrade_xds_probe import ProxyEnd, XdsProbeResult
from programs.runner import CommandError
from programs.waits import Backoff, WaitTimeout, wait_until
from run.timeouts import UPGRADE_XDS_PUSH_ALLOWANCE
from scenarios.steps import Role

HELLOWORLD_PORT = 5000
EASTWEST_PORT = 15443
POLL_S = 0.5


class IstiodRunsLike(Protocol):
    """What the probe asks the istiod stand-ins (clusters/kwok/workloads.py)."""

    def runs(self) -> list[IstiodRun]: ...
    def debug(self, path: str) -> str | None: ...


@dataclass
class XdsUpgradeProbe:
    """Follows one client pod's synthetic proxy from ``start`` to ``stop``."""

    proxies: SyntheticProxies
    istiods: IstiodRunsLike
    key: tuple[str, str, str]  # (role, namespace, pod) of the client
    cluster: str
    local_versions: tuple[str, ...]
    remote_networks: int
    target_tag: str
    fleet: bool = False  # also report how every other synthetic proxy ended
    started_at: float = 0.0
    settled_at: float = 0.0
    _proxy: SyntheticProxy | None = field(default=None, repr=False)

    @property
    def vantage(self) -> str:
        role, namespace, pod = self.key
        return f"{role} {namespace}/{pod}"

    @property
    def wanted(self) -> str:
        parts = [f"helloworld {version}" for version in self.local_versions]
        if self.remote_networks:
            parts.append(f"{self.remote_networks} east-west gateway(s)")
        return " and ".join(parts) + " endpoints"

    def start(self) -> None:
        self._proxy = self.proxies.of(*self.key)
        self.started_at = time.time()

    def good_now(self) -> bool:
        if self._proxy is None:
            return False
        spans = good_intervals(read_events(self._proxy.events_file), self.cluster, self._carries())
        return bool(spans) and spans[-1][1] is None

    def wait_ready(self, deadline_s: float) -> bool:
        """The proxy carries the endpoints before anything changes (else the probe would blame
        the upgrade for what was never there)."""
        return self._wait(deadline_s)

    def wait_settled(self, deadline_s: float) -> None:
        """After the last restart: the proxy carries the endpoints again (or the deadline passed)."""
        self._wait(deadline_s)
        self.settled_at = time.time()

    def stop(self) -> XdsProbeResult:
        end = time.time()
        problems: list[str] = []
        events = read_events(self._proxy.events_file) if self._proxy is not None else []
        if self._proxy is None:
            problems.append(f"{self.vantage}: no synthetic proxy runs for this client pod")
        carries = self._carries()
        window = (self.started_at, end)
        gap = longest_gap(good_intervals(events, self.cluster, carries), *window)
        runs = self.istiods.runs()
        switchovers = tuple(
            (image_tag(run.image), run.ready_at - run.stopping_at)
            for run in runs
            if run.stopping_at is not None
            and run.ready_at is not None
            and window[0] <= run.stopping_at <= end
        )
        longest = max((seconds for _, seconds in switchovers), default=0.0)
        spans = streams(events, self.cluster, carries)
        last = spans[-1] if spans else None
        syncz = self._syncz(problems)
        return XdsProbeResult(
            vantage=self.vantage,
            cluster=self.cluster,
            wanted=self.wanted,
            window=window,
            streams_opened=sum(1 for span in spans if window[0] <= span.opened <= end),
            longest_gap_s=gap[0],
            gap=(gap[1], gap[2]),
            switchovers=switchovers,
            bound_s=longest + 2 * RETRY_INTERVAL_S + UPGRADE_XDS_PUSH_ALLOWANCE.seconds(),
            bound_basis=(
                f"longest istiod stand-in switch-over {longest:.1f}s + 2 x {RETRY_INTERVAL_S:g}s "
                f"reconnect interval + {UPGRADE_XDS_PUSH_ALLOWANCE.seconds():g}s for B's first push"
            ),
            ended_good=last is not None and last.closed is None and last.good_from is not None,
            ended_on=served_by(runs, last.opened) if last is not None else None,
            target_tag=self.target_tag,
            syncz=entry_of(syncz, *self.key[1:]) if syncz is not None else None,
            problems_seen=tuple(problems),
            others=self._others(runs, syncz) if self.fleet else (),
        )

    def _others(self, runs: Sequence[IstiodRun], syncz: list[dict[str, Any]] | None) -> tuple[ProxyEnd, ...]:
        ends = []
        for key, proxy in sorted(self.proxies.proxies.items()):
            if key == self.key:
                continue
            spans = streams(read_events(proxy.events_file), None, lambda _endpoints: True)
            last = spans[-1] if spans else None
            entry = entry_of(syncz or [], key[1], key[2])
            ends.append(
                ProxyEnd(
                    f"{key[0]} {key[1]}/{key[2]}",
                    synced=last is not None and last.closed is None and last.good_from is not None,
                    ended_on=served_by(runs, last.opened) if last is not None else None,
                    acked=entry is not None and acked(entry),
                )
            )
        return tuple(ends)

    # -- helpers --------------------------------------------------------------------------------

    def _carries(self) -> Callable[[Sequence[Mapping[str, str]]], bool]:
        return carries_versions(self.local_versions, self.remote_networks, HELLOWORLD_PORT, EASTWEST_PORT)

    def _wait(self, deadline_s: float) -> bool:
        """True once the proxy carries the endpoints; False when the deadline passes first
        (the probe reports that span; a wait here never fails the upgrade by itself)."""
        try:
            wait_until(
                f"the synthetic proxy {'/'.join(self.key)} to carry both versions' endpoints",
                self.good_now,
                deadline_s,
                backoff=Backoff(POLL_S, POLL_S),
            )
        except WaitTimeout:
            return self.good_now()
        return True

    def _syncz(self, problems: list[str]) -> list[dict[str, Any]] | None:
        """The serving istiod's ``/debug/syncz`` entries."""
        try:
            body = self.istiods.debug("/debug/syncz")
            entries = json.loads(body) if body is not None else None
        except (CommandError, SandboxError, OSError, ValueError) as error:
            problems.append(f"istiod's /debug/syncz could not be read: {error}")
            return None
        if entries is None:
            problems.append("no istiod process serves at the end of the probe")
            return None
        return (
            [dict(entry) for entry in entries if isinstance(entry, dict)] if isinstance(entries, list) else []
        )


def entry_of(syncz: Sequence[dict[str, Any]], namespace: str, pod: str) -> dict[str, Any] | None:
    """A pod's proxy in syncz (its proxy ID is ``<pod>.<namespace>``)."""
    for entry in syncz:
        if str(entry.get("proxy", "")).startswith(f"{pod}.{namespace}"):
            return dict(entry)
    return None


def acked(entry: Mapping[str, Any]) -> bool:
    """syncz says CDS and EDS were sent and the last of each acknowledged."""
    return all(
        entry.get(f"{kind}_sent") and entry.get(f"{kind}_acked") == entry.get(f"{kind}_sent")
        for kind in ("cluster", "endpoint")
    )


def served_by(runs: Sequence[IstiodRun], at: float) -> str | None:
    """The image tag of the istiod process that ran at ``at`` (the newest started before it)."""
    started = [run for run in runs if run.started_at <= at]
    return image_tag(started[-1].image) if started else None


def probes_for(
    proxies: SyntheticProxies,
    istiods: IstiodRunsLike,
    *,
    clients: Mapping[Role, str],
    namespace: str,
    workloads: Mapping[Role, Sequence[str]],
    target_tag: str,
) -> list[XdsUpgradeProbe]:
    """One probe per client pod (role -> pod name): the versions its own cluster runs, one
    east-west gateway per other cluster that runs helloworld."""
    cluster = f"outbound|{HELLOWORLD_PORT}||helloworld.{namespace}.svc.cluster.local"
    return [
        XdsUpgradeProbe(
            proxies,
            istiods,
            (role, namespace, pod),
            cluster,
            tuple(workloads.get(role, ())),
            sum(1 for other, versions in workloads.items() if other != role and versions),
            target_tag,
            fleet=index == 0,
        )
        for index, (role, pod) in enumerate(sorted(clients.items()))
    ]
