"""The HAProxy configuration that stands in for an Istio gateway's Envoy (pure: text out).

From the listeners clusters/kwok/gateway_model.py planned, one HAProxy frontend per bound
address and port (HAProxy 2.6, Debian's):

- **passthrough**: ``mode tcp``; routes chosen by the ClientHello's SNI (``req.ssl_sni``) when a
  route names hosts, ``"*"`` being the default route (any SNI, or none); TLS is never touched;
- **terminate**: ``mode http`` on a TLS bind whose certificates come from a ``crt-list``: one
  line per Gateway server, filtered to that server's hosts, with ``strict-sni`` unless a server
  takes ``"*"`` (a ClientHello for another name, or none, finds no certificate and is refused,
  as Envoy finds no filter chain); ALPN ``h2,http/1.1``; routes chosen by the request's host
  (``req.hdr(host)``, which holds ``:authority`` for HTTP/2), first match wins, no route -> 404
  (Envoy's answer); upstream TLS verified (``verify required``) against the DestinationRule's
  CA file (``@system-ca`` for the system roots) and the name sent as SNI, ALPN ``h2`` for an
  HTTP/2 upstream; when no upstream connection could be made (istiod down, or its certificate
  refused), a 503 whose body says why, as HAProxy saw it (``bc_err_str``, ``ssl_bc_err_str``:
  e.g. "certificate verify failed"), as Envoy's 503 names the transport failure (its
  ``upstream connect error ... CERTIFICATE_VERIFY_FAILED`` body, which the API server quotes).

Long timeouts: an xDS stream is a request that lasts as long as the proxy runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from clusters.kwok.gateway_model import SYSTEM_ROOTS, Listener, Route, Upstream

GLOBAL = """\
global
    log stdout format raw local0
    nbthread 1
    ssl-server-verify required

defaults
    log global
    option dontlognull
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h

backend eicp_no_route
    mode http
    http-request return status 404 content-type text/plain string "no route (eicp gateway stand-in)"
"""


UPSTREAM_ERROR = (
    "    http-error status 503 content-type text/plain lf-string "
    '"upstream connect error (eicp gateway stand-in, HAProxy): %[bc_err_str]; TLS: %[ssl_bc_err_str]"'
)


class RenderError(ValueError):
    """Listeners HAProxy cannot express together (the message says which)."""


@dataclass(frozen=True)
class Rendered:
    config: str
    crt_lists: dict[Path, str]  # crt-list files the config names -> their content


def render(
    listeners: Sequence[Listener],
    *,
    credential_file: Callable[[str], Path],
    ca_file: Callable[[str], Path],
    crt_list_file: Callable[[str], Path],
) -> Rendered:
    """The whole configuration. ``credential_file(ref)``: the PEM (chain and key) of a
    ``<namespace>/<secret>`` credential; ``ca_file(ref)``: its CA bundle; ``crt_list_file(name)``:
    where a frontend's crt-list goes."""
    by_bind: dict[tuple[str, int], list[Listener]] = {}
    for listener in listeners:
        by_bind.setdefault((listener.address, listener.port), []).append(listener)
    parts = [GLOBAL]
    crt_lists: dict[Path, str] = {}
    for (address, port), group in sorted(by_bind.items()):
        modes = {listener.mode for listener in group}
        if len(modes) != 1:
            raise RenderError(f"{address}:{port} is both TLS passthrough and TLS termination")
        mode = next(iter(modes))
        name = f"gw_{address.replace('.', '_').replace(':', '_')}_{port}"
        routes = [route for listener in group for route in listener.routes]
        if mode == "passthrough":
            parts.append(_passthrough(name, address, port, routes))
        else:
            path = crt_list_file(name)
            crt_lists[path] = "".join(_crt_line(credential_file, listener) for listener in group)
            strict = not any("*" in listener.server_hosts for listener in group)
            parts.append(_terminate(name, address, port, path, strict, routes))
        parts += [_backend(f"{name}_r{i}", route.upstream, mode, ca_file) for i, route in enumerate(routes)]
    return Rendered("\n".join(parts), crt_lists)


def _crt_line(credential_file: Callable[[str], Path], listener: Listener) -> str:
    assert listener.credential is not None
    hosts = [host for host in listener.server_hosts if host != "*"]
    return f"{credential_file(listener.credential)} [alpn h2,http/1.1] {' '.join(hosts)}".rstrip() + "\n"


def _passthrough(name: str, address: str, port: int, routes: Sequence[Route]) -> str:
    lines = [f"frontend {name}", "    mode tcp", "    option tcplog", f"    bind {address}:{port}"]
    named = [route for route in routes if "*" not in route.hosts]
    if named:
        lines += [
            "    tcp-request inspect-delay 5s",
            "    tcp-request content accept if { req.ssl_hello_type 1 }",
        ]
    for index, route in enumerate(routes):
        if "*" in route.hosts:
            lines.append(f"    use_backend {name}_r{index}")
        else:
            lines.append(f"    use_backend {name}_r{index} if {{ req.ssl_sni -i {' '.join(route.hosts)} }}")
    return "\n".join(lines) + "\n"


def _terminate(
    name: str, address: str, port: int, crt_list: Path, strict: bool, routes: Sequence[Route]
) -> str:
    bind = (
        f"    bind {address}:{port} ssl crt-list {crt_list}{' strict-sni' if strict else ''} alpn h2,http/1.1"
    )
    lines = [f"frontend {name}", "    mode http", "    option httplog", bind]
    for index, route in enumerate(routes):
        if "*" in route.hosts:
            lines.append(f"    use_backend {name}_r{index}")
        else:
            lines.append(
                f"    use_backend {name}_r{index} if {{ req.hdr(host),host_only -i {' '.join(route.hosts)} }}"
            )
    lines.append("    default_backend eicp_no_route")
    return "\n".join(lines) + "\n"


def _backend(name: str, upstream: Upstream, mode: str, ca_file: Callable[[str], Path]) -> str:
    server = f"    server upstream {upstream.address}:{upstream.port}"
    lines = [f"backend {name}", f"    mode {'tcp' if mode == 'passthrough' else 'http'}"]
    if upstream.tls is not None:
        lines.append(UPSTREAM_ERROR)
        ca = "@system-ca" if upstream.tls.ca == SYSTEM_ROOTS else str(ca_file(upstream.tls.ca))
        sni = f"str({upstream.tls.sni})" if upstream.tls.sni else "req.hdr(host),host_only"
        server += f" ssl verify required ca-file {ca} sni {sni}"
        if upstream.h2:
            server += " alpn h2"
    elif upstream.h2:
        server += " proto h2"
    return "\n".join([*lines, server]) + "\n"
