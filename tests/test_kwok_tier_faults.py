"""pytest plugin for the child runs of tests/test_kwok_tier.py: breaks the external control plane
on purpose right before the injection check, the way an operator's mistake would.

Loaded with ``-p tests.test_kwok_tier_faults``; ``EICP_KWOK_FAULT`` names the fault:

- ``stop-istiod``: the istiod Deployment scaled to zero; the kwok tier's watcher then stops the
  real process (clusters/kwok/istiod_host.py): the gateway stand-in in front of it meets a
  refused connection;
- ``wrong-ca-bundle``: the remote's injector webhook configurations get a caBundle of a CA
  that did not sign istiod's serving certificate, and lose their ``istio.io/rev`` label so the
  running istiod's webhook patcher leaves them alone (it only patches its revision's);
- ``wrong-gateway-name`` (dns-tls): the Gateway's credentialName secret gets a certificate for
  another name, issued by the run's istiod intermediate (read from the ``cacerts`` secret), so
  the chain still verifies against the webhook caBundle and only the name is wrong; the
  plugin waits until the gateway stand-in serves it;
- ``no-hosts-entry`` (dns-tls): the gateway hostname's line is taken out of the remote
  cluster's own hosts file (``/etc/netns/<its namespace>/hosts``), and the plugin waits until
  a lookup there fails, Go's resolver has re-read the file (it does every 5 s at most) and the
  API server's idle connections to the gateway are closed (a name is looked up when dialling);
- ``guide-destination-rule`` (dns-tls): the DestinationRule becomes the guide's own (``SIMPLE``
  without a CA, scenarios/external.py rendered without the suite's upstream CA), and the plugin
  waits until the gateway stand-in, reconfigured from it, answers a call to istiod with its 503
  naming the refused certificate (known issue gateway-verifies-istiod-with-system-roots).

It has no tests of its own (collected with the self-tests, it contributes nothing).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import http.client
import json
import os
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from clusters.cluster import ClusterHandle
from clusters.netns_etc import NetnsEtcFiles
from scenarios.dns_tls import gateway_hostname
from scenarios.external import ROUTING_V1, istiod_routing
from scenarios.facts import Facts
from suites.evaluation.evaluators.injection import UPSTREAM_VERIFY_FAILED

FAULT_ENV = "EICP_KWOK_FAULT"
OTHER_NAME = "another-name.eicp-selftest.test"
GO_HOSTS_CACHE_S = 5.0  # Go's net package re-reads /etc/hosts at most this often (cacheMaxAge)
# The API server's webhook client closes idle connections after 90 s (client-go's transport
# defaults, k8s.io/apimachinery/pkg/util/net SetOldTransportDefaults); then some margin.
IDLE_CONNECTIONS_DEADLINE_S = 150.0
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
        stop_istiod(topology["external"], exp.external_namespace, exp.istiod_deployment)
    elif fault == "wrong-ca-bundle":
        for role in sorted(exp.workloads):
            wrong_ca_bundle(topology[role])
    elif fault == "wrong-gateway-name":
        wrong_gateway_name(topology["external"], installed.facts)
    elif fault == "no-hosts-entry":
        no_hosts_entry(topology["remote"], installed.facts)
    elif fault == "guide-destination-rule":
        guide_destination_rule(topology["external"], installed.facts)
    else:
        raise pytest.UsageError(
            f"{FAULT_ENV}={fault!r}: expected stop-istiod, wrong-ca-bundle, wrong-gateway-name, "
            "no-hosts-entry or guide-destination-rule"
        )


def stop_istiod(external: ClusterHandle, namespace: str, deployment: str) -> None:
    """Scale istiod to zero and wait until no istiod process of the run is left (the gateway
    stand-in in front of it still accepts connections, as the gateway's Envoy would)."""
    external.kubectl("scale", "deployment", deployment, "-n", namespace, "--replicas=0", timeout_s=60.0)
    deadline = time.monotonic() + FAULT_DEADLINE_S
    while time.monotonic() < deadline:
        if not running_istiods(str(external.kubeconfig.parent)):
            return
        time.sleep(1.0)
    raise AssertionError(f"istiod still runs {FAULT_DEADLINE_S:.0f}s after scale-to-zero")


def running_istiods(run_dir: str) -> list[int]:
    """pilot-discovery processes working in this run's directory (the pod sandbox's root)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                argv0 = (entry / "cmdline").read_bytes().split(b"\0")[0]
                if argv0.endswith(b"pilot-discovery") and os.readlink(entry / "cwd").startswith(run_dir):
                    found.append(int(entry.name))
    return found


def wrong_gateway_name(external: ClusterHandle, facts: Facts) -> None:
    """The gateway's certificate, for another name, issued by the istiod intermediate (which the
    root in the webhook caBundle signed): only the name can fail."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cacerts = json.loads(
        external.kubectl("get", "secret", "cacerts", "-n", "external-istiod", "-o", "json").stdout
    )
    ca_pem = base64.b64decode(cacerts["data"]["ca-cert.pem"])
    ca_cert = x509.load_pem_x509_certificate(ca_pem)
    ca_key = serialization.load_pem_private_key(base64.b64decode(cacerts["data"]["ca-key.pem"]), None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, OTHER_NAME)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(OTHER_NAME)]), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca_pem
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    patch = {
        "data": {"tls.crt": base64.b64encode(chain).decode(), "tls.key": base64.b64encode(private).decode()}
    }
    external.kubectl(
        "patch", "secret", facts.external_tls_secret, "-n", "istio-system", "--type=merge", "-p", json.dumps(patch),
        timeout_s=30.0,
    )  # fmt: skip
    address, hostname = str(facts.external_istiod_addr), gateway_hostname(facts)
    deadline = time.monotonic() + FAULT_DEADLINE_S
    served = ""
    while time.monotonic() < deadline:
        served = served_names(address, 15017, hostname)
        if OTHER_NAME in served:
            return
        time.sleep(1.0)
    raise AssertionError(
        f"the gateway at {address}:15017 still serves {served!r} {FAULT_DEADLINE_S:.0f}s later"
    )


def guide_destination_rule(external: ClusterHandle, facts: Facts) -> None:
    """The DestinationRule as seed 001 writes it; wait until the gateway refuses istiod."""
    hostname = gateway_hostname(facts)
    rule = istiod_routing(hostname, "dns", ROUTING_V1, credential_name=facts.external_tls_secret)[2]
    patch = {"spec": {"trafficPolicy": rule["spec"]["trafficPolicy"]}}
    name, namespace = rule["metadata"]["name"], rule["metadata"]["namespace"]
    external.kubectl(
        "patch", "destinationrule", name, "-n", namespace, "--type=merge", "-p", json.dumps(patch), timeout_s=30.0
    )  # fmt: skip
    address = str(facts.external_istiod_addr)
    deadline = time.monotonic() + FAULT_DEADLINE_S
    answer = ""
    while time.monotonic() < deadline:
        answer = gateway_answer(address, 15017, hostname)
        if answer.startswith("503") and UPSTREAM_VERIFY_FAILED.search(answer):
            return
        time.sleep(1.0)
    raise AssertionError(
        f"the gateway at {address}:15017 still answers {answer!r} {FAULT_DEADLINE_S:.0f}s later"
    )


def gateway_answer(address: str, port: int, hostname: str) -> str:
    """Status and body of a GET /inject through the gateway (the gateway's certificate unverified)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    connection = http.client.HTTPSConnection(address, port, context=context, timeout=10.0)
    try:
        connection.sock = context.wrap_socket(
            socket.create_connection((address, port), timeout=10.0), server_hostname=hostname
        )
        connection.request("GET", "/inject", headers={"Host": f"{hostname}:{port}"})
        response = connection.getresponse()
        return f"{response.status} {response.read().decode(errors='replace')}"
    except OSError as error:
        return f"(no answer: {error})"
    finally:
        connection.close()


def served_names(address: str, port: int, hostname: str) -> str:
    """The names in the certificate the gateway serves for SNI ``hostname`` (unverified)."""
    from cryptography import x509

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((address, port), timeout=5.0) as raw,
            context.wrap_socket(raw, server_hostname=hostname) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except OSError as error:
        return f"(no handshake: {error})"
    if der is None:
        return "(no certificate)"
    names = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    return " ".join(names.value.get_values_for_type(x509.DNSName))


def no_hosts_entry(remote: ClusterHandle, facts: Facts) -> None:
    """The gateway hostname out of the remote cluster's hosts file; wait until lookups there
    fail, Go's resolver (which re-reads /etc/hosts every 5 s at most) has seen it, and the API
    server holds no connection to the gateway any more (it keeps idle webhook connections
    open for 90 s, and only a new connection looks the name up)."""
    hostname, gateway = gateway_hostname(facts), str(facts.external_istiod_addr)
    etc = NetnsEtcFiles()
    assert etc.lookup(remote.name, hostname) is not None, f"{hostname} was not published for {remote.name}"
    etc.withdraw(remote.name, hostname)
    lookup = subprocess.run(
        ["ip", "netns", "exec", remote.name, "getent", "hosts", hostname], capture_output=True, check=False
    )
    assert lookup.returncode == 2, f"{hostname} still resolves in {remote.name}: {lookup.stdout!r}"
    time.sleep(GO_HOSTS_CACHE_S + 1)
    deadline = time.monotonic() + IDLE_CONNECTIONS_DEADLINE_S
    connections = ""
    while time.monotonic() < deadline:
        connections = subprocess.run(
            ["ip", "netns", "exec", remote.name, "ss", "-Htn", "state", "established", "dst", f"{gateway}:15017"],
            capture_output=True, text=True, check=False,
        ).stdout.strip()  # fmt: skip
        if not connections:
            return
        time.sleep(2.0)
    raise AssertionError(f"the remote API server still holds connections to {gateway}:15017: {connections}")


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
