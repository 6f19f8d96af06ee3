"""Builders of cluster state shaped like real API output, for proving the checks both ways.

Objects follow what ``kubectl get -o json`` returns for Istio 1.30 installs: the injector's
pod spec (pkg/kube/inject/testdata/inject/hello.yaml.injected upstream), the remote profile's
webhook configurations (manifests/charts/istio-control/istio-discovery/templates), istiod's
``/debug/syncz`` entries (pilot/pkg/xds/debug.go ``SyncStatus``). Each builder takes the
knobs the tests turn to make a state unhealthy.

The builders live in tests/checks_fakes_*.py by kind of object (release and expectations, pods,
webhook configurations, the control plane); this module is the one import point
(``from tests import checks_fakes as fake``).
"""

from __future__ import annotations

from tests.checks_fakes_control_plane import (
    KUBE_SYSTEM_UID,
    istiod_deployment,
    istiod_pods,
    lb_service,
    remote_secret_meta,
    syncz_entry,
    syncz_for,
)
from tests.checks_fakes_pods import SidecarForm, local_istiod_pod, pod, sample_pods
from tests.checks_fakes_release import (
    CA_BUNDLE,
    DIAGNOSTICS,
    EXTERNAL_IP,
    REMOTE_CLUSTER,
    SECOND_CLUSTER,
    Obj,
    V,
    as_list,
    deep,
    ip_passthrough,
    release,
    second_remote,
)
from tests.checks_fakes_webhooks import healthy_webhooks, mutating, validating

__all__ = [
    "CA_BUNDLE",
    "DIAGNOSTICS",
    "EXTERNAL_IP",
    "KUBE_SYSTEM_UID",
    "REMOTE_CLUSTER",
    "SECOND_CLUSTER",
    "Obj",
    "SidecarForm",
    "V",
    "as_list",
    "deep",
    "healthy_webhooks",
    "ip_passthrough",
    "istiod_deployment",
    "istiod_pods",
    "lb_service",
    "local_istiod_pod",
    "mutating",
    "pod",
    "release",
    "remote_secret_meta",
    "sample_pods",
    "second_remote",
    "syncz_entry",
    "syncz_for",
    "validating",
]
