"""Reading Kubernetes objects as the API returns them (plain dicts from ``kubectl -o json``)."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from typing import Any

Obj = dict[str, Any]


def items(obj_or_list: Obj | None) -> list[Obj]:
    """The items of a ``List`` object (``kubectl get ... -o json``), or ``[obj]`` for one object."""
    if obj_or_list is None:
        return []
    if obj_or_list.get("kind", "").endswith("List") or "items" in obj_or_list:
        return list(obj_or_list.get("items") or [])
    return [obj_or_list]


def name_of(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    name = meta.get("name", "<unnamed>")
    return f"{namespace}/{name}" if namespace else str(name)


def condition(obj: Obj, kind: str) -> Obj | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def condition_true(obj: Obj, kind: str) -> bool:
    cond = condition(obj, kind)
    return cond is not None and cond.get("status") == "True"


def describe_condition(obj: Obj, kind: str) -> str:
    cond = condition(obj, kind)
    if cond is None:
        return f"no {kind} condition"
    text = f"{kind}={cond.get('status')}"
    if cond.get("reason"):
        text += f" ({cond['reason']}"
        text += f": {cond['message']})" if cond.get("message") else ")"
    return text


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


def lb_addresses(service: Obj) -> list[str]:
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [
        entry.get("ip") or entry.get("hostname")
        for entry in ingress
        if entry.get("ip") or entry.get("hostname")
    ]


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
