"""What the clusters of a topology mode can do: the words scenarios and checks name their needs in.

Modelled on the Gateway API conformance suite's ``SupportedFeatures``: each cluster provider
declares which of these its clusters support, and why it lacks the others
(clusters/capabilities.py ``ProviderCapabilities``); a scenario (scenarios/registry.py
``ScenarioSpec.needs``) or a check (the ``needs`` / ``only_with`` marks of suites/) that needs
one its clusters lack is skipped with both reasons, by one decision (suites/applicability.py).
"""

from __future__ import annotations

from enum import StrEnum


class Capability(StrEnum):
    # Pods run their containers: Envoy sidecars and gateways carry real traffic, operators run.
    REAL_DATA_PLANE = "real-data-plane"
    # ``kubectl logs`` returns what a pod's containers printed.
    CONTAINER_LOGS = "container-logs"
    # The suite can make its own test hostname resolve in the clusters (pods, nodes, API servers).
    PUBLISHES_HOSTNAMES = "publishes-hostnames"
    # The clusters resolve names through DNS, so a real --external-hostname resolves there
    # without the suite publishing it.
    CLUSTER_DNS = "cluster-dns"
    # The nodes are containers the suite reaches with kind and docker (their hosts files,
    # ``kind export logs``).
    NODE_CONTAINERS = "node-containers"
    # The clusters run the Istio control plane from host binaries, no images: an Istio source
    # build (istioctl, pilot-discovery, the synthetic proxy) can be certified on them
    # (--istio-source, --upgrade-to-source).
    ISTIO_SOURCES = "istio-sources"
