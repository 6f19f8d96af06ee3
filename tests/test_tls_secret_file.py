"""``--external-tls-secret-file`` (kwok mode): the user's gateway secret as a manifest, checked
before any work (run/tls_secret_file.py), refused with exit 4 and a message naming the file,
what is wrong and what is accepted, never the key; and created from the file by the installer."""

from __future__ import annotations

import base64
import datetime
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from programs.runner import CommandRunner
from run.tls_secret_file import TlsSecretFileError, load

REPO = Path(__file__).resolve().parent.parent
HOST = "istiod.selftest.eicp.test"
NAME = "my-gateway-cert"


@dataclass(frozen=True)
class Material:
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes


def issue(hostname: str = HOST) -> Material:
    """A CA and a certificate for ``hostname`` issued by it (the user's, in the tests)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "eicp self-test user CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pem = serialization.Encoding.PEM
    return Material(ca.public_bytes(pem), cert.public_bytes(pem), private)


def secret_manifest(material: Material, **overrides: Any) -> dict[str, Any]:
    data = {"tls.crt": material.cert_pem, "tls.key": material.key_pem, "ca.crt": material.ca_pem}
    manifest: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": NAME, "namespace": "istio-system"},
        "type": "kubernetes.io/tls",
        "data": {key: base64.b64encode(value).decode() for key, value in data.items()},
    }
    manifest.update(overrides)
    return manifest


def write(path: Path, manifest: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(manifest))
    return path


def test_a_good_file_gives_its_ca_as_the_ca_bundle(tmp_path: Path) -> None:
    material = issue()
    checked = load(write(tmp_path / "s.yaml", secret_manifest(material)), NAME, HOST)
    assert base64.b64decode(checked.ca_bundle) == material.ca_pem
    assert (checked.name, checked.path) == (NAME, tmp_path / "s.yaml")


def bad_cases(material: Material, other: Material) -> dict[str, tuple[dict[str, Any] | None, str]]:
    good = secret_manifest(material)
    data = good["data"]
    return {
        "missing": (None, "does not exist or is not a file"),
        "not-a-secret": ({"kind": "ConfigMap"}, "is not a Secret manifest"),
        "other-name": (
            secret_manifest(material, metadata={"name": "other"}),
            "names Secret 'other', not 'my-gateway-cert'",
        ),
        "opaque": (secret_manifest(material, type="Opaque"), "has type 'Opaque', not kubernetes.io/tls"),
        "no-ca": (
            secret_manifest(material, data={k: v for k, v in data.items() if k != "ca.crt"}),
            "has no ca.crt",
        ),
        "other-key": (
            secret_manifest(material, data={**data, "tls.key": base64.b64encode(other.key_pem).decode()}),
            "tls.key is not the key of tls.crt's first certificate",
        ),
        "other-ca": (
            secret_manifest(material, data={**data, "ca.crt": base64.b64encode(other.ca_pem).decode()}),
            "ca.crt did not issue tls.crt",
        ),
        "not-base64": (
            secret_manifest(material, data={**data, "tls.crt": "%%%"}),
            "data.tls.crt is not base64",
        ),
    }


def test_every_bad_shape_is_named(tmp_path: Path) -> None:
    material, other = issue(), issue()
    for case, (manifest, message) in bad_cases(material, other).items():
        path = tmp_path / f"{case}.yaml"
        if manifest is not None:
            write(path, manifest)
        with pytest.raises(TlsSecretFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
            load(path, NAME, HOST)
    with pytest.raises(TlsSecretFileError, match=f"tls.crt is for {HOST}, not other.example.com"):
        load(write(tmp_path / "good.yaml", secret_manifest(material)), NAME, "other.example.com")


def run_pytest(runner: CommandRunner, *args: str) -> tuple[int, str]:
    result = runner.run(
        [sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", *args],
        cwd=REPO, check=False, timeout_s=120,
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr


KWOK_DNS_TLS = ["--topology-mode", "kwok", "--scenario", "dns-tls", "--external-hostname", HOST]


def test_bad_files_stop_the_run_before_any_work_and_never_print_the_key(
    runner: CommandRunner, tmp_path: Path
) -> None:
    material = issue()
    wrong = write(tmp_path / "wrong.yaml", secret_manifest(material, type="Opaque"))
    for args, message in [
        ([*KWOK_DNS_TLS, "--external-tls-secret", NAME], "in kwok mode needs --external-tls-secret-file FILE"),
        (
            [*KWOK_DNS_TLS, "--external-tls-secret", NAME, "--external-tls-secret-file", str(tmp_path / "none.yaml")],
            f"--external-tls-secret-file {tmp_path / 'none.yaml'}: does not exist or is not a file; expected a Secret manifest",
        ),
        (
            [*KWOK_DNS_TLS, "--external-tls-secret", NAME, "--external-tls-secret-file", str(wrong)],
            f"--external-tls-secret-file {wrong}: has type 'Opaque', not kubernetes.io/tls",
        ),
        ([*KWOK_DNS_TLS, "--external-tls-secret-file", str(wrong)], "needs --external-tls-secret NAME"),
        (
            ["--scenario", "dns-tls", "--external-hostname", HOST, "--external-tls-secret", NAME,
             "--external-tls-secret-file", str(wrong)],
            "applies to kwok mode only",
        ),
    ]:  # fmt: skip
        code, output = run_pytest(runner, "--report-dir", str(tmp_path / "report"), *args)
        assert code == pytest.ExitCode.USAGE_ERROR, output
        assert message in output, output
        assert "Traceback" not in output and "test session starts" not in output
        assert "PRIVATE KEY" not in output and base64.b64encode(material.key_pem).decode()[:40] not in output
    assert not any((tmp_path / "report").glob("**/*.xml"))  # no run began: nothing was reported


def test_dns_tls_with_the_file_creates_the_secret_and_trusts_its_ca() -> None:
    from dataclasses import replace

    from scenarios import registry
    from scenarios.facts import Facts
    from scenarios.releases import load_pins

    bundle = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n").decode()
    facts = Facts(
        cluster_names={"remote": "r"},
        external_istiod_addr="10.0.0.1",
        external_hostname=HOST,
        external_tls_secret=NAME,
        suite_pki=False,
        external_tls_secret_file="/path/to/secret.yaml",
        external_tls_ca_bundle=bundle,
        clusters_have_dns=False,
    )
    rendered = registry.render("dns-tls", load_pins().resolve_release("1.31"), facts)
    steps = {step.name: step for step in rendered.plan.steps}
    secret = steps[f"external-secret-{NAME}"]
    assert secret.params == {
        "namespace": "istio-system",
        "name": NAME,
        "type": "kubernetes.io/tls",
        "data_from_file": "/path/to/secret.yaml",
    }
    names = list(steps)
    assert names.index(f"external-secret-{NAME}") < names.index("external-istiod-routing")
    assert steps["remote-precondition-gateway-name-and-tls"].params["ca"] == f"base64:{bundle}"
    assert all(hook.ca_bundle_required for hook in rendered.expectations.webhooks["remote"])
    assert bundle in yaml.safe_dump([m for s in rendered.plan.steps for m in s.manifests])  # the caBundle
    without_file = registry.render(
        "dns-tls",
        load_pins().resolve_release("1.31"),
        replace(facts, external_tls_secret_file=None, external_tls_ca_bundle=None),
    )
    assert f"external-secret-{NAME}" not in {step.name for step in without_file.plan.steps}
    assert not any(hook.ca_bundle_required for hook in without_file.expectations.webhooks["remote"])
