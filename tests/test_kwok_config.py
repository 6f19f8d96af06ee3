"""kwok provider, pure parts: kwokctl configuration, CIDRs, names, kubeconfigs, the sweep's choice."""

from __future__ import annotations

import base64
import ipaddress
from pathlib import Path

import pytest
import yaml

from clusters.kwok.config import (
    KwokBinaries,
    leftover_owner,
    loopback_port,
    node_pod_cidr,
    reachable_kubeconfig,
    render_kwokctl_config,
    scale_node_args,
)
from clusters.kwok.kwokctl import Kwokctl, inline_credentials
from clusters.networks import ROLE_NETWORKS
from scenarios.steps import ROLES

BINARIES = KwokBinaries(
    kube_apiserver=Path("/tools/kube-apiserver"),
    kube_controller_manager=Path("/tools/kube-controller-manager"),
    kube_scheduler=Path("/tools/kube-scheduler"),
    kwok_controller=Path("/tools/kwok"),
    etcd=Path("/tools/etcd"),
    kubectl=Path("/tools/kubectl"),
    kube_version="v1.35.4",
    etcd_version="v3.6.16",
    kwok_version="v0.8.0",
)

# What kwokctl v0.8.0 wrote with --kubeconfig for a binary-runtime cluster (paths shortened).
KWOKCTL_KUBECONFIG = """apiVersion: v1
clusters:
- cluster:
    certificate-authority: {pki}/ca.crt
    server: https://127.0.0.1:32764
  name: kwok-eicp-r1-remote
contexts:
- context:
    cluster: kwok-eicp-r1-remote
    user: kwok-eicp-r1-remote
  name: kwok-eicp-r1-remote
current-context: kwok-eicp-r1-remote
kind: Config
users:
- name: kwok-eicp-r1-remote
  user:
    client-certificate: {pki}/admin.crt
    client-key: {pki}/admin.key
"""


def test_components_bind_to_loopback_and_the_api_server_names_the_host_address() -> None:
    config = render_kwokctl_config(
        "remote", address="10.250.1.3", binaries=BINARIES, cache_dir=Path("/run/c")
    )
    options = config["options"]
    assert (
        config["kind"] == "KwokctlConfiguration" and config["apiVersion"] == "config.kwok.x-k8s.io/v1alpha1"
    )
    assert options["runtime"] == "binary"
    assert options["bindAddress"] == "127.0.0.1"
    assert options["kubeApiserverCertSANs"] == ["10.250.1.3"]
    assert (
        options["kubeApiserverBinary"] == "/tools/kube-apiserver" and options["etcdBinary"] == "/tools/etcd"
    )
    assert options["kwokControllerBinary"] == "/tools/kwok"
    assert (options["kubeVersion"], options["etcdVersion"], options["kwokVersion"]) == (
        "v1.35.4",
        "3.6.16",
        "v0.8.0",
    )
    assert options["cacheDir"] == "/run/c"
    # kubectl exec/logs for kwok's fake pods are routed through these (served by the API).
    assert {"Exec", "ClusterExec", "Logs", "ClusterLogs"} <= set(options["enableCRDs"])
    patches = {
        patch["name"]: {a["key"]: a["value"] for a in patch["extraArgs"]}
        for patch in config["componentsPatches"]
    }
    assert patches["kube-apiserver"] == {
        "service-cluster-ip-range": "10.255.20.0/24",
        "advertise-address": "10.250.1.3",
        # webhooks through a Service reach its endpoint (no kube-proxy for the ClusterIP)
        "enable-aggregator-routing": "true",
    }
    assert patches["kube-controller-manager"] == {"service-cluster-ip-range": "10.255.20.0/24"}
    # kwokctl only replaces an existing flag when override is set; these are new flags.
    assert all(not a["override"] for patch in config["componentsPatches"] for a in patch["extraArgs"])
    assert "0.0.0.0" not in yaml.safe_dump(config)  # noqa: S104 - asserting it is absent


@pytest.mark.parametrize("address", ["0.0.0.0", "127.0.0.1", "remote.example"])  # noqa: S104
def test_a_wildcard_loopback_or_name_is_not_a_test_host_address(address: str) -> None:
    with pytest.raises(ValueError, match=r"address|not a test host"):
        render_kwokctl_config("remote", address=address, binaries=BINARIES, cache_dir=Path("kwok-cache"))


def test_each_role_has_its_own_pod_cidr_inside_its_pod_subnet() -> None:
    cidrs = {role: node_pod_cidr(role) for role in ROLES}
    assert cidrs == {"external": "10.10.0.0/24", "remote": "10.20.0.0/24", "second": "10.30.0.0/24"}
    for role, cidr in cidrs.items():
        assert ipaddress.ip_network(cidr).subnet_of(ipaddress.ip_network(ROLE_NETWORKS[role].pod_subnet))  # type: ignore[arg-type]


def test_the_node_gets_the_role_cidr_and_a_loopback_internal_ip() -> None:
    assert scale_node_args("second") == [
        "scale", "node", "--replicas", "1",
        "--param", '.podCIDRs=["10.30.0.0/24"]',
        "--param", '.nodeIPs=["127.0.0.1"]',
    ]  # fmt: skip


def test_kubeconfig_is_rewritten_to_the_host_address_with_credentials_inlined(tmp_path: Path) -> None:
    for name, body in (("ca.crt", b"CA"), ("admin.crt", b"CERT"), ("admin.key", b"KEY")):
        (tmp_path / name).write_bytes(body)
    raw = KWOKCTL_KUBECONFIG.format(pki=tmp_path)
    assert loopback_port(yaml.safe_load(raw)["clusters"][0]["cluster"]["server"]) == 32764
    text, server = reachable_kubeconfig(
        inline_credentials(raw), address="10.250.1.3", port=32764, context="kwok-eicp-r1-remote"
    )
    data = yaml.safe_load(text)
    assert server == "https://10.250.1.3:32764"
    assert data["clusters"][0]["cluster"] == {
        "server": "https://10.250.1.3:32764",
        "certificate-authority-data": base64.b64encode(b"CA").decode(),
    }
    user = data["users"][0]["user"]
    assert user == {
        "client-certificate-data": base64.b64encode(b"CERT").decode(),
        "client-key-data": base64.b64encode(b"KEY").decode(),
    }
    assert data["current-context"] == "kwok-eicp-r1-remote"
    assert str(tmp_path) not in text  # no machine paths left in the run's kubeconfig


def test_loopback_port_refuses_anything_but_loopback() -> None:
    with pytest.raises(ValueError, match=r"not https://127\.0\.0\.1:PORT"):
        loopback_port("https://10.0.0.1:6443")


@pytest.mark.parametrize(
    ("name", "owner"),
    [
        ("eicp-1121003745-remote", ("1121003745", None)),
        ("eicp-1121003745-second-gw1", ("1121003745", "gw1")),
        ("eicp-abc-lb3", ("abc", None)),
        ("eicp-abc-lb0-gw0", ("abc", "gw0")),
        ("eicp-abc", ("abc", None)),  # a bridge's alias
        ("eicp-abc-gw2", ("abc", "gw2")),
        ("other-abc-remote", None),
        ("eicp-abc-remote-extra", None),
        ("eicp-ABC-remote", None),
        ("d2-gw", None),
    ],
)
def test_the_sweep_recognises_only_the_suite_own_names(
    name: str, owner: tuple[str, str | None] | None
) -> None:
    assert leftover_owner("eicp", name) == owner


def test_a_kubectl_link_another_cluster_made_meanwhile_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clusters are created side by side and each puts kubectl on the kwok controllers' PATH:
    the link one makes between another's look and its own making is the same link."""
    kubectl = tmp_path / "kubectl"
    kwokctl = Kwokctl(runner=None, kwokctl_bin=Path("kwokctl"), kubectl_bin=kubectl, workdir=tmp_path / "w")  # type: ignore[arg-type]
    kwokctl.bin_dir.mkdir(parents=True)
    (kwokctl.bin_dir / "kubectl").symlink_to(kubectl)  # the other cluster's, made meanwhile
    with monkeypatch.context() as patched:
        patched.setattr(Path, "exists", lambda self: False)  # this cluster looked before it was made
        env = kwokctl.env()
    assert env["PATH"].split(":")[0] == str(kwokctl.bin_dir)
    assert (kwokctl.bin_dir / "kubectl").readlink() == kubectl
