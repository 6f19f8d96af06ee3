"""What an Istio ingress gateway would do, read from the objects the suite applied (pure).

kwok runs no Envoy, so the external gateway is stood in by HAProxy (clusters/kwok/gateway_proxy.py).
This module decides what that proxy must do, from the objects read back from the external API
server, the way istiod would configure the gateway's Envoy:

- the **workload**: a LoadBalancer Service (its test host's address, its ports) and the pod
  labels of the Deployments it selects; a ``Gateway`` applies when its ``selector`` is a subset
  of those labels (any namespace: ``PILOT_SCOPE_GATEWAY_TO_NAMESPACE`` is off by default);
- each Gateway **server** becomes a listener on every Service port whose ``targetPort`` is the
  server's port: ``PASSTHROUGH`` (protocol TLS or HTTPS) forwards TLS untouched by the
  VirtualService's ``tls`` routes (``sniHosts``; ``"*"`` matches any or no SNI), ``SIMPLE``
  with ``credentialName`` terminates TLS for the server's hosts only (another or no SNI is
  refused, as Envoy finds no filter chain) and routes HTTP by the VirtualService's ``http``
  routes (``match.port``) and hosts;
- each route's **destination** is a Service (``name.namespace.svc[.cluster.local]``): its port
  gives the target port, and the address is where the suite's stand-in for that Service's pods
  listens (kwok pods run nothing);
- the **DestinationRule** of the destination host (``portLevelSettings`` for the port, else the
  top-level ``trafficPolicy``) says how to re-originate: ``DISABLE`` or none (plain), or
  ``SIMPLE`` with the CA of its ``credentialName`` secret (read in the gateway's namespace, as
  the gateway's SDS reads it), else the system roots (Istio's default CA path ``system``,
  pilot/pkg/networking/core/cluster_tls.go ``constructUpstreamTLS``); its ``sni`` when it is
  its one ``subjectAltNames``, or neither: auto SNI and SAN validation from the request's
  host (``setAutoSniAndAutoSanValidation``); HTTP/2 upstream when ``h2UpgradePolicy: UPGRADE`` or
  the Service port's protocol is HTTP/2 or gRPC (``setUpstreamProtocol``), with ALPN ``h2``.

Anything else (weights, URI matches, mutual TLS, named target ports, other SNI/SAN pairs) is not
stood in: it is listed in ``Plan.unsupported`` and that route or listener is left out, never
approximated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Obj = Mapping[str, Any]
SYSTEM_ROOTS = "system"  # Istio's name for the OS CA bundle (a DestinationRule without a CA)
H2_PROTOCOLS = ("grpc", "grpc-web", "http2")


@dataclass(frozen=True)
class UpstreamTls:
    """Verify the upstream against ``ca`` and the name sent as SNI: ``sni`` (a DestinationRule
    ``sni`` equal to its one ``subjectAltNames``), or ``None`` for the request's host (Istio's
    auto SNI with auto SAN validation, when the DestinationRule sets neither)."""

    ca: str  # a secret reference "<namespace>/<name>" holding a CA, or SYSTEM_ROOTS
    sni: str | None


@dataclass(frozen=True)
class Upstream:
    address: str
    port: int
    tls: UpstreamTls | None = None
    h2: bool = False


@dataclass(frozen=True)
class Route:
    hosts: tuple[str, ...]  # terminate: Host header names; passthrough: SNI names; "*" = any
    upstream: Upstream


@dataclass(frozen=True)
class Listener:
    address: str
    port: int  # the Service port the LoadBalancer exposes
    mode: Literal["passthrough", "terminate"]
    server_hosts: tuple[str, ...]  # the Gateway server's hosts (terminate: the SNI it accepts)
    credential: str | None  # terminate: "<namespace>/<secret>" holding tls.crt/tls.key
    routes: tuple[Route, ...]


@dataclass
class Plan:
    listeners: list[Listener] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Workload:
    """A gateway's LoadBalancer Service, its address, and the labels of the pods it selects."""

    namespace: str
    service: Obj
    address: str
    pod_labels: Mapping[str, str]


Backend = Callable[[str, Obj], str | None]  # (namespace, Service) -> where its pods' stand-in listens


@dataclass(frozen=True)
class Objects:
    """What the plan is made from, as read back from the external API server."""

    gateways: Sequence[Obj]
    virtual_services: Sequence[Obj]
    destination_rules: Sequence[Obj]
    services: Mapping[tuple[str, str], Obj]  # (namespace, name) -> Service


def _spec(obj: Obj) -> Obj:
    spec: Obj = obj.get("spec") or {}
    return spec


def _meta(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or "default"), str(meta.get("name") or "")


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def _strip_namespace(host: str) -> str:
    return host.split("/", 1)[1] if "/" in host else host


def hosts_match(route_hosts: Sequence[str], server_hosts: Sequence[str]) -> bool:
    return "*" in route_hosts or "*" in server_hosts or bool(set(route_hosts) & set(server_hosts))


def bound_to(vs: Obj, gateway: Obj) -> bool:
    """Whether the VirtualService names the Gateway (``ns/name``, or ``name`` in its own namespace)."""
    gw_ns, gw_name = _meta(gateway)
    vs_ns = _meta(vs)[0]
    for ref in _spec(vs).get("gateways") or []:
        ns, _, name = str(ref).rpartition("/")
        if name == gw_name and (ns or vs_ns) == gw_ns:
            return True
    return False


def service_ref(host: str, namespace: str) -> tuple[str, str] | None:
    """(namespace, name) of the Service a destination host names, else None."""
    parts = host.split(".")
    if len(parts) == 1:
        return namespace, parts[0]
    if len(parts) >= 3 and parts[2] == "svc" and (len(parts) == 3 or parts[3:] == ["cluster", "local"]):
        return parts[1], parts[0]
    if len(parts) == 2:
        return parts[1], parts[0]
    return None


def _port_protocol(port: Obj) -> str:
    app = str(port.get("appProtocol") or "").lower()
    return app or str(port.get("name") or "").lower().split("-", 1)[0]


def _dr_tls(rules: Sequence[Obj], host: str, namespace: str, port: int) -> tuple[Obj | None, Obj | None]:
    """(tls, connectionPool) of the DestinationRule for ``host`` at ``port``."""
    for rule in rules:
        if service_ref(str(_spec(rule).get("host") or ""), _meta(rule)[0]) != service_ref(host, namespace):
            continue
        policy = _spec(rule).get("trafficPolicy") or {}
        for level in policy.get("portLevelSettings") or []:
            if int((level.get("port") or {}).get("number") or 0) == port:
                return level.get("tls"), level.get("connectionPool")
        return policy.get("tls"), policy.get("connectionPool")
    return None, None


@dataclass
class Planner:
    """Builds the ``Plan`` of one gateway workload."""

    objects: Objects
    backend: Backend
    plan: Plan = field(default_factory=Plan)
    _namespace: str = ""  # the gateway workload's: where its credentialName secrets are read

    def build(self, workload: Workload) -> Plan:
        self._namespace = workload.namespace
        ports = [
            p for p in _spec(workload.service).get("ports") or [] if str(p.get("protocol") or "TCP") == "TCP"
        ]
        for gateway in self.objects.gateways:
            if not selects(_spec(gateway).get("selector") or {}, workload.pod_labels):
                continue
            for server in _spec(gateway).get("servers") or []:
                self._server(workload, gateway, server, ports)
        return self.plan

    def _server(self, workload: Workload, gateway: Obj, server: Obj, ports: Sequence[Obj]) -> None:
        where = f"Gateway {'/'.join(_meta(gateway))} port {(server.get('port') or {}).get('number')}"
        number = int((server.get("port") or {}).get("number") or 0)
        protocol = str((server.get("port") or {}).get("protocol") or "").upper()
        tls = server.get("tls") or {}
        mode = str(tls.get("mode") or "")
        hosts = tuple(_strip_namespace(str(h)) for h in server.get("hosts") or [])
        if protocol in ("TLS", "HTTPS") and mode == "PASSTHROUGH":
            kind: Literal["passthrough", "terminate"] = "passthrough"
        elif protocol == "HTTPS" and mode == "SIMPLE" and tls.get("credentialName"):
            kind = "terminate"
        else:
            self.plan.unsupported.append(f"{where}: protocol {protocol} with TLS mode {mode or 'none'}")
            return
        exposed = [int(p["port"]) for p in ports if _target(p) == number]
        if not exposed:
            self.plan.unsupported.append(
                f"{where}: no port of Service {workload.namespace}/{_meta(workload.service)[1]} targets it"
            )
            return
        routes = tuple(self._routes(gateway, number, hosts, kind, where))
        credential = f"{workload.namespace}/{tls['credentialName']}" if kind == "terminate" else None
        for port in exposed:
            self.plan.listeners.append(Listener(workload.address, port, kind, hosts, credential, routes))

    def _routes(
        self, gateway: Obj, number: int, server_hosts: tuple[str, ...], kind: str, where: str
    ) -> list[Route]:
        routes: list[Route] = []
        section = "tls" if kind == "passthrough" else "http"
        for vs in self.objects.virtual_services:
            vs_hosts = tuple(str(h) for h in _spec(vs).get("hosts") or [])
            if not bound_to(vs, gateway) or not hosts_match(vs_hosts, server_hosts):
                continue
            what = f"{where}, VirtualService {'/'.join(_meta(vs))}"
            for index, rule in enumerate(_spec(vs).get(section) or []):
                route = self._route(vs, rule, number, vs_hosts, kind, f"{what} {section}[{index}]")
                if route is not None:
                    routes.append(route)
        return routes

    def _route(
        self, vs: Obj, rule: Obj, number: int, vs_hosts: tuple[str, ...], kind: str, what: str
    ) -> Route | None:
        matches = rule.get("match") or [{}]
        ours = [m for m in matches if int(m.get("port") or number) == number]
        if not ours:
            return None
        allowed = {"port", "sniHosts"} if kind == "passthrough" else {"port"}
        extra = sorted({key for m in ours for key in m} - allowed)
        destinations = rule.get("route") or []
        if extra or len(destinations) != 1:
            self.plan.unsupported.append(
                f"{what}: {'match on ' + ', '.join(extra) if extra else f'{len(destinations)} destinations'}"
            )
            return None
        hosts = vs_hosts
        if kind == "passthrough":
            hosts = tuple(str(h) for m in ours for h in m.get("sniHosts") or []) or vs_hosts
        upstream = self._upstream(_meta(vs)[0], destinations[0].get("destination") or {}, kind, what)
        return Route(hosts, upstream) if upstream is not None else None

    def _upstream(self, namespace: str, destination: Obj, kind: str, what: str) -> Upstream | None:
        host = str(destination.get("host") or "")
        ref = service_ref(host, namespace)
        service = self.objects.services.get(ref) if ref else None
        if ref is None or service is None:
            self.plan.unsupported.append(f"{what}: destination {host} is no Service of the external cluster")
            return None
        number = int((destination.get("port") or {}).get("number") or 0)
        ports = [
            p for p in _spec(service).get("ports") or [] if int(p.get("port") or 0) == number or not number
        ]
        if len(ports) != 1 or not isinstance(_target(ports[0]), int):
            self.plan.unsupported.append(
                f"{what}: Service {'/'.join(ref)} has no single numbered port {number}"
            )
            return None
        address = self.backend(ref[0], service)
        if address is None:
            self.plan.unsupported.append(
                f"{what}: nothing stands in for the pods of Service {'/'.join(ref)} yet"
            )
            return None
        target = int(_target(ports[0]))
        if kind == "passthrough":
            return Upstream(address, target)
        tls, pool = _dr_tls(self.objects.destination_rules, host, namespace, int(ports[0]["port"]))
        h2 = str(((pool or {}).get("http") or {}).get("h2UpgradePolicy") or "") == "UPGRADE" or (
            _port_protocol(ports[0]) in H2_PROTOCOLS
        )
        if not _expressible(tls):
            self.plan.unsupported.append(f"{what}: DestinationRule TLS {dict(tls or {})}")
            return None
        return Upstream(address, target, self._upstream_tls(tls), h2)

    def _upstream_tls(self, tls: Obj | None) -> UpstreamTls | None:
        if tls is None or str(tls.get("mode") or "DISABLE") == "DISABLE":
            return None
        credential = tls.get("credentialName")
        return UpstreamTls(
            ca=f"{self._namespace}/{credential}" if credential else SYSTEM_ROOTS,
            sni=str(tls["sni"]) if tls.get("sni") else None,
        )


def _expressible(tls: Obj | None) -> bool:
    """DISABLE, or SIMPLE where the name verified is the name sent: no ``sni`` nor SANs (auto
    SNI and SAN validation), or an ``sni`` that is the one SAN (HAProxy verifies the SNI)."""
    if tls is None or str(tls.get("mode") or "DISABLE") == "DISABLE":
        return True
    sni, sans = tls.get("sni"), list(tls.get("subjectAltNames") or [])
    names_ok = (not sni and not sans) or (bool(sni) and sans == [sni])
    return str(tls.get("mode")) == "SIMPLE" and not tls.get("caCertificates") and names_ok


def _target(port: Obj) -> int | str:
    target = port.get("targetPort")
    if target is None:
        return int(port.get("port") or 0)
    return int(target) if isinstance(target, int) or str(target).isdigit() else str(target)
