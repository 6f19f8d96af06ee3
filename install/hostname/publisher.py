"""Publishing (and withdrawing) the suite's test hostname in one kind cluster."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from clusters.cluster import ClusterHandle
from install.hostname.corefile import corefile_with, corefile_without, reloads_itself
from install.hostname.names import HostnameFault, PublishRefused, check_address, check_hostname, check_scopes
from install.hostname.nodes import HOSTS_EDIT_SCRIPT, KindNodes, hosts_line, hosts_mark
from programs.runner import CommandError
from programs.waits import Backoff, retry
from run.timeouts import INSTALL_NODE_QUERY, INSTALL_PUBLISH

COREDNS_NAMESPACE = "kube-system"
COREDNS_CONFIGMAP = "coredns"
COREDNS_DEPLOYMENT = "deployment/coredns"
COREFILE_KEY = "Corefile"
NODE_HOSTS = "/etc/hosts"
KUBELET_PODS_DIR = "/var/lib/kubelet/pods"
CONFIG_HASH_ANNOTATION = "kubernetes.io/config.hash"
APISERVER_SELECTOR = "component=kube-apiserver"
CONFLICT_ATTEMPTS = 5

_STATIC_POD_UID = re.compile(r"^[0-9a-f-]{1,64}$")
_NOT_FOUND = re.compile(r"\(NotFound\)|not found", re.IGNORECASE)
_CONFLICT = re.compile(r"\(Conflict\)|the object has been modified", re.IGNORECASE)


@dataclass(frozen=True)
class HostnamePublisher:
    """Publishes (or withdraws) one hostname in one cluster; ``nodes`` is None outside kind."""

    cluster: ClusterHandle
    nodes: KindNodes | None
    timeout_s: float = field(default_factory=INSTALL_PUBLISH.seconds)

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
                timeout_s=INSTALL_NODE_QUERY.seconds(),
                title=f"[{self.cluster.role}] kubectl replace configmap/{COREDNS_CONFIGMAP} "
                f"(Corefile block for {hostname})",
            )
            return not reloads_itself(wanted)

        changed = retry(
            f"the Corefile edit in {self.cluster.name}",
            attempt,
            CONFLICT_ATTEMPTS,
            transient=_is_conflict,
            backoff=Backoff(0.2, 2.0),
        )
        if changed:
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
                timeout_s=INSTALL_NODE_QUERY.seconds(),
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
            "rollout",
            "restart",
            COREDNS_DEPLOYMENT,
            "-n",
            COREDNS_NAMESPACE,
            timeout_s=INSTALL_NODE_QUERY.seconds(),
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
            timeout_s=INSTALL_NODE_QUERY.seconds(),
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
