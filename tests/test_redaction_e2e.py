"""A failed run writes no secret: planted secrets reach every output path of ``pytest suites``.

The simulated ip-passthrough install (tests/e2e_cluster_sim.py) fails at the external gateway,
so diagnostics are collected (resources, pod logs, ``kind export logs``) and the run fails.
A service-account token, an opaque bearer token and a private key are planted where a real
failure shows them: the failing istioctl's stderr, the istiod log, kind's node logs and the
load-balancer logs of cloud-provider-kind. None of them may appear under the report directory.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from tests import e2e_child, topology_child
from tests.fakeexec import FakeTools
from tests.topology_child import first

pytestmark = pytest.mark.slow

TOKEN = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6InBsYW50ZWQifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6cGxhbnRlZCJ9"
    ".cGxhbnRlZC1zaWduYXR1cmUtb2YtdGhlLXRva2Vu"
)
BEARER = "sha256~PlantedOpaqueBearerToken0123456789abcdef"
KEY_LINES = (
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDPlantedKeyLine1",
    "q0VSVEFJTkxZLU5PVC1BLVJFQUwtS0VZLUJVVC1QTEFOVEVELUZPUi1URVNUUw2",
)
PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(KEY_LINES) + "\n-----END PRIVATE KEY-----"
FORBIDDEN = (TOKEN, BEARER, *KEY_LINES, base64.b64encode(TOKEN.encode()).decode()[:40])
CARRIER = f"Authorization: Bearer {BEARER}\nusing service account token {TOKEN}\n{PRIVATE_KEY}\n"
ISTIOD_POD = {
    "metadata": {"name": "istiod-5d9c7", "labels": {"app": "istiod"}},
    "spec": {"containers": [{"name": "discovery"}]},
    "status": {"containerStatuses": [{"name": "discovery", "restartCount": 1}]},
}


def plant(tools: FakeTools) -> None:
    istioctl, kind, kubectl = (tools.tools[name] for name in ("istioctl", "kind", "kubectl"))
    first(istioctl, r"^install -y -f \S+/controlplane-gateway\.yaml", exit=1, stderr=f"Error: {CARRIER}")
    first(
        kind,
        r"^export logs (\S+) --name (\S+)",
        write_file=(r"\1/\2-control-plane/journal.log", f"kubelet[812]: {CARRIER}"),
    )
    first(kubectl, r" get namespaces -o name", stdout="namespace/external-istiod\nnamespace/kube-system\n")
    first(
        kubectl,
        r" get pods -n external-istiod -o json",
        expand=False,
        stdout=json.dumps({"items": [ISTIOD_POD]}),
    )
    first(kubectl, r" logs -n external-istiod istiod-5d9c7 -c discovery", stdout=f"info\tads\t{CARRIER}")
    first(
        tools.tools["cloud-provider-kind"],
        r"^(--gateway-channel .* --logs-dir (\S+))$",
        sleep=300.0,
        add_state=("cpk-starts", r"\1"),
        write_file=(r"\2/kindccm-planted/envoy.log", f"[envoy] upstream {CARRIER}"),
    )


def test_planted_secrets_of_a_failed_run_appear_nowhere_in_the_report_directory(tmp_path: Path) -> None:
    with e2e_child.started(tmp_path, plant) as child:
        output = child.output(timeout_s=240)
    assert child.process.returncode == 1, output
    exports = [line for line in child.tools.lines("kind") if line.startswith("export logs")]
    assert len(exports) == 2, exports  # once per cluster, by the diagnostics (not again at teardown)
    diagnostics = child.report_dir / "diagnostics"
    assert list(diagnostics.rglob("SUMMARY.txt")), "diagnostics were collected"
    journals = list(diagnostics.rglob("journal.log"))
    assert len(journals) == 2 and all("Authorization: Bearer <redacted>" in p.read_text() for p in journals)
    assert list(diagnostics.rglob("discovery*.log")), "the istiod log was collected"
    assert (child.report_dir / "logs" / "cloud-provider-kind-lb" / "kindccm-planted" / "envoy.log").is_file()
    leaks = [
        f"{path.relative_to(child.report_dir)}: #{index}"
        for path in sorted(child.report_dir.rglob("*"))
        if path.is_file()
        for index, secret in enumerate(FORBIDDEN)
        if secret.encode() in path.read_bytes()
    ]
    assert leaks == []
    assert not any(secret in output for secret in FORBIDDEN)
    assert not child.run_dir.exists()  # no kubeconfig copy outlives a run that keeps nothing


def test_a_passing_run_with_keep_on_failure_leaves_no_kubeconfig_copy(
    fake_tools: FakeTools, tmp_path: Path
) -> None:
    topology_child.install_cluster_fakes(fake_tools)
    test_file = topology_child.write_project(tmp_path / "child", "def test_x(topology):\n    pass\n")
    argv = topology_child.command(
        test_file,
        "--keep-on-failure",
        "--scenario",
        "ip-passthrough",
        *(
            f"--tool-path={tool}={fake_tools.bin_dir / tool}"
            for tool in ("kind", "kubectl", "cloud-provider-kind")
        ),
    )
    env = topology_child.environment(fake_tools.path_env(), tmp_path / "state")
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert fake_tools.state("clusters") == []  # passed: nothing kept
    copies = [path for path in tmp_path.rglob("*kubeconfig*") if path.is_file() and "fake" not in path.parts]
    assert copies == []
