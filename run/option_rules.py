"""Where each option applies: an option given where it cannot take effect is refused (exit 4),
never silently ignored.

- by topology mode: kind-mode options (keeping, reusing, loading images, node image, prefix)
  mean nothing on existing clusters, and existing-mode options (kubeconfig, contexts, API
  servers, cluster names) nothing where the suite creates the clusters;
- with ``--plan``: the plan makes no cluster, so options about the clusters themselves (their
  names, images, images loaded into them, keeping or reusing them) are refused;
- by scenario: the second cluster's options need a scenario whose declared roles include the
  second remote (scenarios/registry.py ``roles_for``); ``--external-tls-secret``
  needs a scenario that publishes the external gateway under a host name.

README.md's options table says the same, option by option.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from run.config_values import check_path_text, fail
from run.tls_secret_file import ACCEPTED as TLS_SECRET_FILE_ACCEPTED
from run.tls_secret_file import TlsSecretFile, TlsSecretFileError
from run.tls_secret_file import load as load_tls_secret_file
from scenarios.registry import SCENARIO_IDS, roles_for


@dataclass(frozen=True)
class Scope:
    """The modes an option applies to, and whether it means anything with ``--plan``."""

    flags: tuple[str, ...]
    modes: tuple[str, ...]
    with_plan: bool
    why: str  # what the option acts on, for the refusal


_CREATED = ("kind", "kwok")
EXISTING_FLAGS = (
    "--kubeconfig", "--external-context", "--remote-context", "--second-context",
    "--remote-api-server", "--second-api-server",
    "--external-cluster-name", "--remote-cluster-name", "--second-cluster-name",
)  # fmt: skip
SCOPES = (
    Scope(("--keep-clusters", "--keep-on-failure"), _CREATED, False, "keeps the clusters the suite created"),
    Scope(("--reuse-clusters",), ("kind",), False, "adopts kind clusters of an earlier run"),
    Scope(("--cluster-prefix",), _CREATED, False, "names the clusters the suite creates"),
    Scope(
        ("--kind-node-image", "--preload-image", "--image-archive-dir"),
        ("kind",),
        False,
        "acts on the kind nodes the suite creates",
    ),
    Scope(EXISTING_FLAGS, ("existing",), True, "names the user's existing clusters"),
)
SECOND_CLUSTER_FLAGS = ("--second-context", "--second-api-server", "--second-cluster-name")
_ABSENT: tuple[object, ...] = (None, False, [], ())


def given(option: Callable[[str], Any], flag: str) -> bool:
    """Whether ``flag`` was given (options that apply everywhere default to None or off)."""
    return option(flag) not in _ABSENT


def refuse_inapplicable(
    option: Callable[[str], Any], mode: str, plan: bool, scenarios: tuple[str, ...], uses_hostname: bool
) -> None:
    """Refuse the first option given where it cannot take effect, naming where it applies."""
    for scope in SCOPES:
        for flag in scope.flags:
            if not given(option, flag):
                continue
            if mode not in scope.modes:
                where = " and ".join(f"--topology-mode {m}" for m in scope.modes)
                fail(
                    f"{flag} applies to {where} only: it {scope.why}, and --topology-mode {mode} "
                    f"{_mode_says(mode)}; leave it out"
                )
            if plan and not scope.with_plan:
                fail(
                    f"{flag} does not apply with --plan: it {scope.why}, and --plan creates no cluster; leave it out"
                )
    if not any("second" in roles_for(scenario) for scenario in scenarios):
        using = [scenario for scenario in SCENARIO_IDS if "second" in roles_for(scenario)]
        for flag in SECOND_CLUSTER_FLAGS:
            if given(option, flag):
                fail(
                    f"{flag} is for the second remote cluster, which no selected scenario uses "
                    f"(--scenario {' '.join(scenarios)}); leave it out or add "
                    + " or ".join(f"--scenario {scenario}" for scenario in using)
                )
    if given(option, "--external-tls-secret") and not uses_hostname:
        fail(
            f"--external-tls-secret {option('--external-tls-secret')!r} is used by the dns-tls scenario only "
            f"(also as the base of second-remote); the selected scenarios ({', '.join(scenarios)}) do not use it"
        )


def _mode_says(mode: str) -> str:
    if mode == "existing":
        return "uses clusters the suite neither creates nor deletes"
    if mode == "kwok":
        return "creates kwok control planes (no kind nodes, no images)"
    return "creates its own kind clusters"


def tls_secret_file_option(
    name: str | None, hostname: str | None, mode: str, text: str | None
) -> TlsSecretFile | None:
    """kwok mode creates its clusters: a secret of the user's comes as a manifest file."""
    path = None if text is None else check_path_text("--external-tls-secret-file", text)
    if path is not None and mode != "kwok":
        fail(
            f"--external-tls-secret-file {path} applies to kwok mode only (clusters the run creates); "
            f"in {mode} mode the secret must already be in istio-system: give --external-tls-secret alone"
        )
    if path is not None and name is None:
        fail(f"--external-tls-secret-file {path} needs --external-tls-secret NAME (the Secret's name)")
    if mode != "kwok" or name is None:
        return None
    if path is None:
        fail(
            f"--external-tls-secret {name!r} in kwok mode needs --external-tls-secret-file FILE: the run creates "
            f"its clusters, so no secret of yours is in them; FILE is {TLS_SECRET_FILE_ACCEPTED}"
        )
    try:
        return load_tls_secret_file(path, name, hostname or "")
    except TlsSecretFileError as error:
        fail(f"--external-tls-secret-file {path}: {error}; expected {TLS_SECRET_FILE_ACCEPTED}")
