"""The precondition "hostname resolves and TLS verifies": the probe pod, its script, its verdict."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from install.hostname.publisher import COREDNS_CONFIGMAP, COREDNS_NAMESPACE
from run.timeouts import INSTALL_PROBE_START

PROBE_CA_DIR = "/etc/eicp-probe"
PROBE_CA_KEY = "ca.pem"
PROBE_CONTAINER = "probe"
PROBE_LINE = re.compile(r"^eicp-probe port=(\d+) rc=(\d+) ip=(\S*) (.*)$", re.MULTILINE)
# Exit codes after which the TLS handshake (and the verification) had succeeded: curl got as
# far as HTTP, and what the HTTP server behind the gateway answers is not this check's concern.
HANDSHAKE_DONE = frozenset({0, 8, 16, 18, 52, 56, 92})

# Arguments: hostname, deadline (s), pause between attempts (s), CA file ("" = system roots),
# ports. Every port must complete a verified handshake in the same attempt; the last attempt's
# failing curl exit code is the pod's exit code. -w prints the address curl connected to.
PROBE_SCRIPT = r"""host=$1; deadline=$2; pause=$3; cacert=$4; shift 4
err=/tmp/eicp-probe.$$.err; trap 'rm -f "$err"' EXIT
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
    # Where a provider publishes it (messages); None: kind's CoreDNS block and node hosts files.
    published_how: str | None = None


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
        "args": probe_args(request, ca_file),
    }
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod_name, "namespace": request.namespace, "labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 0,
            "activeDeadlineSeconds": int(request.deadline_s) + INSTALL_PROBE_START.seconds(),
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


def probe_args(request: ProbeRequest, ca_file: str) -> list[str]:
    """The script's arguments: hostname, deadline, pause, CA file ("" = system roots), ports."""
    return [
        request.hostname,
        str(int(request.deadline_s)),
        f"{request.pause_s:g}",
        ca_file,
        *(str(port) for port in request.ports),
    ]


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
    if request.published and request.published_how is not None:
        dns_fix = f"the suite publishes it as {request.published_how}: check it is there"
    elif request.published:
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
