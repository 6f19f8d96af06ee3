"""What kwok clusters can do and what every kwok run stands in for (clusters/capabilities.py)."""

from __future__ import annotations

from clusters.capabilities import Capability, ProviderCapabilities

# The namespaces whose istiod Deployments a host process stands in for: the external control
# plane's (clusters/kwok/workloads.py).
ISTIOD_NAMESPACES = ("external-istiod",)

STAND_INS = (
    "LoadBalancer addresses (network-namespace hosts)",
    "nodes (kwok: no kubelet, no container runtime; pods get a status, never containers)",
)
CAPABILITIES = ProviderCapabilities(
    mode="kwok",
    clusters="kwok clusters",
    creates_clusters=True,
    # The test hostname goes into the clusters' own hosts files (clusters/kwok/hostnames.py).
    # istiod and the sidecars' xDS clients are host binaries: an Istio source's own builds run.
    supports=frozenset({Capability.PUBLISHES_HOSTNAMES, Capability.ISTIO_SOURCES}),
    lacks={
        Capability.REAL_DATA_PLANE: (
            "kwok mode runs no data plane: its pods get a status, never containers (no Envoy, no "
            "pod network, no operator image)"
        ),
        Capability.CONTAINER_LOGS: "kwok pods have no containers, so there are no container logs to read",
        Capability.CLUSTER_DNS: (
            "kwok clusters have no cluster DNS and no route to any DNS server: they resolve only the "
            "names the suite writes into their hosts files (a real --external-hostname too)"
        ),
        Capability.NODE_CONTAINERS: "kwok nodes are simulated: there is no node container to reach",
    },
    # The external istiod's pods: clusters/kwok/istiod_host.py routes their logs and exec
    # (kwok Logs/Exec). The external cluster's istio-system istiod is not run (STAND_INS).
    served_pods=tuple((namespace, {"app": "istiod"}) for namespace in ISTIOD_NAMESPACES),
    # True of every kwok-mode run, whatever else the provider notes.
    stands_in=(
        "nodes, pods and their status (simulated by KWOK: no container runtime, so no traffic through Envoy)",
    ),
)
