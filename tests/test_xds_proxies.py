"""The synthetic proxies of kwok mode, pure: what each client is given, when it starts and stops,
and the real istiod output it produced (recorded on the kwok tier, tests/goldens/xds/)."""

from __future__ import annotations

import contextlib
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from clusters.kwok.proxy_configs import SyntheticProxyConfigs
from clusters.kwok.sidecar_pods import container_env, node_metadata, node_type, token_audience
from clusters.kwok.xds_proxies import SyntheticProxies
from scenarios.steps import Role
from suites.evaluation.evaluators.envoy_config import ConfigDump
from suites.evaluation.evaluators.injection import evaluate_proxies_synced
from suites.evaluation.evaluators.xds import helloworld_cluster
from tests import checks_fakes as fake

GOLDENS = Path(__file__).parent / "goldens" / "xds"


def golden(name: str) -> Any:
    return json.loads((GOLDENS / name).read_text())


def test_the_sidecars_environment_is_resolved_as_the_kubelet_would() -> None:
    pod = golden("curl-pod.json")
    env = container_env(pod, "istio-proxy")
    assert env["CA_ADDR"] == "10.250.1.5:15012"
    assert env["POD_NAME"] == "curl-7ff8c849cb-mv688"
    assert env["INSTANCE_IP"] == "10.20.0.2"
    assert env["ISTIO_META_NODE_NAME"] == "node-000000"
    assert "GOMEMLIMIT" not in env  # a resource reference, which a kwok pod has no value for


def test_node_metadata_is_the_injected_sidecars() -> None:
    pod = golden("curl-pod.json")
    meta = node_metadata(pod, container_env(pod, "istio-proxy"))
    assert meta["CLUSTER_ID"] == "eicp-1201094448-remote"
    assert meta["NETWORK"] == "network1"
    assert meta["MESH_ID"] == "mesh1"
    assert meta["ISTIO_VERSION"] == "1.31-dev.b01690e6db7d"  # the proxy image's tag
    assert (meta["NAME"], meta["NAMESPACE"], meta["SERVICE_ACCOUNT"]) == (
        "curl-7ff8c849cb-mv688",
        "sample",
        "curl",
    )
    assert meta["LABELS"]["app"] == "curl"
    assert meta["INSTANCE_IPS"] == "10.20.0.2"


def test_token_audience_and_node_type() -> None:
    pod = golden("curl-pod.json")
    assert token_audience(pod) == "istio-ca"
    assert node_type(pod) == "sidecar"
    gateway = json.loads(json.dumps(pod))
    gateway["spec"]["containers"][1]["args"] = ["proxy", "router", "--domain", "x"]
    gateway["spec"]["volumes"] = []
    assert node_type(gateway) == "router"
    assert token_audience(gateway) is None


@dataclass(frozen=True)
class Record:
    role: Role
    action: str
    phase: str
    outcome: str = "passed"


class Recorder(SyntheticProxies):
    """Records attach and stop_all instead of starting processes."""

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp / "xdsclient", None, None, tmp)  # type: ignore[arg-type]
        self.calls: list[str] = []

    def attach(self, cluster: Any) -> list[Any]:
        self.calls.append(f"attach {cluster}")
        return []

    def stop_all(self) -> None:
        self.calls.append("stop")


def test_proxies_attach_after_a_passed_wait_on_a_remote_and_stop_at_uninstall(tmp_path: Path) -> None:
    proxies = Recorder(tmp_path)
    clusters: dict[Role, Any] = {"external": "E", "remote": "R", "second": "S"}
    for record in (
        Record("external", "wait", "install"),  # istiod and its gateway: no proxies there
        Record("remote", "apply-sample", "install"),
        Record("remote", "wait", "install", outcome="failed"),
        Record("remote", "wait", "install"),
        Record("second", "wait", "upgrade"),
        Record("remote", "delete", "uninstall"),
    ):
        proxies.step_recorded(record, clusters)
    assert proxies.calls == ["attach R", "attach S", "stop"]


def test_a_pod_without_a_synthetic_proxy_has_no_config_and_says_why(tmp_path: Path) -> None:
    proxies = Recorder(tmp_path)
    proxies.problems.append("remote: synthetic proxies could not be started: Unauthenticated")
    cluster: Any = type("Cluster", (), {"role": "remote"})()
    config = SyntheticProxyConfigs(lambda: proxies).read(cluster, "sample", "curl-1")
    assert config.dump is None
    assert config.problems == (
        "remote: synthetic proxies could not be started: Unauthenticated",
        "remote: no synthetic proxy runs for sample/curl-1",
    )
    assert SyntheticProxyConfigs(lambda: None).read(cluster, "sample", "curl-1").dump is None


def test_the_fake_syncz_is_shaped_as_the_real_one() -> None:
    """The recorded syncz of a real istiod (three synthetic proxies: a gateway, curl, helloworld)
    passes the evaluator, and the fake builder prints entries with the same keys."""
    real = golden("syncz.json")
    pod = golden("curl-pod.json")
    pod["metadata"]["name"] = "curl-7ff8c849cb-mv688"
    exp = fake.ip_passthrough()
    exp = type(exp)(**{**exp.__dict__, "cluster_names": {"remote": "eicp-1201094448-remote"}})
    verdict = evaluate_proxies_synced(
        "remote", {"items": [pod]}, real, exp, diagnostics="d", check_proxy_version=False
    )
    assert verdict.ok, verdict.message
    sidecar = next(entry for entry in real if entry["proxy_type"] == "sidecar")
    made = fake.syncz_entry("curl-7ff8c849cb-mv688.sample")
    assert set(made) <= set(sidecar) | {"extensionconfig_sent"}
    nonce = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/[0-9a-f-]+$")
    assert nonce.match(sidecar["cluster_sent"]) and nonce.match(made["cluster_sent"])
    unacked = fake.syncz_entry("x.sample", stale="listener")
    assert "listener_acked" not in unacked  # omitempty, as istiod serialises it


def test_the_recorded_dump_is_an_envoy_config_dump_of_the_sidecar() -> None:
    """What the synthetic proxy wrote on the kwok tier reads as an Envoy admin config dump: the
    node id istio-agent gives a sidecar, the helloworld cluster from CDS with its EDS."""
    dump = ConfigDump.parse(golden("second-remote-remote-curl-config-dump.json"))
    assert dump.node_id == "sidecar~10.20.0.1~curl-7ff8c849cb-5fvq9.sample~sample.svc.cluster.local"
    cluster = dump.clusters[helloworld_cluster("sample")]
    assert cluster["type"] == "EDS" and dump.assignment_of(helloworld_cluster("sample")) is not None
    assert dump.route_config_for_port(5000) == ("5000", "listener 0.0.0.0_5000")


class _Running:
    def running(self) -> bool:
        return True

    def stop(self) -> None:
        pass


def test_waits_passing_side_by_side_start_one_client_per_pod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Consecutive waits of an install run side by side and each passed one attaches: two
    clients for one pod would write their keys and certificates over each other's (seen on the
    tier: "tls: private key does not match public key")."""
    pod = golden("curl-pod.json")
    monkeypatch.setattr("clusters.kwok.xds_proxies.injected_pods", lambda cluster: [pod])
    started: list[str] = []
    both_inside = threading.Barrier(2, timeout=0.5)

    class Counting(SyntheticProxies):
        def _start(self, cluster: Any, pod: dict[str, Any]) -> Any:
            started.append(pod["metadata"]["name"])
            with contextlib.suppress(threading.BrokenBarrierError):
                both_inside.wait()  # gives a second attach every chance to start its own
            return type("Proxy", (), {"process": _Running()})()

        def _wait_synced(self, proxy: Any) -> None:
            pass

    proxies = Counting(tmp_path / "xdsclient", None, None, tmp_path)  # type: ignore[arg-type]
    cluster: Any = type("Cluster", (), {"role": "remote"})()
    threads = [threading.Thread(target=proxies.attach, args=(cluster,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert started == [pod["metadata"]["name"]]
