"""Node preparation of a kind cluster, and finding this process's own tool children after Ctrl-C."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clusters.cluster import ClusterHandle
from programs.runner import CommandError
from programs.waits import wait_until
from run.timeouts import KIND_NODE_PROBE

EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"


def prepare_nodes(
    handle: ClusterHandle,
    *,
    nodes_deadline_s: float,
    coredns_deadline_s: float,
    check_cancelled: Callable[[], None] = lambda: None,
) -> None:
    """Wait for Ready nodes and an available CoreDNS; drop the LB exclusion label on one-node clusters.

    kubeadm labels control-plane nodes ``exclude-from-external-load-balancers``; the service
    controller that cloud-provider-kind runs skips such nodes, so a one-node cluster would get
    no LoadBalancer backends. kind drops the label itself for one-node clusters; this makes
    sure of it (also for adopted clusters). ``check_cancelled`` raises to end the waits early.
    """

    def get_json(*args: str) -> dict[str, Any]:
        check_cancelled()
        return _get_json(handle, *args)

    nodes = wait_until(
        f"the nodes of the {handle.role} cluster {handle.name} to be Ready",
        lambda: get_json("get", "nodes")["items"],
        nodes_deadline_s,
        until=lambda items: bool(items) and all(_condition(node, "Ready") == "True" for node in items),
        show=_nodes_summary,
        transient=(CommandError,),
    )
    if len(nodes) == 1 and EXCLUDE_LB_LABEL in (nodes[0]["metadata"].get("labels") or {}):
        handle.kubectl(
            "label",
            "node",
            nodes[0]["metadata"]["name"],
            f"{EXCLUDE_LB_LABEL}-",
            title=f"[{handle.role}] let cloud-provider-kind use the single node as a LoadBalancer backend",
        )
    wait_until(
        f"CoreDNS (kube-system/coredns) in the {handle.role} cluster {handle.name} to be Available",
        lambda: get_json("-n", "kube-system", "get", "deployment", "coredns"),
        coredns_deadline_s,
        until=lambda deployment: _condition(deployment, "Available") == "True",
        show=_deployment_summary,
        transient=(CommandError,),
    )


def _get_json(handle: ClusterHandle, *args: str) -> dict[str, Any]:
    result = handle.kubectl(
        *args,
        "-o",
        "json",
        f"--request-timeout={int(KIND_NODE_PROBE.seconds())}s",
        timeout_s=KIND_NODE_PROBE.seconds() + 10,
    )
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _condition(obj: dict[str, Any], kind: str) -> str | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return str(condition.get("status"))
    return None


def _nodes_summary(items: list[dict[str, Any]]) -> str:
    if not items:
        return "no nodes registered"
    return ", ".join(f"{node['metadata']['name']} Ready={_condition(node, 'Ready')}" for node in items)


def _deployment_summary(deployment: dict[str, Any]) -> str:
    status = deployment.get("status") or {}
    return (
        f"Available={_condition(deployment, 'Available')}, "
        f"ready {status.get('readyReplicas', 0)}/{(deployment.get('spec') or {}).get('replicas', '?')}"
    )


def own_children_running(executables: set[str]) -> list[int]:
    """Pids of this process's direct children whose command is one of ``executables``."""
    me = os.getpid()
    bare = {name for name in executables if "/" not in name}
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            if parent != me:
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        # Scripts run through an interpreter show it first: look at the first two words. A bare
        # executable name (found on PATH) matches any path ending in it.
        words = [word.decode(errors="replace") for word in argv[:2]]
        if any(word in executables or Path(word).name in bare for word in words):
            pids.append(int(entry.name))
    return pids
