"""pytest plugin for the child run of tests/test_kwok_tier_secrets.py: plants secrets in real
clusters (kwok tier, layer 3) and fails the check, so that they travel every path a failure
takes (the real API server's objects and events, the real istiod's pod, diagnostics, the
failure message, the captured output) before the parent searches every output for them.

Loaded with ``-p tests.kwok_tier_secrets``; ``EICP_PLANT_OUT`` names the JSON file where the
secrets the run really holds are written for the parent to search too: each cluster's
kubeconfig credentials (client keys) and the service-account token of the remote secret that
``istioctl create-remote-secret`` made, read back the way kubectl prints a Secret.

It has no tests of its own (collected with the self-tests, it contributes nothing).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.planted_secrets import CARRIER

PLANT_OUT_ENV = "EICP_PLANT_OUT"
CHECK = "test_external_istiod_available_with_release"


def real_secrets(installed: Any) -> list[str]:
    """The credentials this run really holds: kubeconfigs' client keys, the remote secret's token."""
    found: list[str] = []
    for handle in installed.topology.clusters.values():
        for user in yaml.safe_load(Path(handle.kubeconfig).read_text()).get("users") or []:
            key = (user.get("user") or {}).get("client-key-data")
            if key:
                found.append(key)
                found += [line for line in base64.b64decode(key).decode().splitlines() if len(line) >= 40]
    exp = installed.expectations
    external = installed.topology["external"]
    # Through the suite's runner, as a user's kubectl would print it: the Secret's data whole.
    printed = external.kubectl("get", "secrets", "-n", exp.external_namespace, "-o", "json").stdout
    for secret in json.loads(printed).get("items") or []:
        for value in (secret.get("data") or {}).values():
            decoded = base64.b64decode(value).decode(errors="replace")
            found.append(value)
            with_token = yaml.safe_load(decoded) if "users:" in decoded else None
            for user in (with_token or {}).get("users") or []:
                token = (user.get("user") or {}).get("token")
                if token:
                    found.append(token)
    return found


def plant(installed: Any) -> None:
    """The carrier in objects diagnostics read: a ConfigMap, an Event, the istiod pod's annotation."""
    namespace = installed.expectations.external_namespace
    external = installed.topology["external"]
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "istio-planted", "namespace": namespace},
        "data": {"carrier": CARRIER},
    }
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "eicp-planted", "namespace": namespace},
        "involvedObject": {"kind": "ConfigMap", "name": "istio-planted", "namespace": namespace},
        "reason": "Planted",
        "message": CARRIER,
        "type": "Warning",
    }
    for manifest in (configmap, event):
        external.kubectl("apply", "-f", "-", stdin=json.dumps(manifest), timeout_s=60.0)
    external.kubectl(
        "annotate",
        "pods",
        "-n",
        namespace,
        "--all",
        f"eicp.test/planted={CARRIER}",
        "--overwrite",
        timeout_s=60.0,
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    out = os.environ.get(PLANT_OUT_ENV)
    if not out or not item.name.startswith(CHECK):
        return
    installed: Any = item.funcargs["installed_scenario"]  # type: ignore[attr-defined]
    Path(out).write_text(json.dumps(real_secrets(installed)))
    plant(installed)
    print(f"planted:\n{CARRIER}")  # captured output: shown on the terminal with the failure
    raise AssertionError(f"planted failure carrying every family of secret:\n{CARRIER}")
