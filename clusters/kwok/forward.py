"""A TCP forwarder from a test host's address to a port on that host's own loopback.

kwokctl's components reach each other at 127.0.0.1, so the API server of a kwok cluster is
bound to its network namespace's loopback. Everything outside that namespace (the suite's
kubectl, the external istiod in its own namespace) reaches it at the namespace's address
instead: this forwarder listens there (never on 0.0.0.0) and relays each connection,
byte for byte (TLS passes through untouched), to ``127.0.0.1:port`` inside the namespace.

A socket belongs to the network namespace its creating thread was in, so one thread enters
the namespace (``setns(2)``, root only) and creates the listening socket and every upstream
socket there; relaying runs in ordinary threads. ``stop()`` closes everything.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

from run.timeouts import KWOK_FORWARD, KWOK_FORWARD_CONNECT

log = logging.getLogger("eicp.kwok.forward")

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")
ACCEPT_POLL_S = 0.5
_BUFFER = 1 << 16


class ForwardError(RuntimeError):
    """The forwarder could not start (the message says why)."""


def enter_netns(name: str) -> None:
    """Move the calling thread into network namespace ``name`` (``ip netns`` names)."""
    libc = ctypes.CDLL(None, use_errno=True)
    descriptor = os.open(NETNS_DIR / name, os.O_RDONLY)
    try:
        if libc.setns(descriptor, CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns into network namespace {name}: {os.strerror(error)}")
    finally:
        os.close(descriptor)


@dataclass
class LoopbackForwarder:
    netns: str
    address: str  # the namespace's own address to listen on
    port: int  # the same port on the listening side and on the namespace's loopback
    _stop: threading.Event = field(default_factory=threading.Event)
    _ready: threading.Event = field(default_factory=threading.Event)
    _error: BaseException | None = None
    _listener: socket.socket | None = None
    _open: set[socket.socket] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"https://{self.address}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name=f"forward-{self.netns}", daemon=True)
        self._thread.start()
        if not self._ready.wait(KWOK_FORWARD.seconds()):
            raise ForwardError(
                f"forwarder {self.address}:{self.port} in {self.netns} did not start within {KWOK_FORWARD.seconds():.0f} s"
            )
        if self._error is not None:
            raise ForwardError(
                f"forwarder {self.address}:{self.port} in {self.netns}: {self._error}"
            ) from None

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            sockets = list(self._open)
            self._open.clear()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._thread is not None:
            self._thread.join(timeout=ACCEPT_POLL_S * 4)

    def _serve(self) -> None:
        try:
            enter_netns(self.netns)
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.address, self.port))
            listener.listen(128)
            listener.settimeout(ACCEPT_POLL_S)
        except OSError as error:
            self._error = error
            self._ready.set()
            return
        self._track(listener)
        self._ready.set()
        while not self._stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            client.settimeout(None)
            try:
                upstream = socket.create_connection(
                    ("127.0.0.1", self.port), timeout=KWOK_FORWARD_CONNECT.seconds()
                )
                upstream.settimeout(None)
            except OSError as error:
                log.warning(
                    "forwarder %s: 127.0.0.1:%d in %s refused: %s", self.url, self.port, self.netns, error
                )
                client.close()
                continue
            self._track(client)
            self._track(upstream)
            done = threading.Semaphore(0)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pipe, args=(source, sink, done), daemon=True, name=f"relay-{self.netns}"
                ).start()
            threading.Thread(target=self._close_when_done, args=(client, upstream, done), daemon=True).start()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)

    def _pipe(self, source: socket.socket, sink: socket.socket, done: threading.Semaphore) -> None:
        try:
            while chunk := source.recv(_BUFFER):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
            done.release()

    def _close_when_done(
        self, first: socket.socket, second: socket.socket, done: threading.Semaphore
    ) -> None:
        done.acquire()
        done.acquire()
        with self._lock:
            self._open.discard(first)
            self._open.discard(second)
        first.close()
        second.close()
