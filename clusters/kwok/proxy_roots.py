"""Which root a synthetic proxy verifies the discovery address with (kwok mode).

istio-agent verifies istiod (or the gateway in front of it) with the file ``XDS_ROOT_CA`` names
(``CA_ROOT_CA`` for the CA address; the guide sets both alike), else with the mesh root it
mounts from the ``istio-ca-root-cert`` ConfigMap. A kwok pod runs no image, so a file of the
image (the guide's ``/etc/ssl/certs/ca-certificates.crt``, its system roots) is stood in by
the host's system roots plus the CA of ``--external-tls-secret-file`` (an image that trusts the
CA of your gateway certificate, as the proxies of a mesh with a private CA must).
"""

from __future__ import annotations

import ssl
from pathlib import Path

from scenarios.common import MOUNTED_MESH_ROOT

XDS_ROOT_CA = "XDS_ROOT_CA"


def host_system_roots() -> bytes:
    """The host's CA bundle (OpenSSL's default file), or nothing where there is none."""
    cafile = ssl.get_default_verify_paths().cafile
    return Path(cafile).read_bytes() if cafile and Path(cafile).is_file() else b""


def image_roots(extra_ca_pem: bytes | None) -> bytes:
    """The stand-in for a proxy image's system roots."""
    roots = host_system_roots()
    return roots.rstrip(b"\n") + b"\n" + extra_ca_pem if extra_ca_pem else roots


def discovery_root(env: dict[str, str], mesh_root: str, image: bytes) -> tuple[str, str]:
    """(the PEM the proxy verifies the discovery address with, where it comes from)."""
    named = env.get(XDS_ROOT_CA, "")
    if not named or named == MOUNTED_MESH_ROOT:
        return mesh_root, "the mesh root (istio-ca-root-cert)"
    return (
        image.decode(),
        f"{named} of the image (stood in: the host's system roots and your secret's ca.crt)",
    )
