"""One real control plane for self-tests: the pinned etcd and kube-apiserver on loopback, with
kube-controller-manager's namespace controller and garbage collector, and a ``ClusterHandle``
on it (the pinned kubectl). A test module imports it and takes the module-scoped fixture
``cluster``::

    from tests.real_apiserver import real_cluster  # noqa: F401  (the fixture ``cluster``)
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable, Iterator

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from clusters.cluster import ClusterHandle
from programs.background import BackgroundProcess
from programs.redaction import Redactor
from programs.runner import CommandError, CommandRunner
from programs.tools import ResolvedTool
from programs.waits import Backoff, wait_until

ResolveTool = Callable[[str], ResolvedTool]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module", name="cluster")
def real_cluster(real_tool: ResolveTool, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterHandle]:
    """One real control plane (etcd + kube-apiserver, loopback only) and a handle on it."""
    root = tmp_path_factory.mktemp("apiserver")
    runner = CommandRunner(Redactor(), default_timeout_s=60)
    kubectl = str(real_tool("kubectl").path)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (root / "sa.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (root / "sa.pub").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    token = secrets.token_hex(16)
    runner.redactor.register(token)
    (root / "tokens.csv").write_text(f"{token},admin,admin,system:masters\n")
    etcd_port, peer_port, api_port = _free_port(), _free_port(), _free_port()
    started: list[BackgroundProcess] = []
    try:
        started.append(
            runner.start(
                [
                    str(real_tool("etcd").path), "--data-dir", str(root / "etcd"),
                    "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
                    "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
                    "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
                    "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
                    "--initial-cluster", f"default=http://127.0.0.1:{peer_port}",
                ],
                log_file=root / "etcd.log",
            )
        )  # fmt: skip
        started.append(
            runner.start(
                [
                    str(real_tool("kube-apiserver").path),
                    "--etcd-servers", f"http://127.0.0.1:{etcd_port}",
                    "--bind-address", "127.0.0.1", "--secure-port", str(api_port),
                    "--cert-dir", str(root / "certs"),
                    "--service-account-key-file", str(root / "sa.pub"),
                    "--service-account-signing-key-file", str(root / "sa.key"),
                    "--service-account-issuer", "https://kubernetes.default.svc",
                    "--token-auth-file", str(root / "tokens.csv"),
                    "--authorization-mode", "AlwaysAllow",
                    "--service-cluster-ip-range", "10.96.0.0/16",
                ],
                log_file=root / "apiserver.log",
            )
        )  # fmt: skip
        server = f"https://127.0.0.1:{api_port}"
        kubeconfig = root / "kubeconfig"
        kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {"name": "real", "cluster": {"server": server, "insecure-skip-tls-verify": True}}
                    ],
                    "users": [{"name": "real", "user": {"token": token}}],
                    "contexts": [{"name": "real", "context": {"cluster": "real", "user": "real"}}],
                    "current-context": "real",
                }
            )
        )
        kubeconfig.chmod(0o600)
        handle = ClusterHandle(
            "remote", "real", "real", kubeconfig, server, None, runner, kubectl_bin=kubectl
        )

        def ready() -> bool:
            try:
                return handle.kubectl("get", "--raw", "/readyz", timeout_s=10).stdout.strip() == "ok"
            except CommandError:
                return False

        wait_until("the API server to be ready", ready, 90, backoff=Backoff(0.5, 2.0))
        # Namespaces are deleted by the namespace controller, and what a CRD served by the
        # garbage collector: without them a deleted namespace stays Terminating.
        started.append(
            runner.start(
                [
                    str(real_tool("kube-controller-manager").path), "--kubeconfig", str(kubeconfig),
                    "--controllers", "namespace-controller,garbage-collector-controller",
                    "--leader-elect=false", "--secure-port", "0",
                ],
                log_file=root / "controller-manager.log",
            )
        )  # fmt: skip
        yield handle
    finally:
        for process in reversed(started):
            process.stop()
