"""The kubectl calls every family of install actions shares, and how their errors read.

Applies are server-side with the suite's field manager and print what they touched
(``-o name``: ``kind.group/name``, one line an object, as kubectl's name printer writes it),
which is what the ledger records. Deletes tolerate what is already gone. Reads tell "not
there yet" and "the API blinked" apart from real failures, so waits keep polling on those.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import yaml

from clusters.cluster import ClusterHandle
from programs.runner import CommandError, CommandResult, CommandTimeout
from run.timeouts import INSTALL_POLL

FIELD_MANAGER = "eicp"

# kubectl/API answers that mean "try again shortly", not "this is broken".
TRANSIENT = re.compile(
    r"connection refused|i/o timeout|TLS handshake timeout|connection reset by peer|"
    r"the server is currently unable to handle the request|etcdserver: leader changed|"
    r"http2: client connection lost|context deadline exceeded|EOF$",
    re.IGNORECASE | re.MULTILINE,
)
NOT_FOUND = re.compile(r"\(NotFound\)|not found", re.IGNORECASE)
ALREADY_EXISTS = re.compile(r"\(AlreadyExists\)|already exists", re.IGNORECASE)
# A kind whose CRD is already gone has nothing left to delete.
KIND_GONE = re.compile(
    r"no matches for kind|resource mapping not found|the server doesn't have a resource type"
)


def is_transient(error: CommandError) -> bool:
    return bool(TRANSIENT.search(error.stderr or error.stderr_tail))


def dump(manifests: Sequence[dict[str, Any]]) -> str:
    # libyaml's emitter when present: the same text as the pure-Python one, several times faster.
    return yaml.dump_all(
        list(manifests), Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False
    )


def server_side_apply(
    cluster: ClusterHandle, documents: str, timeout_s: float, *extra: str, title: str | None = None
) -> CommandResult:
    """``kubectl apply --server-side ... -o name -f -``; stdout names every object applied."""
    return cluster.kubectl(
        "apply",
        "--server-side",
        f"--field-manager={FIELD_MANAGER}",
        "--force-conflicts",
        *extra,
        "-o",
        "name",
        "-f",
        "-",
        stdin=documents,
        timeout_s=timeout_s,
        title=title,
    )


def create_tolerant(cluster: ClusterHandle, timeout_s: float, kind: str, name: str, *extra: str) -> str:
    """``kubectl create KIND NAME -o name``; what it printed, "" when the object already existed
    (a rerun after a partial failure, or someone else's: either way not this call's to undo)."""
    try:
        return cluster.kubectl("create", kind, name, *extra, "-o", "name", timeout_s=timeout_s).stdout
    except CommandError as error:
        if not ALREADY_EXISTS.search(error.stderr):
            raise
        return ""


def tolerant_delete(
    cluster: ClusterHandle, timeout_s: float, *args: str, stdin: str | None = None, wait: bool = True
) -> None:
    """``kubectl delete --ignore-not-found --wait=true``: gone already, or its kind gone, is fine.
    ``wait=False`` returns once the API server accepted the deletion (``--wait=false``)."""
    try:
        cluster.kubectl(
            "delete",
            "--ignore-not-found",
            f"--wait={str(wait).lower()}",
            f"--timeout={int(timeout_s)}s",
            *args,
            stdin=stdin,
            timeout_s=timeout_s + 30,
        )
    except CommandError as error:
        lines = [line for line in error.stderr.splitlines() if line.strip()]
        if not lines or not all(KIND_GONE.search(line) or NOT_FOUND.search(line) for line in lines):
            raise
        # What remains to delete has no type any more (its CRD went first): already gone.


def get_json(cluster: ClusterHandle, *args: str) -> tuple[dict[str, Any] | None, str]:
    """``kubectl get ... -o json``; (None, why) while it is absent or the API blinks."""
    try:
        result = cluster.kubectl("get", *args, "-o", "json", timeout_s=INSTALL_POLL.seconds())
    except CommandError as error:
        stderr = error.stderr.strip() or error.stderr_tail
        if NOT_FOUND.search(stderr) or KIND_GONE.search(stderr):
            return None, f"{' '.join(args)}: not there yet ({stderr})"
        if isinstance(error, CommandTimeout) or is_transient(error):
            return None, f"API not answering: {stderr}"
        raise
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed, ""


def namespace_args(params: dict[str, Any]) -> list[str]:
    """``-n NAMESPACE`` when the step names one."""
    return ["-n", str(params["namespace"])] if params.get("namespace") else []
