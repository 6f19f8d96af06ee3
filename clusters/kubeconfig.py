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
from programs.redaction.words import is_secret_name

_SECRET_USER_FIELDS = ("token", "client-key-data", "password")
_SECRET_PROVIDER_FIELDS = ("client-secret", "id-token", "refresh-token", "access-token")
# An exec plugin's env value whose name does not say it is secret is registered only from
# this length on (values.py removes shorter ones as whole words: ``AWS_PROFILE=prod`` must not
# turn every "prod" of a run's output into <redacted>).
_NEUTRAL_MIN_LENGTH = 8


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


def register_secrets(kubeconfig: object, redactor: Redactor) -> None:
    """Teach ``redactor`` every credential of every user of the kubeconfig, whichever context
    is used: tokens, client keys (and their decoded PEM), passwords, an auth provider's
    ``client-secret`` and tokens, and every exec-plugin ``env`` value. Any shape is accepted
    (a user's file may be odd): what is not a mapping or a list holds nothing to register."""
    users = kubeconfig.get("users") if isinstance(kubeconfig, dict) else None
    for entry in users if isinstance(users, list) else []:
        user = entry.get("user") if isinstance(entry, dict) else None
        if not isinstance(user, dict):
            continue
        for key in _SECRET_USER_FIELDS:
            value = user.get(key)
            if isinstance(value, str) and value:
                redactor.register(value)
                if key.endswith("-data"):
                    _register_decoded(value, redactor)
        provider = user.get("auth-provider")
        config = provider.get("config") if isinstance(provider, dict) else None
        for key in _SECRET_PROVIDER_FIELDS:
            if isinstance(config, dict) and isinstance(config.get(key), str):
                redactor.register(config[key])
        exec_config = user.get("exec")
        env = exec_config.get("env") if isinstance(exec_config, dict) else None
        for variable in env if isinstance(env, list) else []:
            value = variable.get("value") if isinstance(variable, dict) else None
            if not isinstance(value, str):
                continue
            name = variable.get("name")
            if (isinstance(name, str) and is_secret_name(name)) or len(value.strip()) >= _NEUTRAL_MIN_LENGTH:
                redactor.register(value)


def register_kubeconfig_files(paths: list[Path], redactor: Redactor) -> None:
    """Register the credentials of every user in each of ``paths`` (a user's kubeconfig files:
    its other contexts' users too, since any kubectl call may print them)."""
    for path in paths:
        try:
            data = yaml.safe_load(path.read_bytes())
        except (OSError, yaml.YAMLError):
            continue  # unreadable: the configure-time check already named it, or kubectl will
        register_secrets(data, redactor)


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
