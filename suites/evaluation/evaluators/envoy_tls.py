"""The transport a sidecar uses to one endpoint of a cluster, by Envoy's rule.

Envoy's rule (``envoy.config.cluster.v3.Cluster.transport_socket_matches``, implemented in
``source/common/upstream/transport_socket_match_impl.cc``): the first entry whose ``match`` is a
subset of the endpoint's ``envoy.transport_socket_match`` metadata is used (an empty ``match``
matches any endpoint); with none, the cluster's ``transport_socket``; with neither, plaintext.
Istio's auto mTLS sends ``tlsMode-istio`` (``match: {tlsMode: istio}``, TLS) then
``tlsMode-disabled`` (``match: {}``, plaintext) and labels the endpoints of injected pods and
east-west gateways ``tlsMode: istio``.

Istio mutual TLS (``ISTIO_MUTUAL``) is recognised by its shape: an ``UpstreamTlsContext`` whose
certificate is the SDS secret ``default`` and whose validation context is the SDS secret
``ROOTCA``, the names istio-agent serves (Istio's ``pkg/security``:
``WorkloadKeyCertResourceName``, ``RootCertReqResourceName``).
"""

from __future__ import annotations

from dataclasses import dataclass

from suites.evaluation.evaluators.envoy_config import Obj, get

ISTIO_MUTUAL = "ISTIO_MUTUAL"
PLAINTEXT = "plaintext"
TLS_SOCKET = "envoy.transport_sockets.tls"
MATCH_KEY = "envoy.transport_socket_match"
WORKLOAD_SECRET = "default"
ROOT_SECRET = "ROOTCA"


@dataclass(frozen=True)
class Transport:
    mode: str  # ISTIO_MUTUAL, TLS (another TLS origination) or plaintext
    how: str  # which entry of the cluster chose it

    def describe(self) -> str:
        return f"{self.mode} ({self.how})"


def transport_to(cluster: Obj, endpoint_metadata: Obj) -> Transport:
    labels = get(get(endpoint_metadata, "filter_metadata"), MATCH_KEY) or {}
    for entry in get(cluster, "transport_socket_matches", []) or []:
        wanted = get(entry, "match") or {}
        if all(labels.get(key) == value for key, value in wanted.items()):
            name = get(entry, "name", "?")
            return Transport(_mode(get(entry, "transport_socket")), f"transport socket match {name}")
    socket = get(cluster, "transport_socket")
    if socket is not None:
        return Transport(_mode(socket), "the cluster's transport socket")
    return Transport(PLAINTEXT, "no transport socket")


def _mode(socket: Obj | None) -> str:
    """ISTIO_MUTUAL, TLS or plaintext for a transport socket (wrappers such as
    ``internal_upstream`` are looked through to the socket they wrap)."""
    if socket is None:
        return PLAINTEXT
    config = get(socket, "typed_config") or {}
    inner = get(config, "transport_socket")
    if inner is not None:
        return _mode(inner)
    if get(socket, "name") != TLS_SOCKET and "UpstreamTlsContext" not in str(config.get("@type", "")):
        return PLAINTEXT
    common = get(config, "common_tls_context") or {}
    certificates = {get(c, "name") for c in get(common, "tls_certificate_sds_secret_configs", []) or []}
    combined = get(get(common, "combined_validation_context"), "validation_context_sds_secret_config")
    validation = get(combined or get(common, "validation_context_sds_secret_config"), "name")
    if WORKLOAD_SECRET in certificates and validation == ROOT_SECRET:
        return ISTIO_MUTUAL
    return "TLS"
