"""The gateway hostname inside a remote cluster: publish the suite's test name, prove a name works.

dns-tls with the suite's own test name (DESIGN §4) needs that name to resolve to the external
gateway's address where the remote cluster looks it up:

- **pods** (the proxies' ``discoveryAddress``, the probe below) ask the cluster DNS: a marked
  server block for exactly that name, holding a ``hosts`` entry, is appended to CoreDNS's
  Corefile (ConfigMap ``kube-system/coredns``). A server block of its own, not an entry in
  ``.:53``, because ``hosts`` may appear only once per server block and the cluster's may
  already use it. kubeadm's Corefile (what kind deploys) has ``reload``, so CoreDNS picks the
  change up by itself (ConfigMap volume sync plus the reload interval: up to about two
  minutes); without ``reload`` CoreDNS is restarted.
- **the API server** (webhook calls to ``injectionURL``/``validationURL``) is a hostNetwork
  static pod: it reads the copy of the node's ``/etc/hosts`` the kubelet wrote into
  ``/var/lib/kubelet/pods/<uid>/etc-hosts`` when the container started (kubelet
  ``ensureHostsFile``), and a static pod's UID is its ``kubernetes.io/config.hash``. So a
  marked line goes into the node's ``/etc/hosts`` (later restarts copy it) *and* into that
  copy (the running API server sees it), in every node container (``kind get nodes``), via
  ``docker exec``. Only kind clusters give this access; on existing clusters publishing is
  refused: a real name in real DNS (``--external-hostname``) is required there.

Everything is idempotent and undone exactly: removal deletes only the marked block and lines,
so the Corefile and hosts files come back byte for byte.

The precondition "hostname resolves and TLS verifies" is built here too (the installer runs
it): a short-lived pod with the release's curl sample image connects to each port and
verifies the certificate against the mesh root (a ConfigMap, never a key) or the image's
system roots; curl's exit code says what failed, and the message says what to fix.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from clusters.cluster import ClusterHandle
from programs.runner import CommandError, CommandResult, CommandRunner

COREDNS_NAMESPACE = "kube-system"
COREDNS_CONFIGMAP = "coredns"
COREDNS_DEPLOYMENT = "deployment/coredns"
COREFILE_KEY = "Corefile"
NODE_HOSTS = "/etc/hosts"
KUBELET_PODS_DIR = "/var/lib/kubelet/pods"
CONFIG_HASH_ANNOTATION = "kubernetes.io/config.hash"
APISERVER_SELECTOR = "component=kube-apiserver"
MARK = "eicp-published-hostname"
SCOPES = frozenset({"pods", "node"})
HOSTS_TTL_S = 30
QUERY_TIMEOUT_S = 60.0
CONFLICT_ATTEMPTS = 5

_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_STATIC_POD_UID = re.compile(r"^[0-9a-f-]{1,64}$")
_RELOAD = re.compile(r"^\s*reload(\s|$)", re.MULTILINE)
_NOT_FOUND = re.compile(r"\(NotFound\)|not found", re.IGNORECASE)
_CONFLICT = re.compile(r"\(Conflict\)|the object has been modified", re.IGNORECASE)


class PublishRefused(ValueError):
    """Publishing cannot be done here (bad input, or clusters the suite cannot reach into)."""


class HostnameFault(RuntimeError):
    """The cluster is not as publishing needs it (no CoreDNS ConfigMap, no node, no API server pod)."""


# -- input -------------------------------------------------------------------------------------


def check_hostname(hostname: str) -> str:
    """A DNS name (RFC 1123, lower case, at least two labels); the message says what is accepted."""
    labels = hostname.split(".")
    if len(hostname) > 253 or len(labels) < 2 or not all(_HOST_LABEL.match(label) for label in labels):
        raise PublishRefused(
            f"hostname {hostname!r} is not a DNS name the suite can publish: use lower-case labels of "
            "letters, digits and '-' (at most 63 characters each, 253 in all), separated by dots"
        )
    return hostname


def check_address(address: str, hostname: str) -> str:
    """The gateway's address as an IP: hosts entries map a name to an IP, never to another name."""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        raise PublishRefused(
            f"cannot publish {hostname} at {address!r}: the external gateway's LoadBalancer address is "
            "not an IP address, and hosts entries map names to IPs only; create a DNS record (e.g. a "
            f"CNAME to {address}) and pass it with --external-hostname"
        ) from None


def check_scopes(scopes: Sequence[object]) -> list[str]:
    wanted = [str(scope) for scope in scopes]
    unknown = sorted(set(wanted) - SCOPES)
    if unknown or not wanted:
        raise PublishRefused(
            f"publish scopes {wanted!r}: accepted are {', '.join(sorted(SCOPES))} (at least one)"
        )
    return wanted


# -- the Corefile --------------------------------------------------------------------------------


def _marks(hostname: str) -> tuple[str, str]:
    return f"# BEGIN {MARK} {hostname}", f"# END {MARK} {hostname}"


def corefile_block(hostname: str, address: str) -> str:
    """A server block answering exactly ``hostname`` from a ``hosts`` entry, between marks."""
    begin, end = _marks(hostname)
    return (
        f"{begin}\n"
        f"{hostname}:53 {{\n"
        f"    hosts {{\n"
        f"        {address} {hostname}\n"
        f"        ttl {HOSTS_TTL_S}\n"
        f"    }}\n"
        f"}}\n"
        f"{end}\n"
    )


def _block_pattern(hostname: str) -> re.Pattern[str]:
    begin, end = _marks(hostname)
    return re.compile(rf"\n{re.escape(begin)}\n.*?\n{re.escape(end)}\n", re.DOTALL)


def corefile_without(corefile: str, hostname: str) -> str:
    """The Corefile without the suite's block for ``hostname`` (unchanged when there is none)."""
    return _block_pattern(hostname).sub("", corefile)


def corefile_with(corefile: str, hostname: str, address: str) -> str:
    """The Corefile with exactly one suite block for ``hostname`` at ``address``, appended last.

    ``corefile_without(corefile_with(c, h, a), h) == c`` for any Corefile ``c`` without a block.
    """
    base = corefile_without(corefile, hostname)
    owner = re.search(rf"(?m)^\s*{re.escape(hostname)}(:\d+)?\s*\{{", base)
    if owner:
        raise PublishRefused(
            f"the cluster's Corefile already has a server block for {hostname} (not the suite's): "
            "the suite will not override it; use that name with --external-hostname instead"
        )
    return f"{base}\n{corefile_block(hostname, address)}"


def reloads_itself(corefile: str) -> bool:
    """Whether CoreDNS re-reads this Corefile on its own (the ``reload`` plugin)."""
    return bool(_RELOAD.search(corefile))


# -- hosts files on kind nodes -------------------------------------------------------------------


def hosts_mark(hostname: str) -> str:
    """Delimited on both sides, so the mark of one name is never part of another's."""
    return f"#{MARK}:{hostname}:"


def hosts_line(hostname: str, address: str) -> str:
    return f"{address} {hostname} {hosts_mark(hostname)}"


# Arguments: mark, line ("" removes), files. Writes in place (``cat >``): /etc/hosts in a
# container is a bind mount, which a rename (sed -i) cannot replace. A file already holding
# exactly the line is left untouched; removal rewrites only files that hold the mark.
HOSTS_EDIT_SCRIPT = r"""set -eu
mark=$1; line=$2; shift 2
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
for f in "$@"; do
  if [ ! -f "$f" ]; then echo "eicp: no file $f" >&2; exit 3; fi
  if grep -qF -- "$mark" "$f"; then
    grep -F -- "$mark" "$f" > "$tmp" || true
    if [ -n "$line" ] && [ "$(cat "$tmp")" = "$line" ]; then continue; fi
    grep -vF -- "$mark" "$f" > "$tmp" || true
    cat "$tmp" > "$f"
  fi
  if [ -n "$line" ]; then
    if [ -s "$f" ] && [ -n "$(tail -c 1 "$f")" ]; then printf '\n' >> "$f"; fi
    printf '%s\n' "$line" >> "$f"
  fi
done
"""


@dataclass(frozen=True)
class KindNodes:
    """The node containers of kind clusters: listed by ``kind``, entered with ``docker exec``."""

    runner: CommandRunner
    kind_bin: str
    docker_bin: str = "docker"

    def names(self, cluster: str) -> list[str]:
        result = self.runner.run(
            [self.kind_bin, "get", "nodes", "--name", cluster],
            timeout_s=QUERY_TIMEOUT_S,
            title=f"kind get nodes --name {cluster}",
        )
        names = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        if not names:
            raise HostnameFault(f"kind get nodes --name {cluster} listed no node containers")
        return names

    def shell(self, node: str, script: str, *args: str, title: str, check: bool = True) -> CommandResult:
        """``docker exec <node> sh -c <script> eicp <args...>``: values travel as arguments."""
        return self.runner.run(
            [self.docker_bin, "exec", node, "sh", "-c", script, "eicp", *args],
            timeout_s=QUERY_TIMEOUT_S,
            check=check,
            title=title,
        )

    def resolve(self, node: str, hostname: str) -> tuple[str | None, str]:
        """(first address, raw answer) of ``getent hosts`` on the node: what its resolver sees."""
        result = self.runner.run(
            [self.docker_bin, "exec", node, "getent", "hosts", hostname],
            timeout_s=QUERY_TIMEOUT_S,
            check=False,
            title=f"[{node}] getent hosts {hostname}",
        )
        fields = result.stdout.split()
        return (fields[0] if result.returncode == 0 and fields else None), (
            result.stdout.strip() or result.stderr.strip() or f"exit {result.returncode}"
        )


# -- publishing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostnamePublisher:
    """Publishes (or withdraws) one hostname in one cluster; ``nodes`` is None outside kind."""

    cluster: ClusterHandle
    nodes: KindNodes | None
    timeout_s: float = 300.0

    def publish(self, hostname: str, address: str, scopes: Sequence[object]) -> None:
        hostname, wanted = check_hostname(hostname), check_scopes(scopes)
        address = check_address(address, hostname)
        if self.nodes is None:
            raise PublishRefused(
                f"cannot publish the test hostname {hostname} in {self.cluster.name}: the suite reaches "
                "into kind node containers only, and the remote API server resolves webhook URLs "
                "through its node; on existing clusters pass --external-hostname with a name real DNS "
                f"resolves to the external gateway ({address}), and a certificate for it"
            )
        if "pods" in wanted:
            self._edit_corefile(hostname, lambda text: corefile_with(text, hostname, address))
        if "node" in wanted:
            self._edit_hosts_files(hostname, hosts_line(hostname, address))

    def withdraw(self, hostname: str, scopes: Sequence[object]) -> None:
        hostname, wanted = check_hostname(hostname), check_scopes(scopes)
        if self.nodes is None:
            return  # publishing is refused outside kind: nothing of the suite's can be there
        if "pods" in wanted:
            self._edit_corefile(hostname, lambda text: corefile_without(text, hostname), missing_ok=True)
        if "node" in wanted:
            self._edit_hosts_files(hostname, "")

    # -- CoreDNS ----------------------------------------------------------------------------

    def _edit_corefile(
        self, hostname: str, change: Callable[[str], str], *, missing_ok: bool = False
    ) -> None:
        def attempt() -> bool:
            configmap = self._coredns_configmap(missing_ok)
            if configmap is None:
                return False
            current = str((configmap.get("data") or {}).get(COREFILE_KEY, ""))
            wanted = change(current)
            if wanted == current:
                return False
            configmap.setdefault("data", {})[COREFILE_KEY] = wanted
            configmap.get("metadata", {}).pop("managedFields", None)
            # replace carries resourceVersion: a concurrent edit is a Conflict, never overwritten.
            self.cluster.kubectl(
                "replace",
                "-f",
                "-",
                stdin=json.dumps(configmap),
                timeout_s=QUERY_TIMEOUT_S,
                title=f"[{self.cluster.role}] kubectl replace configmap/{COREDNS_CONFIGMAP} "
                f"(Corefile block for {hostname})",
            )
            return not reloads_itself(wanted)

        retrying = Retrying(
            stop=stop_after_attempt(CONFLICT_ATTEMPTS),
            wait=wait_exponential(multiplier=0.2, max=2.0),
            retry=retry_if_exception(_is_conflict),
            reraise=True,
        )
        if retrying(attempt):
            self._restart_coredns()

    def _coredns_configmap(self, missing_ok: bool) -> dict[str, Any] | None:
        try:
            result = self.cluster.kubectl(
                "get",
                f"configmap/{COREDNS_CONFIGMAP}",
                "-n",
                COREDNS_NAMESPACE,
                "-o",
                "json",
                timeout_s=QUERY_TIMEOUT_S,
            )
        except CommandError as error:
            if not _NOT_FOUND.search(error.stderr):
                raise
            if missing_ok:
                return None
            raise HostnameFault(
                f"{self.cluster.name} has no ConfigMap {COREDNS_NAMESPACE}/{COREDNS_CONFIGMAP}: its cluster "
                "DNS is not CoreDNS as kubeadm/kind deploy it, so the suite cannot publish a test name; "
                "pass --external-hostname with a name real DNS resolves"
            ) from None
        configmap: dict[str, Any] = json.loads(result.stdout)
        return configmap

    def _restart_coredns(self) -> None:
        """CoreDNS without ``reload`` reads its Corefile only at start."""
        self.cluster.kubectl(
            "rollout", "restart", COREDNS_DEPLOYMENT, "-n", COREDNS_NAMESPACE, timeout_s=QUERY_TIMEOUT_S
        )
        self.cluster.kubectl(
            "rollout",
            "status",
            COREDNS_DEPLOYMENT,
            "-n",
            COREDNS_NAMESPACE,
            f"--timeout={int(self.timeout_s)}s",
            timeout_s=self.timeout_s + 30,
        )

    # -- node hosts files -------------------------------------------------------------------

    def _edit_hosts_files(self, hostname: str, line: str) -> None:
        assert self.nodes is not None
        apiservers = self._apiserver_hosts_files()
        for node in self.nodes.names(self.cluster.name):
            files = [NODE_HOSTS, *([apiservers[node]] if node in apiservers else [])]
            verb = "add" if line else "remove"
            self.nodes.shell(
                node,
                HOSTS_EDIT_SCRIPT,
                hosts_mark(hostname),
                line,
                *files,
                title=f"[{node}] {verb} the hosts entry of {hostname} in {', '.join(files)}",
            )

    def _apiserver_hosts_files(self) -> dict[str, str]:
        """node name -> the hosts file the running kube-apiserver container reads."""
        result = self.cluster.kubectl(
            "get", "pods", "-n", COREDNS_NAMESPACE, "-l", APISERVER_SELECTOR, "-o", "json",
            timeout_s=QUERY_TIMEOUT_S,
        )  # fmt: skip
        files: dict[str, str] = {}
        for pod in json.loads(result.stdout).get("items") or []:
            node = str((pod.get("spec") or {}).get("nodeName") or "")
            uid = str(((pod.get("metadata") or {}).get("annotations") or {}).get(CONFIG_HASH_ANNOTATION, ""))
            if node and _STATIC_POD_UID.match(uid):
                files[node] = f"{KUBELET_PODS_DIR}/{uid}/etc-hosts"
        if not files:
            raise HostnameFault(
                f"{self.cluster.name}: no kube-apiserver static pod ({APISERVER_SELECTOR}, annotation "
                f"{CONFIG_HASH_ANNOTATION}) in {COREDNS_NAMESPACE}: cannot reach the API server's hosts file"
            )
        return files


def _is_conflict(error: BaseException) -> bool:
    return isinstance(error, CommandError) and bool(_CONFLICT.search(error.stderr))


# -- the precondition: resolve, connect, verify ------------------------------------------------

PROBE_CA_DIR = "/etc/eicp-probe"
PROBE_CA_KEY = "ca.pem"
PROBE_CONTAINER = "probe"
PROBE_START_ALLOWANCE_S = 120  # scheduling and an image pull, on top of the probe's own deadline
PROBE_LINE = re.compile(r"^eicp-probe port=(\d+) rc=(\d+) ip=(\S*) (.*)$", re.MULTILINE)
# Exit codes after which the TLS handshake (and the verification) had succeeded: curl got as
# far as HTTP, and what the HTTP server behind the gateway answers is not this check's concern.
HANDSHAKE_DONE = frozenset({0, 8, 16, 18, 52, 56, 92})

# Arguments: hostname, deadline (s), pause between attempts (s), CA file ("" = system roots),
# ports. Every port must complete a verified handshake in the same attempt; the last attempt's
# failing curl exit code is the pod's exit code. -w prints the address curl connected to.
PROBE_SCRIPT = r"""host=$1; deadline=$2; pause=$3; cacert=$4; shift 4
err=/tmp/eicp-probe.err
end=$(( $(date +%s) + deadline ))
while :; do
  rc=0
  for port in "$@"; do
    if [ -n "$cacert" ]; then
      ip=$(curl -sS -o /dev/null --connect-timeout 5 --max-time 10 --cacert "$cacert" -w '%{remote_ip}' "https://$host:$port/" 2>"$err")
    else
      ip=$(curl -sS -o /dev/null --connect-timeout 5 --max-time 10 -w '%{remote_ip}' "https://$host:$port/" 2>"$err")
    fi
    rc=$?
    echo "eicp-probe port=$port rc=$rc ip=$ip $(head -n 1 "$err")"
    case $rc in @HANDSHAKE_DONE@) rc=0 ;; *) break ;; esac
  done
  if [ "$rc" -eq 0 ]; then exit 0; fi
  if [ "$(date +%s)" -ge "$end" ]; then exit "$rc"; fi
  sleep "$pause"
done
""".replace("@HANDSHAKE_DONE@", "|".join(str(code) for code in sorted(HANDSHAKE_DONE)))


@dataclass(frozen=True)
class ProbeRequest:
    """What the precondition checks, from where, and what the answer should be."""

    hostname: str
    ports: tuple[int, ...]
    namespace: str
    image: str
    ca_pem: bytes | None  # None: the image's system roots
    ca_description: str
    expected_address: str | None
    published: bool  # the suite published the name (else real DNS holds it)
    deadline_s: float
    pause_s: float = 3.0


def probe_names(suffix: str) -> tuple[str, str]:
    """(pod, ConfigMap) names of one probe run."""
    return f"eicp-gateway-probe-{suffix}", f"eicp-gateway-probe-ca-{suffix}"


def probe_manifests(request: ProbeRequest, suffix: str) -> list[dict[str, Any]]:
    """The CA ConfigMap (when a CA is given) and the probe Pod: never injected, bounded in time."""
    pod_name, configmap_name = probe_names(suffix)
    labels = {"app.kubernetes.io/managed-by": "eicp", "sidecar.istio.io/inject": "false"}
    ca_file = f"{PROBE_CA_DIR}/{PROBE_CA_KEY}" if request.ca_pem is not None else ""
    container: dict[str, Any] = {
        "name": PROBE_CONTAINER,
        "image": request.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c", PROBE_SCRIPT, "probe"],
        "args": [
            request.hostname,
            str(int(request.deadline_s)),
            f"{request.pause_s:g}",
            ca_file,
            *(str(port) for port in request.ports),
        ],
    }
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod_name, "namespace": request.namespace, "labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 0,
            "activeDeadlineSeconds": int(request.deadline_s) + PROBE_START_ALLOWANCE_S,
            "automountServiceAccountToken": False,
            "containers": [container],
        },
    }
    manifests: list[dict[str, Any]] = []
    if request.ca_pem is not None:
        manifests.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": configmap_name, "namespace": request.namespace, "labels": labels},
                "data": {PROBE_CA_KEY: request.ca_pem.decode()},
            }
        )
        container["volumeMounts"] = [{"name": "ca", "mountPath": PROBE_CA_DIR, "readOnly": True}]
        pod["spec"]["volumes"] = [{"name": "ca", "configMap": {"name": configmap_name}}]
    manifests.append(pod)
    return manifests


def client_image(sample_file: str, client: str) -> str | None:
    """The image of the sample client's Deployment (e.g. samples/curl/curl.yaml at the release)."""
    for document in yaml.safe_load_all(sample_file):
        if not isinstance(document, dict) or document.get("kind") != "Deployment":
            continue
        if (document.get("metadata") or {}).get("name") != client:
            continue
        containers = (((document.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
            "containers"
        ) or []
        if containers and containers[0].get("image"):
            return str(containers[0]["image"])
    return None


@dataclass(frozen=True)
class ProbeAttempt:
    port: int
    exit_code: int
    address: str
    message: str


def last_attempt(logs: str) -> ProbeAttempt | None:
    """The probe's last line: the port whose failure ended its last attempt (or the last success)."""
    found = list(PROBE_LINE.finditer(logs))
    if not found:
        return None
    last = found[-1]
    return ProbeAttempt(int(last.group(1)), int(last.group(2)), last.group(3), last.group(4).strip())


def probe_fault(request: ProbeRequest, exit_code: int, logs: str, where: str) -> str | None:
    """None when every port completed a verified handshake, else what failed and what to fix."""
    if exit_code in HANDSHAKE_DONE:
        return None
    attempt = last_attempt(logs)
    port = attempt.port if attempt else request.ports[0]
    target = f"{request.hostname}:{port}"
    said = f" (curl: {attempt.message})" if attempt and attempt.message else ""
    seen_ip = attempt.address if attempt and attempt.address else None
    gateway = request.expected_address or "the external gateway's LoadBalancer address"
    within = f"from {where} within {int(request.deadline_s)}s"
    if request.published:
        dns_fix = (
            f"the suite publishes it through the marked block in {COREDNS_NAMESPACE}/{COREDNS_CONFIGMAP}: "
            "check the block is in the Corefile and CoreDNS reloaded it (its logs show the reload)"
        )
    else:
        dns_fix = f"create a DNS record for {request.hostname} pointing at {gateway}"
    ip = f" ({seen_ip})" if seen_ip else ""
    if exit_code == 6:
        message = (
            f"{request.hostname} does not resolve {within}{said}; it must resolve to {gateway}: {dns_fix}"
        )
    elif exit_code == 7:
        message = (
            f"{target} resolves{f' to {seen_ip}' if seen_ip else ''} but the connection was refused or the "
            f"address is unreachable {within}{said}; expected the external gateway at {gateway} to listen "
            "on ports 15012/15017: is its LoadBalancer served (cloud-provider-kind in kind mode) and "
            "reachable from the remote cluster's network?"
        )
    elif exit_code == 28:
        message = (
            f"connecting to {target}{ip} timed out {within}{said}: a firewall, a wrong address, or a "
            f"LoadBalancer without endpoints; expected {gateway}"
        )
    elif exit_code == 35:
        message = (
            f"the TLS handshake with {target}{ip} failed {within}{said}: the external gateway has no "
            f"certificate for SNI {request.hostname}; check its Gateway server lists that host and its "
            "credentialName Secret exists in istio-system"
        )
    elif exit_code in (51, 60):
        message = (
            f"the certificate of {target}{ip} was not verified against {request.ca_description} "
            f"{within}{said}: the gateway certificate must be issued by that CA and carry the SAN "
            f"{request.hostname}"
        )
    else:
        message = f"probing {target}{ip} {within} failed with curl exit code {exit_code}{said}"
    return message


def pod_state(pod: dict[str, Any]) -> tuple[bool, str, int | None]:
    """(finished, state for messages, exit code) of the probe pod."""
    status = pod.get("status") or {}
    phase = str(status.get("phase") or "Pending")
    exit_code = None
    details = []
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        if "terminated" in state:
            exit_code = int(state["terminated"].get("exitCode", -1))
            details.append(f"terminated with exit code {exit_code}")
        elif "waiting" in state:
            waiting = state["waiting"]
            details.append(f"waiting: {waiting.get('reason', '')} {waiting.get('message', '')}".strip())
    finished = phase in ("Succeeded", "Failed") and exit_code is not None
    reason = status.get("reason")
    text = (
        f"phase {phase}" + (f" ({reason})" if reason else "") + (f"; {'; '.join(details)}" if details else "")
    )
    return finished, text, exit_code
