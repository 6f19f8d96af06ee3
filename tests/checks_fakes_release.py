"""What the check fakes imitate: the pinned 1.30 release, the cluster names and addresses, and
the ip-passthrough (and second-remote) expectations as the real renderer makes them; with the
``List`` wrapper and deep copy every builder of tests/checks_fakes.py uses."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

from scenarios.common import RenderContext
from scenarios.expectations import ScenarioExpectations, WebhookExpectation
from scenarios.facts import Facts
from scenarios.ip_passthrough import expectations as ip_passthrough_expectations
from scenarios.releases import IstioRelease, load_pins

Obj = dict[str, Any]

EXTERNAL_IP = "172.18.0.200"
REMOTE_CLUSTER = "remote1"
SECOND_CLUSTER = "second1"
CA_BUNDLE = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUMvVENDQWVXZ0F3SUJBZ0lRZmFrZQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg=="
# The 1.30 release the fakes imitate: the pinned patch (versions.yaml), so fakes and the suite's
# own expectations move together when the pins follow upstream.
V = str(load_pins().resolve_release("1.30").version)
DIAGNOSTICS = f"/tmp/eicp-report/diagnostics/ip-passthrough-{V}"


def release(version: str = V, guide: str | None = None) -> IstioRelease:
    return load_pins().resolve_release(version, guide=guide)


def ip_passthrough(version: str = V, guide: str | None = None) -> ScenarioExpectations:
    """The ip-passthrough expectations, as the real renderer makes them (``guide``: the guide
    revision; None: the release's default)."""
    facts = Facts(cluster_names={"remote": REMOTE_CLUSTER}, external_istiod_addr=EXTERNAL_IP)
    return ip_passthrough_expectations(RenderContext(release(version, guide), facts))


def second_remote(version: str = V) -> ScenarioExpectations:
    """ip-passthrough plus a second remote on network2 with v2 (seed 001 "Adding clusters")."""
    base = ip_passthrough(version)
    ctx = RenderContext(
        release(version), Facts(cluster_names={"remote": REMOTE_CLUSTER, "second": SECOND_CLUSTER})
    )
    second_hooks = (
        WebhookExpectation(
            "mutating", "istio-sidecar-injector-external-istiod", 4, path=ctx.injection_path("second")
        ),
    )
    return replace(
        base,
        scenario="second-remote",
        remote_secrets={
            **base.remote_secrets,
            "second": ("external-istiod", f"istio-remote-secret-{SECOND_CLUSTER}"),
        },
        webhooks={**base.webhooks, "second": second_hooks},
        workloads={"remote": ("v1",), "second": ("v2",)},
        cluster_names={"remote": REMOTE_CLUSTER, "second": SECOND_CLUSTER},
    )


def as_list(*objects: Obj) -> Obj:
    return {"apiVersion": "v1", "kind": "List", "items": list(objects), "metadata": {"resourceVersion": ""}}


def deep(obj: Obj) -> Obj:
    return copy.deepcopy(obj)
