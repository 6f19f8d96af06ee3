"""Per-cluster kubeconfig files: written mode 0600 in the run directory, secrets registered.

A kubeconfig holds credentials (client keys, tokens, passwords). Before one is written the
redactor learns every credential in it, so none can reach a log or a report even if a tool
echoes it, and the file is created with mode 0600 from the start (never world-readable, not
even briefly).
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

import yaml

from programs.private_files import write_private
from programs.redaction import Redactor

_SECRET_USER_FIELDS = ("token", "client-key-data", "password")
_SECRET_PROVIDER_FIELDS = ("client-secret", "id-token", "refresh-token", "access-token")


class KubeconfigError(ValueError):
    """A kubeconfig does not have the shape the suite needs."""


def parse_kubeconfig(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise KubeconfigError(f"{source}: not a kubeconfig ({error.__class__.__name__})") from None
    if not isinstance(data, dict) or not data.get("clusters") or not data.get("contexts"):
        raise KubeconfigError(f"{source}: not a kubeconfig (no clusters or contexts)")
    return data


def register_secrets(kubeconfig: dict[str, Any], redactor: Redactor) -> None:
    """Teach ``redactor`` every credential of the kubeconfig's users: tokens, keys, passwords,
    an auth provider's ``client-secret`` and tokens, and every exec-plugin ``env`` value."""
    for entry in kubeconfig.get("users") or []:
        user = entry.get("user") or {}
        if not isinstance(user, dict):
            continue
        for key in _SECRET_USER_FIELDS:
            value = user.get(key)
            if isinstance(value, str) and value:
                redactor.register(value)
                if key.endswith("-data"):
                    _register_decoded(value, redactor)
        provider = (user.get("auth-provider") or {}).get("config") or {}
        for key in _SECRET_PROVIDER_FIELDS:
            if isinstance(provider, dict) and isinstance(provider.get(key), str):
                redactor.register(provider[key])
        for variable in (user.get("exec") or {}).get("env") or []:
            if isinstance(variable, dict) and isinstance(variable.get("value"), str):
                redactor.register(variable["value"])


def _register_decoded(value: str, redactor: Redactor) -> None:
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return
    redactor.register(decoded)


def server_of(kubeconfig: dict[str, Any], context: str) -> str:
    """The API server URL the kubeconfig uses for ``context``."""
    contexts = {c.get("name"): c.get("context") or {} for c in kubeconfig.get("contexts") or []}
    if context not in contexts:
        raise KubeconfigError(
            f"context {context!r} is not in the kubeconfig (it has {', '.join(map(str, contexts))})"
        )
    cluster_name = contexts[context].get("cluster")
    for cluster in kubeconfig.get("clusters") or []:
        if cluster.get("name") == cluster_name:
            server = (cluster.get("cluster") or {}).get("server")
            if server:
                return str(server)
    raise KubeconfigError(f"context {context!r}: cluster {cluster_name!r} has no server")


def save_kubeconfig(path: Path, text: str, redactor: Redactor, source: str) -> dict[str, Any]:
    """Register the kubeconfig's credentials, write it (0600) and return it parsed."""
    data = parse_kubeconfig(text, source)
    register_secrets(data, redactor)
    write_private(path, text)
    return data
