"""An Envoy config dump as plain data, and the route a request takes through it.

The dump is Envoy's admin ``/config_dump?include_eds=true`` (``envoy.admin.v3.ConfigDump``:
what ``istioctl proxy-config all -o json`` prints and ``pilot-agent request GET config_dump``
returns) or the same shape written by kwok mode's synthetic proxy (programs/xdsclient). Envoy
writes proto field names (``lb_endpoints``); protobuf's JSON form may use lowerCamelCase
(``lbEndpoints``): both are read.

Routing follows Envoy's documented rules (the ``envoy.config.route.v3`` API): the listener on
the destination port names its route configuration (HTTP connection manager ``rds``); a virtual
host is chosen by the Host header (without its port when the route configuration sets
``ignore_port_in_host_matching``, as Istio's do, or the connection manager strips it), exact
domains first, then the longest suffix wildcard
(``*.example``), then the longest prefix wildcard (``example.*``), then ``*``; the first route
whose match accepts the path wins; its action names one cluster or weighted clusters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Obj = Mapping[str, Any]
HCM = "envoy.filters.network.http_connection_manager"


def get(obj: Obj | None, name: str, default: Any = None) -> Any:
    """``obj[name]`` by its proto name or its lowerCamelCase JSON name."""
    if not obj:
        return default
    if name in obj:
        return obj[name]
    head, *rest = name.split("_")
    camel = head + "".join(part[:1].upper() + part[1:] for part in rest)
    return obj.get(camel, default)


def _type_of(obj: Obj) -> str:
    return str(obj.get("@type", "")).rsplit(".", 1)[-1]


@dataclass(frozen=True)
class ConfigDump:
    """The parts of a dump the data-plane judgments read, by name."""

    node_id: str
    clusters: dict[str, Obj] = field(default_factory=dict)
    listeners: dict[str, Obj] = field(default_factory=dict)
    routes: dict[str, Obj] = field(default_factory=dict)
    endpoints: dict[str, Obj] = field(default_factory=dict)  # cluster (service) name -> assignment

    @classmethod
    def parse(cls, dump: Obj) -> ConfigDump:
        node_id = ""
        clusters: dict[str, Obj] = {}
        listeners: dict[str, Obj] = {}
        routes: dict[str, Obj] = {}
        endpoints: dict[str, Obj] = {}
        for part in get(dump, "configs", []) or []:
            kind = _type_of(part)
            if kind == "BootstrapConfigDump":
                node_id = str(get(get(get(part, "bootstrap"), "node"), "id", ""))
            elif kind == "ClustersConfigDump":
                for entry in [*get(part, "static_clusters", []), *get(part, "dynamic_active_clusters", [])]:
                    cluster = get(entry, "cluster") or {}
                    clusters[str(get(cluster, "name", ""))] = cluster
            elif kind == "ListenersConfigDump":
                for entry in get(part, "static_listeners", []) or []:
                    listener = get(entry, "listener") or {}
                    listeners[str(get(listener, "name", ""))] = listener
                for entry in get(part, "dynamic_listeners", []) or []:
                    listener = get(get(entry, "active_state"), "listener") or {}
                    if listener:
                        listeners[str(get(listener, "name", ""))] = listener
            elif kind == "RoutesConfigDump":
                for entry in [
                    *get(part, "static_route_configs", []),
                    *get(part, "dynamic_route_configs", []),
                ]:
                    config = get(entry, "route_config") or {}
                    routes[str(get(config, "name", ""))] = config
            elif kind == "EndpointsConfigDump":
                for entry in [
                    *get(part, "static_endpoint_configs", []),
                    *get(part, "dynamic_endpoint_configs", []),
                ]:
                    assignment = get(entry, "endpoint_config") or {}
                    endpoints[str(get(assignment, "cluster_name", ""))] = assignment
        return cls(node_id, clusters, listeners, routes, endpoints)

    def assignment_of(self, cluster_name: str) -> Obj | None:
        """The endpoints of an EDS cluster (its ``eds_cluster_config.service_name`` when set) or
        the inline ``load_assignment`` of a static one."""
        cluster = self.clusters.get(cluster_name) or {}
        service = get(get(cluster, "eds_cluster_config"), "service_name") or cluster_name
        found = self.endpoints.get(str(service))
        return found if found is not None else get(cluster, "load_assignment")

    def route_config_for_port(self, port: int) -> tuple[str | None, str]:
        """The route configuration name the HTTP listener on ``port`` uses, and how it was found."""
        for name, listener in sorted(self.listeners.items()):
            address = get(get(listener, "address"), "socket_address") or {}
            if int(get(address, "port_value", -1) or -1) != port:
                continue
            for chain in get(listener, "filter_chains", []) or []:
                for network_filter in get(chain, "filters", []) or []:
                    if network_filter.get("name") != HCM:
                        continue
                    rds = get(get(network_filter, "typed_config"), "rds")
                    if rds and get(rds, "route_config_name"):
                        return str(get(rds, "route_config_name")), f"listener {name}"
        # Istio names a sidecar's outbound HTTP route configuration by port.
        return (str(port), "no HTTP listener on the port in the dump: route configuration by port")

    def _strips_port(self, port: int) -> bool:
        """The HTTP connection manager on ``port`` removes the Host header's port before routing."""
        for listener in self.listeners.values():
            if int(get(get(get(listener, "address"), "socket_address"), "port_value", -1) or -1) != port:
                continue
            for chain in get(listener, "filter_chains", []) or []:
                for network_filter in get(chain, "filters", []) or []:
                    config = get(network_filter, "typed_config") or {}
                    if network_filter.get("name") == HCM and (
                        get(config, "strip_any_host_port") or get(config, "strip_matching_host_port")
                    ):
                        return True
        return False

    def route(self, port: int, host: str, path: str) -> Routed:
        """Where Envoy sends ``GET http://{host}{path}`` arriving on ``port``."""
        name, how = self.route_config_for_port(port)
        config = self.routes.get(name or "")
        if config is None:
            return Routed(how, problem=f"no route configuration {name!r} ({how})")
        if get(config, "ignore_port_in_host_matching") or self._strips_port(port):
            host = host.rsplit(":", 1)[0] if host.rsplit(":", 1)[-1].isdigit() else host
        vhost = virtual_host(get(config, "virtual_hosts", []) or [], host)
        if vhost is None:
            return Routed(
                f"route configuration {name} ({how})", problem=f"no virtual host of {name} matches {host}"
            )
        where = f"route configuration {name} ({how}), virtual host {get(vhost, 'name', '?')}"
        for index, candidate in enumerate(get(vhost, "routes", []) or []):
            if not path_matches(get(candidate, "match") or {}, path):
                continue
            action = get(candidate, "route")
            label = get(candidate, "name") or f"route #{index}"
            if action is None:
                return Routed(
                    f"{where}, {label}", problem=f"{label} of {where} does not forward (no route action)"
                )
            return Routed(f"{where}, {label}", clusters=route_clusters(action))
        return Routed(where, problem=f"no route of {where} matches path {path}")


@dataclass(frozen=True)
class Routed:
    """The outcome of routing one request: the clusters with their weights, or why none."""

    where: str
    clusters: tuple[tuple[str, int], ...] = ()
    problem: str | None = None


def virtual_host(vhosts: list[Obj], host: str) -> Obj | None:
    """Envoy's virtual host selection for a Host header (port included, as curl sends it)."""
    host = host.lower()
    exact: Obj | None = None
    suffix: tuple[int, Obj] | None = None
    prefix: tuple[int, Obj] | None = None
    default: Obj | None = None
    for vhost in vhosts:
        for domain in (str(d).lower() for d in get(vhost, "domains", []) or []):
            if domain == "*":
                default = default or vhost
            elif domain.startswith("*") and host.endswith(domain[1:]) and len(host) > len(domain) - 1:
                if suffix is None or len(domain) > suffix[0]:
                    suffix = (len(domain), vhost)
            elif domain.endswith("*") and host.startswith(domain[:-1]) and len(host) > len(domain) - 1:
                if prefix is None or len(domain) > prefix[0]:
                    prefix = (len(domain), vhost)
            elif domain == host:
                exact = exact or vhost
    if exact is not None:
        return exact
    if suffix is not None:
        return suffix[1]
    if prefix is not None:
        return prefix[1]
    return default


def path_matches(match: Obj, path: str) -> bool:
    """A route match against a path; matches on headers or query parameters are not met (the
    request carries none)."""
    if get(match, "headers") or get(match, "query_parameters"):
        return False
    if "prefix" in match:
        return path.startswith(str(match["prefix"]))
    if "path" in match:
        return path == str(match["path"])
    separated = get(match, "path_separated_prefix")
    if separated is not None:
        return path == separated or path.startswith(str(separated).rstrip("/") + "/")
    regex = get(get(match, "safe_regex"), "regex")
    if regex is not None:
        return re.fullmatch(str(regex), path) is not None
    return False


def route_clusters(action: Obj) -> tuple[tuple[str, int], ...]:
    """(cluster, weight) pairs of a route action: one cluster at weight 1, or weighted clusters."""
    if get(action, "cluster"):
        return ((str(get(action, "cluster")), 1),)
    weighted = get(get(action, "weighted_clusters"), "clusters", []) or []
    return tuple((str(get(c, "name")), int(get(c, "weight", 0) or 0)) for c in weighted)
