"""Reading Kubernetes objects as the API returns them (plain dicts from ``kubectl -o json``)."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable

# The object helpers install/ shares live in kube/objects.py; re-exported for the evaluators.
from kube.objects import (
    Obj,
    condition,
    condition_true,
    describe_condition,
    items,
    lb_addresses,
    name_of,
)

__all__ = [
    "Obj",
    "condition",
    "condition_true",
    "container_env",
    "describe_condition",
    "host_of",
    "image_repository",
    "image_tag",
    "is_ip",
    "items",
    "join",
    "lb_addresses",
    "name_of",
    "proxy_config",
]


def container_env(container: Obj, name: str) -> str | None:
    """A literal env value of a container (``valueFrom`` entries have no literal value)."""
    for env in container.get("env") or []:
        if env.get("name") == name:
            value = env.get("value")
            return value if isinstance(value, str) else None
    return None


def image_tag(image: str) -> str | None:
    """The tag of an image reference; ``None`` for digest-only or untagged references."""
    reference = image.split("@", 1)[0]
    last = reference.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    return last.rsplit(":", 1)[1]


def image_repository(image: str) -> str:
    """The image reference without tag or digest (``registry/path/name``)."""
    reference = image.split("@", 1)[0]
    head, _, last = reference.rpartition("/")
    name = last.split(":", 1)[0]
    return f"{head}/{name}" if head else name


def proxy_config(container: Obj) -> Obj:
    """The injected proxy's ProxyConfig (the ``PROXY_CONFIG`` env var, JSON); empty if absent."""
    raw = container_env(container, "PROXY_CONFIG")
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def host_of(address: str) -> str:
    """The host part of ``host:port`` (IPv6 in brackets allowed)."""
    if address.startswith("["):
        return address[1 : address.index("]")]
    host, sep, port = address.rpartition(":")
    return host if sep and port.isdigit() else address


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def join(values: Iterable[str]) -> str:
    listed = list(values)
    return ", ".join(listed) if listed else "none"
