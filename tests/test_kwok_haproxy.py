"""The gateway stand-in's configuration in the real HAProxy (layer 2: Debian's HAProxy, offline).

The plan and configuration the kwok tier would make from the suite's own dns-tls and
ip-passthrough routing (scenarios/external.py), pointed at loopback ports, run by the real
HAProxy in front of a small TLS server standing in for istiod:

- dns-tls: a client that trusts the gateway's root and asks for the hostname gets through, and
  the upstream sees the DestinationRule's SNI on a connection HAProxy verified with the
  upstream CA; a ClientHello for another name is refused (no certificate for it); an upstream
  certificate for another name is not accepted (HAProxy answers 503);
- dns-tls with the guide's own DestinationRule (``SIMPLE``, no CA): istiod's certificate from a
  private CA is verified against the system roots, as Istio configures the gateway's Envoy, and
  refused: a 503 whose body names the failure ("certificate verify failed"), which the injection
  check recognises as known issue gateway-verifies-istiod-with-system-roots;
- ip-passthrough: TLS passes untouched: the client sees the upstream's own certificate.
"""

from __future__ import annotations

import contextlib
import http.client
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from clusters.kwok.gateway_model import Listener
from clusters.kwok.haproxy_config import render
from scenarios import pki
from scenarios.dns_tls import TEST_HOSTNAME, UPSTREAM_CA_SECRET
from scenarios.external import ROUTING_V1, istiod_routing
from suites.evaluation.evaluators.injection import UPSTREAM_VERIFY_FAILED
from tests.test_kwok_gateway_model import plan_of

pytestmark = [pytest.mark.realtools]
ISTIOD_NAME = "istiod.external-istiod.svc"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Upstream:
    """A TLS server standing in for istiod: answers HTTP/1.1 with the SNI it was asked for."""

    def __init__(self, material: pki.SuitePki, tmp: Path) -> None:
        (tmp / "upstream.pem").write_bytes(
            material.material(pki.GATEWAY_CERT) + material.material(pki.GATEWAY_KEY)
        )
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(tmp / "upstream.pem")
        self.context.sni_callback = self._sni
        self.seen_sni: list[str | None] = []
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.socket.getsockname()[1])
        threading.Thread(target=self._serve, daemon=True).start()

    def _sni(self, _socket: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        self.seen_sni.append(name)

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self.socket.accept()
            except OSError:
                return
            with (
                contextlib.suppress(OSError, ssl.SSLError),
                self.context.wrap_socket(raw, server_side=True) as tls,
            ):
                tls.recv(65536)
                body = f"upstream sni={self.seen_sni[-1] if self.seen_sni else None}".encode()
                tls.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                    % (len(body), body)
                )


@contextlib.contextmanager
def haproxy(listeners: list[Listener], tmp: Path, files: dict[str, bytes]) -> Iterator[None]:
    binary = shutil.which("haproxy")
    if binary is None:
        pytest.skip("no haproxy on PATH (apt-get install haproxy; ci/selftest.sh installs it)")
    for name, data in files.items():
        (tmp / name).write_bytes(data)
    rendered = render(
        listeners,
        credential_file=lambda ref: tmp / "gateway.pem",
        ca_file=lambda ref: tmp / "upstream-ca.pem",
        crt_list_file=lambda name: tmp / f"{name}.crt-list",
    )
    for path, text in rendered.crt_lists.items():
        path.write_text(text)
    (tmp / "haproxy.cfg").write_text(rendered.config)
    subprocess.run([binary, "-c", "-q", "-f", str(tmp / "haproxy.cfg")], check=True)
    process = subprocess.Popen(
        [binary, "-W", "-db", "-f", str(tmp / "haproxy.cfg")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for listener in listeners:
            for _ in range(100):
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", listener.port), timeout=1),
                ):
                    break
                time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


def on_loopback(listeners: list[Listener], port: int, upstream_port: int) -> list[Listener]:
    """The first listener, at 127.0.0.1:``port``, its routes to 127.0.0.1:``upstream_port``."""
    listener = listeners[0]
    routes = tuple(
        replace(route, upstream=replace(route.upstream, address="127.0.0.1", port=upstream_port, h2=False))
        for route in listener.routes
    )
    return [replace(listener, address="127.0.0.1", port=port, routes=routes)]


def get(port: int, hostname: str, ca: Path) -> tuple[int, str]:
    context = ssl.create_default_context(cafile=str(ca))
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    connection.sock = context.wrap_socket(
        socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname=hostname
    )
    connection.request("GET", "/inject", headers={"Host": f"{hostname}:{port}"})
    answer = connection.getresponse()
    return answer.status, answer.read().decode()


def test_dns_tls_gateway_terminates_for_its_hostname_and_reoriginates_verified(tmp_path: Path) -> None:
    gateway, upstream_pki = pki.generate(TEST_HOSTNAME), pki.generate(ISTIOD_NAME)
    upstream = Upstream(upstream_pki, tmp_path)
    port = free_port()
    routing = istiod_routing(
        TEST_HOSTNAME, "dns", ROUTING_V1, credential_name="gw", upstream_ca_credential=UPSTREAM_CA_SECRET
    )
    listeners = on_loopback(plan_of(routing).listeners, port, upstream.port)
    files = {
        "gateway.pem": gateway.material(pki.GATEWAY_CERT) + gateway.material(pki.GATEWAY_KEY),
        "upstream-ca.pem": upstream_pki.material(pki.ROOT_CERT),
        "gateway-root.pem": gateway.material(pki.ROOT_CERT),
    }
    with haproxy(listeners, tmp_path, files):
        status, body = get(port, TEST_HOSTNAME, tmp_path / "gateway-root.pem")
        assert (status, body) == (200, f"upstream sni={ISTIOD_NAME}")
        with pytest.raises(ssl.SSLError):  # no certificate for another name: refused, as Envoy would
            get(port, "another-name.eicp.test", tmp_path / "gateway-root.pem")
    # An upstream certificate from the trusted CA, for another name: HAProxy does not accept it.
    wrong_pki = pki.generate("another-name.eicp.test")
    (tmp_path / "wrong").mkdir()
    wrong = Upstream(wrong_pki, tmp_path / "wrong")
    listeners = on_loopback(plan_of(routing).listeners, port, wrong.port)
    files["upstream-ca.pem"] = wrong_pki.material(pki.ROOT_CERT)
    with haproxy(listeners, tmp_path, files):
        status, _ = get(port, TEST_HOSTNAME, tmp_path / "gateway-root.pem")
        assert status == 503


def test_ip_passthrough_gateway_passes_tls_untouched(tmp_path: Path) -> None:
    upstream_pki = pki.generate(ISTIOD_NAME)
    upstream = Upstream(upstream_pki, tmp_path)
    (tmp_path / "root.pem").write_bytes(upstream_pki.material(pki.ROOT_CERT))
    port = free_port()
    listeners = on_loopback(
        plan_of(istiod_routing("10.250.0.5", "ip", ROUTING_V1)).listeners, port, upstream.port
    )
    with haproxy(listeners, tmp_path, {}):
        context = ssl.create_default_context(cafile=str(tmp_path / "root.pem"))
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=ISTIOD_NAME) as tls,
        ):
            tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b"upstream sni=" + ISTIOD_NAME.encode() in tls.recv(4096)


def test_guide_destination_rule_has_the_gateway_refuse_istiods_private_certificate(tmp_path: Path) -> None:
    gateway, istiod_pki = pki.generate(TEST_HOSTNAME), pki.generate(TEST_HOSTNAME)
    upstream = Upstream(istiod_pki, tmp_path)  # for the gateway's hostname: only the CA is wrong
    port = free_port()
    routing = istiod_routing(
        TEST_HOSTNAME, "dns", ROUTING_V1, credential_name="gw"
    )  # the guide's DestinationRule
    listeners = on_loopback(plan_of(routing).listeners, port, upstream.port)
    assert {route.upstream.tls.ca for route in listeners[0].routes if route.upstream.tls} == {"system"}
    files = {
        "gateway.pem": gateway.material(pki.GATEWAY_CERT) + gateway.material(pki.GATEWAY_KEY),
        "gateway-root.pem": gateway.material(pki.ROOT_CERT),
    }
    with haproxy(listeners, tmp_path, files):
        status, body = get(port, TEST_HOSTNAME, tmp_path / "gateway-root.pem")
    assert status == 503, body
    assert UPSTREAM_VERIFY_FAILED.search(body), body
    assert body.startswith("upstream connect error (eicp gateway stand-in, HAProxy)"), body
