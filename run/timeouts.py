"""The one timeout table: every deadline of the suite, named once with its default and why.

Modelled on the Gateway API conformance suite's ``TimeoutConfig``. Code reads a deadline at the
moment it waits (``KIND_CREATE.seconds()``), so an override applies everywhere:

    pytest suites --timeout step.rollout=900 --timeout kind.create=1800
    pytest suites --timeout my-timeouts.yaml          # a mapping of names to seconds

Overrides are validated with the other options (an unknown name or a value that is not a
positive, finite number is a usage error, exit 4) and set once per pytest process at configure
(``use``); ``--plan`` prints the table and the conformance report records it. The deadlines of
the installer's waits are part of each scenario's plan, so they are rendered into it: their
defaults live with the renderers (scenarios/common.py ``STEP_DEADLINES``), listed here as
``step.*``, and their overrides reach the renderers as facts (``SuiteConfig.choices``).
A few deadlines derive from others (a lock held for a whole Go build waits that build plus 300 s).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from scenarios.common import STEP_DEADLINES

STEP_PREFIX = "step."


@dataclass(frozen=True)
class Deadline:
    name: str
    default_s: float
    why: str

    def seconds(self) -> float:
        """The deadline of this run: its override, else its default."""
        return _ACTIVE.overrides.get(self.name, self.default_s)


TABLE: dict[str, Deadline] = {}


def _d(name: str, default_s: float, why: str) -> Deadline:
    assert name not in TABLE, f"deadline {name} named twice"
    TABLE[name] = Deadline(name, default_s, why)
    return TABLE[name]


# -- running programs, tools ---------------------------------------------------------------------
COMMAND = _d("command.default", 300, "a command with no deadline of its own (programs/runner.py)")
KILL_GRACE = _d(
    "command.kill-grace", 5, "a command or background process past its deadline gets SIGTERM, then SIGKILL"
)
TOOL_VERSION = _d(
    "tools.version-check", 60, "a tool's version command; a freshly built binary's first start can be slow"
)
DOWNLOAD_SOCKET = _d("tools.download-socket", 120, "one socket operation of a download")
DOWNLOAD = _d("tools.download", 900, "a whole release archive over a slow link")
HTTPS_FETCH = _d("tools.https-fetch", 30, "one HTTPS read of an upstream index (the pins command)")
RELEASE_INDEX = _d(
    "releases.index-lookup",
    15,
    "istio/istio's release index, read once per run for a minor's newest GA patch",
)
GO_BUILD = _d(
    "tools.go-build",
    1800,
    "a cold Go build of a pinned tool (kube-apiserver: about 3 minutes here, plus module downloads)",
)
GO_MOD_DOWNLOAD = _d(
    "tools.go-mod-download",
    600,
    "`go mod download` of the Istio source module the synthetic proxies are built from",
)
XDS_CLIENT_BUILD = _d(
    "tools.xds-client-build",
    1200,
    "building programs/xdsclient against Istio's pkg/adsc from a cold module cache",
)
SAMPLES_DOWNLOAD = _d(
    "samples.go-download", 900, "the Istio source module whose samples/ a source build uses"
)
GO_MODULE_DOWNLOAD = _d("programs.go-module-download", 900, "`go mod download` of a module a procedure reads")
SOURCE_GO_DOWNLOAD = _d(
    "sources.go-download",
    600,
    "`go mod download` of an Istio source module (--istio-source istio.io/istio@...)",
)
SOURCE_GIT = _d(
    "sources.git", 120, "git rev-parse, status or diff in a local Istio checkout (--istio-source DIR)"
)
SOURCE_BUILD = _d(
    "sources.build",
    1800,
    "a cold Go build of istioctl, pilot-discovery or the synthetic proxy in an Istio source tree "
    "(istioctl: about 8 minutes here on 2 shared cores, module downloads included)",
)
SOURCE_BUILD_LOCK = _d(
    "sources.build-lock",
    5400,
    "another process building the same source's binary: up to three cold source builds",
)
# -- clusters ------------------------------------------------------------------------------------
REGISTRY_LOCK = _d(
    "clusters.registry-lock",
    600,
    "the host's cluster registry lock, held while another run sweeps or adopts clusters",
)
KEPT_FILE_LOCK = _d(
    "clusters.kept-file-lock", 60, "the note of kept clusters another worker of the run is writing"
)
SERVER_VERSION = _d("clusters.server-version", 60, "`kubectl version` of each cluster, noted for the reports")
EXISTING_PROBE = _d(
    "existing.probe", 30, "reading the user's kubeconfig contexts and asking each cluster for /version"
)
WATCH_CONNECT = _d("clusters.watch-connect", 5, "opening one API watch of a wait (clusters/watch.py)")
WATCH_READ_SLACK = _d(
    "clusters.watch-read-slack",
    15,
    "a watch read blocking past the server's own 60 s stream end: the connection is lost, reopen",
)
WATCH_CLOSE = _d("clusters.watch-close", 2, "a wait's watch threads ending once their streams are shut")
KIND_CREATE = _d("kind.create", 900, "image pull and boot of a node on a slow runner")
KIND_CREATE_WAIT = _d("kind.create-wait", 300, "kind create's own --wait for the control plane")
KIND_DELETE = _d("kind.delete", 300, "kind delete cluster, containers and network")
KIND_QUERY = _d("kind.query", 60, "kind get / docker inspect and other short queries")
KIND_LOAD = _d("kind.load-images", 900, "kind load of image archives into every node")
KIND_EXPORT_LOGS = _d(
    "kind.export-logs", 300, "kind export logs of one cluster (journal, kubelet, containerd, pods)"
)
KIND_NODES_READY = _d("kind.nodes-ready", 300, "every node Ready after kind create")
KIND_COREDNS = _d("kind.coredns", 300, "CoreDNS Available (pods resolve names only then)")
KIND_BRING_UP = _d(
    "kind.bring-up",
    2700,
    "the whole parallel bring-up of a cluster set: creations with retries, node preparation, image loads",
)
KIND_NODE_PROBE = _d("kind.node-probe", 30, "one kubectl read of a new cluster's nodes")
KIND_INTERRUPT = _d(
    "kind.interrupt-grace",
    30,
    "after an interrupt, kind and docker children of this run end before deletion starts",
)
CPK_LOCK = _d(
    "cpk.lock",
    120,
    "the cloud-provider-kind state lock, held while another process starts or stops the daemon",
)
CPK_STARTUP = _d(
    "cpk.startup-grace", 1, "a cloud-provider-kind that exits this soon after start did not start"
)
CPK_STOP = _d("cpk.stop", 20, "the cloud-provider-kind daemon's exit after SIGTERM (SIGKILL then)")
KWOK_CREATE = _d("kwok.create", 180, "kwokctl create cluster: etcd and the control plane binaries up")
KWOK_DELETE = _d("kwok.delete", 90, "kwokctl delete cluster")
KWOK_SCALE = _d("kwok.scale", 60, "kwokctl scale node")
KWOK_NODES_READY = _d("kwok.nodes-ready", 120, "the kwok node Ready")
KWOK_FORWARD = _d("kwok.forward-start", 10, "the API server forward listening at the namespace's address")
KWOK_FORWARD_CONNECT = _d(
    "kwok.forward-connect", 5, "one forwarded connection reaching the API server on loopback"
)
KWOK_ISTIOD_READY = _d("kwok.istiod-ready", 90, "the istiod host process answers its readiness port")
KWOK_ISTIOD_PROBE = _d("kwok.istiod-ready-probe", 2, "one request to the istiod host's readiness port")
KWOK_ISTIOD_API = _d(
    "kwok.istiod-api",
    30,
    "one kubectl call of the istiod stand-ins (read the Deployment, apply kwok Exec/Logs)",
)
KWOK_ISTIOD_STOP = _d("kwok.istiod-stop-grace", 10, "an istiod host process's exit after SIGTERM")
KWOK_LOG_FOLLOWER = _d(
    "kwok.log-follower-stop", 10, "the thread that rewrites a stand-in's log for kubectl logs ending"
)
KWOK_LB_API = _d("kwok.lb-api", 10, "one kubectl call of the LoadBalancer stand-in")
KWOK_LB_STOP = _d("kwok.lb-stop", 15, "the LoadBalancer stand-in's thread ending")
KWOK_PILOT_VERSION = _d("kwok.pilot-version", 60, "pilot-discovery version of a resolved binary")
KWOK_SWEEP_GRACE = _d(
    "kwok.sweep-grace",
    3,
    "processes of an earlier run's leftover namespaces: no data worth a graceful shutdown",
)
KWOK_STAND_INS_STOP = _d("kwok.stand-ins-stop", 60, "the istiod stand-ins' thread ending at teardown")
KWOK_HAPROXY_VERSION = _d("kwok.haproxy-version", 30, "`haproxy -v` of the host's HAProxy, at preflight")
KWOK_GATEWAY_POLL = _d(
    "kwok.gateway-poll",
    1,
    "the gateway stand-in's interval between reads of the Gateway, VirtualService and "
    "DestinationRule objects (a changed configuration is applied within it)",
)
KWOK_GATEWAY_API = _d(
    "kwok.gateway-api",
    20,
    "one API server read of the gateway stand-in (its Istio objects, Services, Deployments, a "
    "secret); its thread's end at teardown waits three of them",
)
KWOK_GATEWAY_CHECK = _d(
    "kwok.gateway-config-check", 30, "`haproxy -c` of the gateway stand-in's rendered configuration"
)
KWOK_GATEWAY_LISTEN = _d(
    "kwok.gateway-listen", 15, "a started HAProxy accepting connections on every listener's port"
)
KWOK_GATEWAY_CONNECT = _d(
    "kwok.gateway-listen-probe", 1, "one connection attempt to a listener of a just started HAProxy"
)
KWOK_GATEWAY_STOP = _d("kwok.gateway-stop-grace", 10, "an HAProxy's exit after SIGTERM (SIGKILL then)")
KWOK_HOSTNAME_LOOKUP = _d(
    "kwok.hostname-lookup",
    30,
    "`getent hosts` in a cluster's network namespace, resolving the test hostname as its API server does",
)
KWOK_PROXY_SYNC = _d("kwok.proxy-sync", 90, "a synthetic proxy's first CDS/EDS from istiod")
NETNS_IP = _d("netns.ip", 30, "one ip(8) call")
NETNS_SUBNET_LOCK = _d("netns.subnet-lock", 120, "the host-wide lock while a /24 and its bridge are chosen")
NETNS_KILL_GRACE = _d(
    "netns.kill-grace", 10, "processes in a deleted network namespace: SIGTERM, then SIGKILL after this"
)
NETNS_GONE_AFTER_KILL = _d(
    "netns.gone-after-kill",
    10,
    "processes of a network namespace gone after SIGKILL (milliseconds for an apiserver or etcd; "
    "one stuck longer keeps its namespace, reported)",
)
# -- install, upgrade ----------------------------------------------------------------------------
INSTALL_ISTIOCTL = _d("install.istioctl-install", 900, "istioctl install: it waits for its own components")
INSTALL_MANIFEST_APPLY = _d("install.manifest-apply", 300, "istioctl manifest generate | kubectl apply")
INSTALL_HELM = _d("install.helm-install", 600, "helm install --wait of the Sail operator")
INSTALL_WAIT = _d("install.wait", 300, "a wait step that names no deadline of its own")
INSTALL_REMOTE_SECRET = _d("install.remote-secret", 120, "istioctl create-remote-secret and its apply")
INSTALL_DELETE = _d("install.delete", 300, "a delete step (the namespace controller finalizes namespaces)")
INSTALL_UNINSTALL = _d("install.istioctl-uninstall", 300, "istioctl uninstall --purge: the guide's cleanup")
INSTALL_PUBLISH = _d(
    "install.publish-hostname", 300, "publishing the test hostname (CoreDNS rollout, nodes' hosts files)"
)
INSTALL_COMMAND = _d("install.command", 120, "any other install step's command")
UNINSTALL_GONE = _d(
    "install.uninstall-gone",
    300,
    "a cluster's deferred namespace and CRD deletions all gone, at the end of its uninstall chain",
)
UNINSTALL_SWEEP = _d(
    "install.uninstall-sweep", 30, "the sweep of what the run made until nothing comes back (a late istiod)"
)
INSTALL_POLL = _d("install.poll-command", 30, "one kubectl read of a poll")
INSTALL_CLUSTER_SET_LOCK = _d(
    "install.cluster-set-lock",
    4 * 3600,
    "another pytest process installing on the same clusters (a whole scenario)",
)
INSTALL_NODE_QUERY = _d("install.node-query", 60, "one docker exec into a kind node (hosts file, resolution)")
INSTALL_PROBE_RUN = _d(
    "install.hostname-probe-run",
    30,
    "the hostname probe's script run where a cluster's pods would run it (kwok: the host's curl in "
    "the cluster's network namespace), on top of the probe's own deadline",
)
INSTALL_PROBE_START = _d(
    "install.hostname-probe-start",
    120,
    "the hostname probe pod scheduled and its image pulled, on top of the probe's own deadline",
)
INSTALL_SNAPSHOT = _d("install.snapshot", 60, "one read of the clusters' state before the install")
INSTALL_RESTORE = _d("install.restore", 300, "the clusters back to their snapshot after the uninstall")
UPGRADE_PROBE_START = _d(
    "upgrade.probe-start", 120, "the traffic probe's first answer before the upgrade starts"
)
UPGRADE_ISTIOD = _d("upgrade.istiod", 600, "release B's istiod rolled out")
UPGRADE_GATEWAY = _d("upgrade.gateway-rollout", 300, "the gateway's rollout after its restart")
UPGRADE_POLL = _d("upgrade.poll", 30, "one kubectl read while the upgrade is watched")
UPGRADE_RESTART = _d("upgrade.restart", 60, "kubectl rollout restart of a workload")
UPGRADE_MAX_GAP = _d(
    "upgrade.max-gap",
    5,
    "the longest stretch the traffic probe may go without a success during the upgrade (a bound judged, not a wait)",
)
UPGRADE_PROBE_SETTLE = _d(
    "upgrade.probe-settle",
    60,
    "kwok's xDS-level probe (no request batches): its proxies settled on B after the last restart",
)
UPGRADE_XDS_PUSH_ALLOWANCE = _d(
    "upgrade.xds-push-allowance",
    5,
    "part of the xDS-level probe's bound: B's first CDS and EDS on a proxy's new stream (a bound judged, not a wait)",
)
# -- checks, diagnostics -------------------------------------------------------------------------
CHECK_READ = _d("check.read", 60, "one kubectl read of a check")
CHECK_CURL_CONNECT = _d(
    "check.curl-connect", 5, "one request's connect time, so a stuck request cannot eat a batch's deadline"
)
CHECK_CURL_MAX = _d("check.curl-max", 10, "one request's total time")
CHECK_TRAFFIC = _d(
    "check.traffic-convergence",
    300,
    "every request answered and every version seen before the measured batch",
)
CHECK_XDS = _d(
    "check.xds",
    90,
    "helloworld's route and endpoints at every client's proxy: istiod pushes EDS within a second of a pod "
    "becoming Ready; a second cluster's endpoints follow its remote secret's informer sync",
)
CHECK_CLUSTERS = _d(
    "check.istiod-clusters",
    60,
    "istiod registers a remote secret's cluster when its informer sees the Secret; the sync follows",
)
CHECK_PROXY_CONFIG = _d(
    "check.proxy-config-read",
    60,
    "reading one client sidecar's Envoy config dump (`pilot-agent request GET config_dump`)",
)
CHECK_INJECTION_SYNC = _d(
    "check.injection-sync", 120, "proxies connected and SYNCED; a push in flight leaves one STALE briefly"
)
DIAGNOSTICS = _d(
    "diagnostics.total", 300, "collecting a failed scenario's diagnostics (--diagnostics-timeout)"
)
DIAGNOSTICS_CALL = _d("diagnostics.per-call", 30, "one diagnostics command")
DIAGNOSTICS_REQUEST = _d("diagnostics.request", 20, "kubectl --request-timeout of a diagnostics read")
# -- the installer's waits, rendered into each scenario's plan (scenarios/common.py) --------------
for _name, (_default, _why) in STEP_DEADLINES.items():
    _d(STEP_PREFIX + _name, _default, _why)


class TimeoutsError(ValueError):
    """A bad ``--timeout`` value; the message names it and what is accepted."""


@dataclass
class _Active:
    overrides: Mapping[str, float]


_ACTIVE = _Active({})


def use(overrides: Mapping[str, float]) -> Mapping[str, float]:
    """Make ``overrides`` this process's (at configure); returns the previous ones to restore."""
    previous = _ACTIVE.overrides
    _ACTIVE.overrides = dict(overrides)
    return previous


def current() -> Mapping[str, float]:
    """This process's overrides."""
    return dict(_ACTIVE.overrides)


def step_overrides(overrides: Mapping[str, float]) -> dict[str, float]:
    """The overrides of the installer's waits, by their name in scenarios/common.py."""
    return {
        name.removeprefix(STEP_PREFIX): s for name, s in overrides.items() if name.startswith(STEP_PREFIX)
    }


def describe(overrides: Mapping[str, float]) -> str:
    """The table as ``--plan`` prints it: every deadline, its value for this run and why."""
    width = max(len(name) for name in TABLE)
    lines = ["# deadlines (change with --timeout NAME=SECONDS or --timeout FILE.yaml; run/timeouts.py):"]
    for deadline in TABLE.values():
        value = overrides.get(deadline.name, deadline.default_s)
        note = f" (default {deadline.default_s:g}s)" if deadline.name in overrides else ""
        lines.append(f"#   {deadline.name:<{width}} {value:>7g}s  {deadline.why}{note}")
    return "\n".join(lines)


def report_entry(overrides: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """What the conformance report records: every deadline of the run, and which were overridden."""
    return {
        "effective": {name: overrides.get(name, d.default_s) for name, d in TABLE.items()},
        "overridden": dict(overrides),
    }
