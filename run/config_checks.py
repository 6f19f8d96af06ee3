"""Checks of single option values for ``run/config.py``: paths, image references, existing clusters.

Each check raises ``ConfigError`` with a message that names the value and what is accepted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import yaml

from scenarios.registry import roles_for

# Docker's reference grammar (distribution/reference): a registry host with an optional port,
# then lowercase path components; a tag is up to 128 word characters, dots and dashes.
_DOMAIN = (
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?"
)
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HUB_RE = re.compile(rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
ROLE_FLAGS = (
    ("external", "--external-context"),
    ("remote", "--remote-context"),
    ("second", "--second-context"),
)


class ConfigError(ValueError):
    """A bad option value; the message names it and what is accepted."""


def fail(message: str) -> NoReturn:
    raise ConfigError(message)


def check_directory(flag: str, path: Path) -> Path:
    """A directory the run writes to: refuse a file, create it if missing, refuse if that fails."""
    for candidate in (path, *path.parents):
        if candidate.exists() and not candidate.is_dir():
            fail(f"{flag} {path}: {candidate} is a file, not a directory; pass a directory path")
        if candidate.exists():
            break
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        fail(f"{flag} {path}: cannot be created ({error.strerror or error}); pass a writable directory")
    if not os.access(path, os.W_OK | os.X_OK):
        fail(f"{flag} {path}: is not writable by this user; pass a writable directory")
    return path


def check_hub(hub: str) -> str:
    if not _HUB_RE.match(hub):
        fail(
            f"--istio-hub {hub!r} is not an image registry reference: expected [HOST[:PORT]/]PATH in "
            "lowercase, without a tag or digest, e.g. docker.io/istio or localhost:5000/istio-testing"
        )
    return hub


def check_tag(tag: str) -> str:
    if not _TAG_RE.match(tag):
        fail(
            f"--istio-tag {tag!r} is not an image tag: expected 1-128 letters, digits, '_', '.' or '-' "
            "not starting with '.' or '-', e.g. 1.31.1 or 1.32-alpha.abc123"
        )
    return tag


def check_tool_path(flag: str, path: Path) -> Path:
    """An executable file: refuse a missing path, a directory, or a file without execute permission."""
    if not path.exists():
        fail(f"{flag}: no such file")
    if path.is_dir():
        fail(f"{flag}: is a directory; pass the path of the executable itself")
    if not os.access(path, os.X_OK):
        fail(f"{flag}: is not executable (chmod +x it, or pass another binary)")
    return path


ExistingParts = tuple[Path | None, dict[str, str], dict[str, str], dict[str, str]]


def existing_clusters(
    option: Callable[[str], Any], scenarios: tuple[str, ...], label_re: re.Pattern[str]
) -> ExistingParts:
    """Kubeconfig, contexts, API servers and cluster names of ``--topology-mode existing``
    (the contexts are checked against the kubeconfig files by ``check_contexts``)."""
    contexts: dict[str, str] = {role: option(flag) for role, flag in ROLE_FLAGS if option(flag)}
    missing = [flag for role, flag in ROLE_FLAGS[:2] if role not in contexts]
    needing_second = [scenario for scenario in scenarios if "second" in roles_for(scenario)]
    if needing_second and "second" not in contexts:
        missing.append(f"--second-context (the {', '.join(needing_second)} scenario needs it)")
    if missing:
        fail("--topology-mode existing needs " + ", ".join(missing))
    if len(set(contexts.values())) != len(contexts):
        fail(f"each role needs its own cluster; contexts given: {contexts}")
    api_servers = {
        role: option(flag)
        for role, flag in (("remote", "--remote-api-server"), ("second", "--second-api-server"))
        if option(flag)
    }
    for role, url in api_servers.items():
        if not url.startswith("https://"):
            fail(f"--{role}-api-server {url!r}: expected an https:// URL")
    names = _cluster_names(option, label_re)
    kubeconfig = option("--kubeconfig")
    if kubeconfig is not None and not kubeconfig.is_file():
        fail(f"--kubeconfig {kubeconfig}: no such file")
    return kubeconfig, contexts, api_servers, names


def _cluster_names(option: Callable[[str], Any], label_re: re.Pattern[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for role in ("external", "remote", "second"):
        flag = f"--{role}-cluster-name"
        value = option(flag)
        if value is None:
            continue
        if not label_re.match(value):
            fail(
                f"{flag} {value!r} is not a DNS-1123 label: 1-63 characters of a-z, 0-9 and '-', "
                "starting and ending with a letter or digit (it becomes the Istio cluster ID)"
            )
        names[role] = value
    everyone = {**{role: role for role in ("external", "remote", "second")}, **names}
    if len(set(everyone.values())) != len(everyone):
        fail(f"each role needs its own cluster name; --*-cluster-name give {names}")
    return names


def kubeconfig_files(explicit: Path | None) -> tuple[list[Path], str]:
    """The kubeconfig files kubectl would read, and how to name them to the user."""
    if explicit is not None:
        return [explicit], str(explicit)
    env = os.environ.get("KUBECONFIG")
    if env:
        files = [Path(part) for part in env.split(os.pathsep) if part]
        return files, f"$KUBECONFIG ({env})"
    default = Path.home() / ".kube" / "config"
    return [default], f"the default kubeconfig {default}"


def check_contexts(contexts: dict[str, str], explicit: Path | None) -> None:
    """Every context given names a context of the kubeconfig file(s); all bad ones named at once."""
    files, where = kubeconfig_files(explicit)
    present = [path for path in files if path.is_file()]
    if not present:
        fail(
            f"--topology-mode existing: {where} does not exist (no kubeconfig file to read the contexts "
            "from); pass --kubeconfig PATH or set KUBECONFIG to an existing file"
        )
    available: list[str] = []
    for path in present:
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            fail(
                f"--topology-mode existing: cannot read kubeconfig {path}: {' '.join(str(error).split())[:200]}"
            )
        entries = data.get("contexts") if isinstance(data, dict) else None
        for entry in entries or []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                available.append(entry["name"])
    bad = [f"--{role}-context {context!r}" for role, context in contexts.items() if context not in available]
    if bad:
        fail(
            f"{', '.join(bad)} {'is not a context' if len(bad) == 1 else 'are not contexts'} in {where}; "
            f"contexts there: {', '.join(sorted(set(available))) or 'none'}"
        )
