"""The gateway hostname inside a remote cluster: publish the suite's test name, prove a name works.

dns-tls with the suite's own test name (the README says how dns-tls works on kind without
public DNS) needs that name to resolve to the external gateway's address where the remote
cluster looks it up:

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

from install.hostname.corefile import (
    HOSTS_TTL_S,
    corefile_block,
    corefile_with,
    corefile_without,
    reloads_itself,
)
from install.hostname.names import (
    MARK,
    SCOPES,
    HostnameFault,
    PublishRefused,
    check_address,
    check_hostname,
    check_scopes,
)
from install.hostname.nodes import HOSTS_EDIT_SCRIPT, KindNodes, hosts_line, hosts_mark
from install.hostname.probe import (
    HANDSHAKE_DONE,
    PROBE_CA_DIR,
    PROBE_CA_KEY,
    PROBE_CONTAINER,
    PROBE_LINE,
    PROBE_SCRIPT,
    ProbeAttempt,
    ProbeRequest,
    client_image,
    last_attempt,
    pod_state,
    probe_args,
    probe_fault,
    probe_manifests,
    probe_names,
)
from install.hostname.publisher import (
    APISERVER_SELECTOR,
    CONFIG_HASH_ANNOTATION,
    COREDNS_CONFIGMAP,
    COREDNS_DEPLOYMENT,
    COREDNS_NAMESPACE,
    COREFILE_KEY,
    KUBELET_PODS_DIR,
    NODE_HOSTS,
    HostnamePublisher,
)

__all__ = [
    "APISERVER_SELECTOR",
    "CONFIG_HASH_ANNOTATION",
    "COREDNS_CONFIGMAP",
    "COREDNS_DEPLOYMENT",
    "COREDNS_NAMESPACE",
    "COREFILE_KEY",
    "HANDSHAKE_DONE",
    "HOSTS_EDIT_SCRIPT",
    "HOSTS_TTL_S",
    "KUBELET_PODS_DIR",
    "MARK",
    "NODE_HOSTS",
    "PROBE_CA_DIR",
    "PROBE_CA_KEY",
    "PROBE_CONTAINER",
    "PROBE_LINE",
    "PROBE_SCRIPT",
    "SCOPES",
    "HostnameFault",
    "HostnamePublisher",
    "KindNodes",
    "ProbeAttempt",
    "ProbeRequest",
    "PublishRefused",
    "check_address",
    "check_hostname",
    "check_scopes",
    "client_image",
    "corefile_block",
    "corefile_with",
    "corefile_without",
    "hosts_line",
    "hosts_mark",
    "last_attempt",
    "pod_state",
    "probe_args",
    "probe_fault",
    "probe_manifests",
    "probe_names",
    "reloads_itself",
]
