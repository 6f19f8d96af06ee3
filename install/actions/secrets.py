"""Actions that make Secrets: PKI material, and the remote secrets istioctl writes.

Every credential is registered with the redactor before anything can print it.
"""

from __future__ import annotations

import base64
import contextlib
from pathlib import Path
from typing import Any

import yaml

from clusters.cluster import ClusterHandle
from install.actions.context import ActionContext, param
from install.faults import PlanError
from install.kubectl import dump
from run.tls_secret_file import TlsSecretFileError, read_manifest, secret_data
from scenarios.steps import Role, Step


def create_secret(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
    """A Secret whose data is PKI material (``data_from_pki``: data key -> material name), or the
    data of the user's Secret manifest (``data_from_file``, checked by run/tls_secret_file.py)."""
    if "data_from_file" in step.params:
        _secret_from_file(ctx, step, cluster)
        return None
    if ctx.pki is None:
        raise PlanError(f"step {step.name!r} needs the run's PKI, but the installer was given none")
    layout = param(step, "data_from_pki", dict)
    suite_pki = ctx.pki()
    redactor = cluster.runner.redactor
    for text in suite_pki.private_texts():
        redactor.register(text)
    data = {key: base64.b64encode(value).decode() for key, value in suite_pki.secret_data(layout).items()}
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": param(step, "name", str), "namespace": param(step, "namespace", str)},
        "type": param(step, "type", str),
        "data": data,
    }
    ctx.apply(cluster, dump([secret]), step)
    return None


def _secret_from_file(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> None:
    path = Path(param(step, "data_from_file", str))
    try:
        data = secret_data(read_manifest(path))
    except TlsSecretFileError as error:
        raise PlanError(f"step {step.name!r}: {path} {error}") from None
    for value in data.values():  # the key, and anything else a user's secret may hold
        cluster.runner.redactor.register(value.decode(errors="replace"))
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": param(step, "name", str), "namespace": param(step, "namespace", str)},
        "type": param(step, "type", str),
        "data": {key: base64.b64encode(value).decode() for key, value in data.items()},
    }
    ctx.apply(cluster, dump([secret]), step)


def remote_secret(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
    """istioctl create-remote-secret with ``source_role``'s credentials, applied on ``target_role``."""
    source_role, target_role = _secret_roles(step)
    source, target = ctx.topology[source_role], ctx.topology[target_role]
    params = step.params
    command = [str(part) for part in param(step, "command", list)]
    argv = [str(ctx.istioctl), *command]
    for flag, key in (
        ("--name", "name"),
        ("--type", "type"),
        ("--namespace", "namespace"),
        ("--service-account", "service_account"),
    ):
        if params.get(key):
            argv.append(f"{flag}={params[key]}")
    create_sa = bool(param(step, "create_service_account", bool))
    server = str(params.get("server") or source.internal_api_server)
    argv += [f"--create-service-account={str(create_sa).lower()}", f"--server={server}"]
    # attach=False: the output holds a service-account token. The runner's shape patterns
    # redact its ``token:`` line for listeners; registering the value right after makes
    # every later mention (apply errors, reports) redacted too.
    result = source.runner.run(
        [*argv, *source.kube_args()],
        timeout_s=ctx.timeout(step),
        title=f"[{source_role}] istioctl {' '.join(command)} --name={params.get('name', '')}",
        attach=False,
    )
    names = _register_remote_secret(result.stdout, source.runner.redactor)
    expected = param(step, "secret_name", str)
    if names != [expected]:
        raise PlanError(
            f"step {step.name!r}: create-remote-secret printed Secret(s) {names}, expected [{expected!r}]"
        )
    if create_sa:
        # create-remote-secret made its service account, role and binding on the source.
        ctx.read_back(source)
    without = [str(label) for label in step.params.get("without_labels") or []]
    ctx.apply(target, _without_labels(result.stdout, without) if without else result.stdout, step)
    return None


def _without_labels(output: str, labels: list[str]) -> str:
    """istioctl's Secret(s) with ``labels`` removed (a workaround of a known issue: the step's
    ``without_labels``, scenarios/workarounds.py); every other field as istioctl wrote it."""
    documents = [doc for doc in yaml.safe_load_all(output) if isinstance(doc, dict)]
    for document in documents:
        metadata = document.get("metadata") or {}
        kept = {k: v for k, v in (metadata.get("labels") or {}).items() if k not in labels}
        if kept:
            metadata["labels"] = kept
        else:
            metadata.pop("labels", None)
    return dump(documents)


def _secret_roles(step: Step) -> tuple[Role, Role]:
    """(source, target) of a remote-secret step; the step itself runs on the target."""
    source, target = param(step, "source_role", str), param(step, "target_role", str)
    if source == target:
        raise PlanError(f"step {step.name!r}: remote secret source and target are both {source!r}")
    if target != step.role:
        raise PlanError(
            f"step {step.name!r}: target_role {target!r} differs from the step's role {step.role!r}"
        )
    return source, target  # type: ignore[return-value]


def _register_remote_secret(output: str, redactor: Any) -> list[str]:
    """Register every credential in create-remote-secret's output; return the Secrets' names."""
    names: list[str] = []
    for document in yaml.safe_load_all(output):
        if not isinstance(document, dict) or document.get("kind") != "Secret":
            continue
        names.append(str(document.get("metadata", {}).get("name")))
        for kubeconfig in (document.get("stringData") or {}).values():
            redactor.register(str(kubeconfig))  # long values: lines of 32+ chars count too
            with contextlib.suppress(yaml.YAMLError, AttributeError):
                parsed = yaml.safe_load(str(kubeconfig))
                for user in (parsed or {}).get("users") or []:
                    for key in ("token", "client-key-data", "password"):
                        secret = (user.get("user") or {}).get(key)
                        if secret:
                            redactor.register(str(secret))
    return names
