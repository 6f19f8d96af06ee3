"""Run-time facts a scenario is rendered from, and the protocol for learning them mid-install.

Some facts exist only after part of the install ran (the external gateway's LoadBalancer
address). A step that learns one names it in ``params["provides"]``; the installer runs the
plan in order and, after such a step, re-renders with the new fact and continues with the
next step. Rendering therefore must not change the steps *before* a ``provides`` step when
the fact arrives. Unknown facts render as visible placeholders (``--plan`` shows them).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from scenarios.steps import Role

IngressChoice = Literal["istio", "gateway-api", "both"]
EgressGatewayChoice = Literal["none", "helm"]

PLACEHOLDER_ADDR = "<EXTERNAL_ISTIOD_ADDR>"


def placeholder(name: str) -> str:
    return f"<{name.upper()}>"


@dataclass(frozen=True)
class Facts:
    # Cluster names as Istio knows them (remote secret names, injection path), per role.
    cluster_names: dict[Role, str] = field(default_factory=dict)
    # API server URL of each remote as reached from the external cluster.
    api_servers: dict[Role, str] = field(default_factory=dict)
    # The external gateway's LoadBalancer address (learnt mid-install). ip-passthrough and sail
    # hand it to the remotes; dns-tls publishes its hostname at this address.
    external_istiod_addr: str | None = None
    # dns-tls: a real DNS name for the gateway (None: the suite's per-run test name, which the
    # suite makes resolvable itself) and the gateway's TLS secret name in istio-system.
    external_hostname: str | None = None
    external_tls_secret: str = "external-istiod-gw-cert"
    # dns-tls: True when the gateway certificate comes from the suite's per-run PKI (the
    # installer creates the secret above); False when the user's secret holds a certificate
    # from a CA the proxies and API servers already trust.
    suite_pki: bool = True
    # dns-tls: base64 of the per-run PKI root (PEM), the caBundle of the remote webhooks. It
    # is public; the installer sets it once the PKI exists (None renders a placeholder).
    mesh_root_ca_bundle: str | None = None
    # dns-tls with the user's secret given as a manifest (kwok: --external-tls-secret-file): the
    # file the installer creates the secret from, and base64 of its ca.crt (public), the caBundle.
    external_tls_secret_file: str | None = None
    external_tls_ca_bundle: str | None = None
    # False when the clusters resolve no name but those the suite publishes (kwok: no cluster
    # DNS, no route to any DNS server): a real --external-hostname is published there too.
    clusters_have_dns: bool = True
    # The sample's ingress variant(s).
    ingress: IngressChoice = "istio"
    # The guide's optional egress gateway on the remote (--egress-gateway): none, or helm.
    egress_gateway: EgressGatewayChoice = "none"
    # second-remote: the scenario it builds on.
    second_remote_base: str = "ip-passthrough"
    # Overridden deadlines of the installer's waits (scenarios/common.py STEP_DEADLINES).
    step_deadlines: dict[str, float] = field(default_factory=dict)
    # Workarounds of known issues the user asked for (scenarios/workarounds.py).
    workarounds: frozenset[str] = frozenset()

    def with_fact(self, name: str, value: str) -> Facts:
        if name == "external_istiod_addr":
            return replace(self, external_istiod_addr=value)
        if name == "external_hostname":
            return replace(self, external_hostname=value)
        raise ValueError(
            f"unknown fact {name!r}: facts learnt mid-install are external_istiod_addr, external_hostname"
        )

    @property
    def addr(self) -> str:
        return self.external_istiod_addr or PLACEHOLDER_ADDR
