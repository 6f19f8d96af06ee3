"""The existing-mode options for ``run/config.py``: contexts, API servers, cluster names and
the kubeconfig file(s) they are looked up in.

Each check raises ``ConfigError`` (run/config_values.py) with a message that names the value
and what is accepted. A kubeconfig file of any content (not UTF-8, not YAML, a ``contexts``
that is not a list) is refused with its name, never with a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from run.config_values import (
    ConfigError,
    check_dns_label,
    check_https_url,
    check_path_text,
    fail,
    shown,
)
from scenarios.registry import roles_for

__all__ = ["ConfigError", "check_contexts", "existing_clusters", "fail", "kubeconfig_files"]

ROLE_FLAGS = (
    ("external", "--external-context"),
    ("remote", "--remote-context"),
    ("second", "--second-context"),
)
ROLES = ("external", "remote", "second")

ExistingParts = tuple[Path | None, dict[str, str], dict[str, str], dict[str, str]]


def existing_clusters(option: Callable[[str], Any], scenarios: tuple[str, ...]) -> ExistingParts:
    """Kubeconfig, contexts, API servers and cluster names of ``--topology-mode existing``
    (the contexts are checked against the kubeconfig files by ``check_contexts``)."""
    contexts: dict[str, str] = {role: option(flag) for role, flag in ROLE_FLAGS if option(flag) is not None}
    for role, context in contexts.items():
        if not context.strip() or not context.isprintable():
            fail(
                f"--{role}-context {shown(context)}: not a context name (empty, blank or control characters)"
            )
    missing = [flag for role, flag in ROLE_FLAGS[:2] if role not in contexts]
    needing_second = [scenario for scenario in scenarios if "second" in roles_for(scenario)]
    if needing_second and "second" not in contexts:
        missing.append(f"--second-context (the {', '.join(needing_second)} scenario needs it)")
    if missing:
        fail("--topology-mode existing needs " + ", ".join(missing))
    if len(set(contexts.values())) != len(contexts):
        fail(f"each role needs its own cluster; contexts given: {contexts}")
    api_servers = {
        role: check_https_url(f"--{role}-api-server", option(f"--{role}-api-server"))
        for role in ("remote", "second")
        if option(f"--{role}-api-server") is not None
    }
    kubeconfig_text = option("--kubeconfig")
    kubeconfig = check_path_text("--kubeconfig", kubeconfig_text) if kubeconfig_text is not None else None
    if kubeconfig is not None and not kubeconfig.is_file():
        fail(f"--kubeconfig {kubeconfig}: no such file")
    return kubeconfig, contexts, api_servers, cluster_names(option)


def cluster_names(option: Callable[[str], Any]) -> dict[str, str]:
    """The ``--<role>-cluster-name`` values given, each a DNS-1123 label, all different."""
    names: dict[str, str] = {}
    for role in ROLES:
        flag = f"--{role}-cluster-name"
        value = option(flag)
        if value is not None:
            names[role] = check_dns_label(flag, value, "it becomes the Istio cluster ID")
    everyone = {**{role: role for role in ROLES}, **names}
    if len(set(everyone.values())) != len(everyone):
        fail(f"each role needs its own cluster name; --*-cluster-name give {names}")
    return names


def kubeconfig_files(explicit: Path | None) -> tuple[list[Path], str]:
    """The kubeconfig files kubectl would read, and how to name them to the user."""
    if explicit is not None:
        return [explicit], str(explicit)
    env = os.environ.get("KUBECONFIG")
    if env:
        files = [Path(part) for part in env.split(os.pathsep) if part.strip()]
        return files, f"$KUBECONFIG ({env})"
    default = Path.home() / ".kube" / "config"
    return [default], f"the default kubeconfig {default}"


def check_contexts(contexts: dict[str, str], explicit: Path | None) -> None:
    """Every context given names a context of the kubeconfig file(s); all bad ones named at once."""
    files, where = kubeconfig_files(explicit)
    present = [path for path in files if _is_file(path)]
    if not present:
        fail(
            f"--topology-mode existing: {where} does not exist (no kubeconfig file to read the contexts "
            "from); pass --kubeconfig PATH or set KUBECONFIG to an existing file"
        )
    available: list[str] = []
    for path in present:
        available += _context_names(path)
    bad = [f"--{role}-context {context!r}" for role, context in contexts.items() if context not in available]
    if bad:
        fail(
            f"{', '.join(bad)} {'is not a context' if len(bad) == 1 else 'are not contexts'} in {where}; "
            f"contexts there: {', '.join(sorted(set(available))) or 'none'}"
        )


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name longer than the system allows
        return False


def _context_names(path: Path) -> list[str]:
    """The context names of one kubeconfig file; refuse a file that is not a kubeconfig."""
    problem = f"--topology-mode existing: kubeconfig {path} is not a kubeconfig"
    try:
        data = yaml.safe_load(path.read_bytes())  # bytes: YAML finds the encoding, refuses a bad one
    except OSError as error:
        fail(f"--topology-mode existing: cannot read kubeconfig {path}: {error.strerror or error}")
    except yaml.YAMLError as error:
        fail(f"{problem} ({' '.join(str(error).split())[:200]})")
    if data is None:
        return []
    if not isinstance(data, dict):
        fail(f"{problem} (its top level is a {type(data).__name__}, not a mapping)")
    entries = data.get("contexts")
    if entries is None:
        return []
    if not isinstance(entries, list):
        fail(f"{problem} (its contexts is a {type(entries).__name__}, not a list)")
    names = []
    for index, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            fail(f"{problem} (contexts[{index}] has no name)")
        names.append(name)
    return names
