"""The pod sandbox of the kwok tier's host processes, pure: files, environment, argv, CRI logs.

The pod template is the external istiod's, as ``istioctl install -f external-istiod.yaml``
renders it (manifests/charts/istio-control/istio-discovery/templates/deployment.yaml,
trimmed to the parts the sandbox acts on).
"""

from __future__ import annotations

import stat
import time
from pathlib import Path
from typing import Any

import pytest

from clusters.kwok.istiod_host import _container_argv
from clusters.kwok.pod_sandbox import (
    Materializer,
    PodIdentity,
    SandboxError,
    container_of,
    sandbox_argv,
)
from clusters.kwok.pod_sandbox_logs import CriLog

TOKEN = "eyJhbGciOiJSUzI1NiJ9.c2FuZGJveA.c2lnbmF0dXJl"

TEMPLATE: dict[str, Any] = {
    "spec": {
        "serviceAccountName": "istiod",
        "containers": [
            {
                "name": "discovery",
                "image": "docker.io/istio/pilot:1.31-alpha.b01690e6db7d",
                "args": ["discovery", "--monitoringAddr=:15014", "--domain", "cluster.local"],
                "env": [
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                    {
                        "name": "SERVICE_ACCOUNT",
                        "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}},
                    },
                    {"name": "KUBECONFIG", "value": "/var/run/secrets/remote/config"},
                    {"name": "CLUSTER_ID", "value": "remote1"},
                    {
                        "name": "GOMAXPROCS",
                        "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1"}},
                    },
                    {"name": "GOMEMLIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}}},
                    {"name": "REVISION_AGAIN", "value": "$(CLUSTER_ID)-x"},
                ],
                "resources": {"limits": {"memory": "2Gi"}},
                "volumeMounts": [
                    {"name": "istio-token", "mountPath": "/var/run/secrets/tokens", "readOnly": True},
                    {"name": "local-certs", "mountPath": "/var/run/secrets/istio-dns"},
                    {"name": "cacerts", "mountPath": "/etc/cacerts", "readOnly": True},
                    {"name": "istio-kubeconfig", "mountPath": "/var/run/secrets/remote", "readOnly": True},
                    {"name": "config-volume", "mountPath": "/etc/istio/config"},
                ],
            }
        ],
        "volumes": [
            {
                "name": "istio-token",
                "projected": {
                    "sources": [
                        {
                            "serviceAccountToken": {
                                "audience": "istio-ca",
                                "expirationSeconds": 43200,
                                "path": "istio-token",
                            }
                        }
                    ]
                },
            },
            {"name": "local-certs", "emptyDir": {"medium": "Memory"}},
            {"name": "cacerts", "secret": {"secretName": "cacerts", "optional": True}},
            {"name": "istio-kubeconfig", "secret": {"secretName": "istio-kubeconfig", "optional": True}},
            {"name": "config-volume", "configMap": {"name": "istio"}},
        ],
    }
}


class Source:
    """An ObjectSource answering from dicts; records the tokens asked for."""

    def __init__(self) -> None:
        self.tokens: list[tuple[str, str, str | None, int]] = []
        self.config_maps = {
            "istio": {"mesh": "defaultConfig: {}\n"},
            "kube-root-ca.crt": {"ca.crt": "CA PEM"},
        }
        self.secrets = {"istio-kubeconfig": {"config": b"apiVersion: v1\nkind: Config\n"}}

    def config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        return self.config_maps.get(name)

    def secret(self, namespace: str, name: str) -> dict[str, bytes] | None:
        return self.secrets.get(name)

    def token(self, namespace: str, service_account: str, audience: str | None, seconds: int) -> str:
        self.tokens.append((namespace, service_account, audience, seconds))
        return TOKEN


POD = PodIdentity("istiod-5d4c-abcde", "external-istiod", "uid-1", "istiod", "kwok-node-0", "10.99.0.3")


def materializer(tmp_path: Path, source: Source | None = None) -> Materializer:
    return Materializer(source or Source(), POD, tmp_path / "root", "10.99.0.2", 32764, cpu_count=2)


def test_volumes_land_at_their_mount_paths_in_a_private_root(tmp_path: Path) -> None:
    source = Source()
    sandbox = materializer(tmp_path, source)
    sandbox.prepare(TEMPLATE, container_of(TEMPLATE, "discovery"))
    root = tmp_path / "root"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert (root / "var/run/secrets/remote/config").read_bytes().startswith(b"apiVersion: v1")
    assert stat.S_IMODE((root / "var/run/secrets/remote/config").stat().st_mode) == 0o600
    assert (root / "etc/istio/config/mesh").read_text() == "defaultConfig: {}\n"
    assert (root / "var/run/secrets/tokens/istio-token").read_text() == TOKEN
    assert (root / "var/run/secrets/istio-dns").is_dir()
    assert not (root / "etc/cacerts").exists() or not any(
        (root / "etc/cacerts").iterdir()
    )  # optional, absent
    service_account = root / "var/run/secrets/kubernetes.io/serviceaccount"
    assert (service_account / "token").read_text() == TOKEN
    assert (service_account / "ca.crt").read_text() == "CA PEM"
    assert (service_account / "namespace").read_text() == "external-istiod"
    # the istio-ca audience for the projected token, the API server's default for in-cluster config
    assert ("external-istiod", "istiod", "istio-ca", 43200) in source.tokens
    assert any(audience is None for _, _, audience, _ in source.tokens)


def test_a_missing_required_config_map_is_what_the_kubelet_would_refuse(tmp_path: Path) -> None:
    source = Source()
    del source.config_maps["istio"]
    with pytest.raises(SandboxError, match="ConfigMap external-istiod/istio does not exist"):
        materializer(tmp_path, source).prepare(TEMPLATE, container_of(TEMPLATE, "discovery"))


def test_environment_is_the_pods_not_the_suites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EICP_SUITE_ONLY", "1")
    env = materializer(tmp_path).environment(container_of(TEMPLATE, "discovery"))
    assert env["POD_NAME"] == "istiod-5d4c-abcde"
    assert env["POD_NAMESPACE"] == "external-istiod"
    assert env["SERVICE_ACCOUNT"] == "istiod"
    assert env["KUBERNETES_SERVICE_HOST"] == "10.99.0.2"
    assert env["KUBERNETES_SERVICE_PORT"] == "32764"
    assert env["GOMAXPROCS"] == "2"  # no CPU limit: the node's allocatable CPUs
    assert env["GOMEMLIMIT"] == str(2 * 2**30)
    assert env["REVISION_AGAIN"] == "remote1-x"
    assert "EICP_SUITE_ONLY" not in env


def test_argv_enters_the_pods_network_and_mount_namespaces(tmp_path: Path) -> None:
    binary = tmp_path / "pilot-discovery"
    argv = _container_argv(container_of(TEMPLATE, "discovery"), {}, binary)
    assert argv == [str(binary), "discovery", "--monitoringAddr=:15014", "--domain", "cluster.local"]
    full = sandbox_argv("eicp-1201-lb0", tmp_path / "root", argv)
    assert full[:4] == ["ip", "netns", "exec", "eicp-1201-lb0"]
    assert full[4:8] == ["unshare", "--mount", "--propagation", "private"]
    assert str(tmp_path / "root" / "var" / "run") in full
    assert full[-len(argv) :] == argv
    with pytest.raises(SandboxError):
        sandbox_argv("bad name; rm -rf /", tmp_path, argv)


def test_another_entrypoint_is_refused(tmp_path: Path) -> None:
    container = {"name": "discovery", "command": ["/usr/bin/envoy"], "args": []}
    with pytest.raises(SandboxError, match="not pilot-discovery"):
        _container_argv(container, {}, tmp_path / "pilot-discovery")


def test_cri_log_is_what_kwok_serves_to_kubectl_logs(tmp_path: Path) -> None:
    raw, cri = tmp_path / "discovery.log", tmp_path / "discovery.cri.log"
    raw.write_text("2026-12-01T09:11:02Z info first\nsecond line\npartial")
    log = CriLog(raw, cri)
    log.pump()
    lines = cri.read_text().splitlines()
    assert len(lines) == 2
    stamp, stream, tag, message = lines[0].split(" ", 3)
    assert stamp.endswith("Z") and "T" in stamp
    assert (stream, tag, message) == ("stdout", "F", "2026-12-01T09:11:02Z info first")
    log.pump(final=True)
    assert cri.read_text().splitlines()[-1].endswith("stdout F partial")


def test_background_process_is_supervised_and_stopped_within_its_grace(tmp_path: Path) -> None:
    """``CommandRunner.start``: what the istiod host runs on; output to its log, a pod's env only."""
    from programs.runner import CommandRecord, CommandRunner

    records: list[CommandRecord] = []
    runner = CommandRunner()
    runner.add_listener(records.append)
    log = tmp_path / "out.log"
    script = 'echo "env: ${EICP_SUITE_ONLY:-none} ${POD_NAME}"; exec sleep 60'
    process = runner.start(
        ["/bin/sh", "-c", script],
        log_file=log,
        env={"POD_NAME": "p", "PATH": "/usr/bin:/bin"},
        inherit_env=False,
    )
    deadline = time.monotonic() + 10
    while "env:" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.running()
    assert log.read_text().strip() == "env: none p"
    started = time.monotonic()
    assert process.stop(grace_s=5.0) is not None
    assert not process.running() and time.monotonic() - started < 5.0
    assert records and records[-1].returncode is not None
