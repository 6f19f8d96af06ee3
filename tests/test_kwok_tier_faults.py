"""pytest plugin for the child runs of tests/test_kwok_tier.py: breaks the external control plane
on purpose right before the injection check, the way an operator's mistake would.

Loaded with ``-p tests.test_kwok_tier_faults``; ``EICP_KWOK_FAULT`` names the fault:

- ``stop-istiod``: the istiod Deployment scaled to zero; the kwok tier's watcher then stops the
  real process (clusters/kwok/istiod_host.py), and nothing listens at the gateway address;
- ``wrong-ca-bundle``: the remote's injector webhook configurations get a caBundle of a CA
  that did not sign istiod's serving certificate, and lose their ``istio.io/rev`` label so the
  running istiod's webhook patcher leaves them alone (it only patches its revision's).

It has no tests of its own (collected with the self-tests, it contributes nothing).
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import socket
import time
from typing import Any

import pytest

from clusters.cluster import ClusterHandle

FAULT_ENV = "EICP_KWOK_FAULT"
CHECK = "test_sidecars_injected_by_external_control_plane"
FAULT_DEADLINE_S = 90.0


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    fault = os.environ.get(FAULT_ENV)
    if not fault or not item.name.startswith(CHECK):
        return
    installed: Any = item.funcargs["installed_scenario"]  # type: ignore[attr-defined]
    exp = installed.expectations
    topology = installed.topology
    if fault == "stop-istiod":
        stop_istiod(
            topology["external"], exp.external_namespace, exp.istiod_deployment, exp.discovery_address
        )
    elif fault == "wrong-ca-bundle":
        for role in sorted(exp.workloads):
            wrong_ca_bundle(topology[role])
    else:
        raise pytest.UsageError(f"{FAULT_ENV}={fault!r}: expected stop-istiod or wrong-ca-bundle")


def stop_istiod(external: ClusterHandle, namespace: str, deployment: str, discovery: str) -> None:
    """Scale istiod to zero and wait until nothing accepts connections on its webhook port."""
    external.kubectl("scale", "deployment", deployment, "-n", namespace, "--replicas=0", timeout_s=60.0)
    host = discovery.rsplit(":", 1)[0]
    deadline = time.monotonic() + FAULT_DEADLINE_S
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, 15017), timeout=2.0):
                pass
        except OSError:
            return
        time.sleep(1.0)
    raise AssertionError(
        f"istiod still accepts connections at {host}:15017 {FAULT_DEADLINE_S:.0f}s after scale-to-zero"
    )


def other_ca_pem() -> bytes:
    """A fresh self-signed CA certificate (PEM): it signed nothing istiod serves."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "eicp self-test: not istiod's CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def wrong_ca_bundle(remote: ClusterHandle) -> None:
    """Every sidecar-injector webhook of the remote trusts another CA, unmanaged by istiod."""
    bundle = base64.b64encode(other_ca_pem()).decode()
    configs = json.loads(remote.kubectl("get", "mutatingwebhookconfigurations", "-o", "json").stdout)
    for config in configs.get("items") or []:
        hooks = config.get("webhooks") or []
        patch = [
            {"op": "replace", "path": f"/webhooks/{index}/clientConfig/caBundle", "value": bundle}
            for index, hook in enumerate(hooks)
            if str(hook.get("name", "")).endswith("sidecar-injector.istio.io")
        ]
        if not patch:
            continue
        name = config["metadata"]["name"]
        remote.kubectl("label", "mutatingwebhookconfiguration", name, "istio.io/rev-", timeout_s=30.0)
        remote.kubectl(
            "patch",
            "mutatingwebhookconfiguration",
            name,
            "--type=json",
            "-p",
            json.dumps(patch),
            timeout_s=30.0,
        )
