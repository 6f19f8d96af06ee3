"""A failed run writes no secret: planted secrets reach every output path of ``pytest suites``.

The simulated ip-passthrough install (tests/e2e_cluster_sim.py) fails at the external gateway,
so diagnostics are collected (resources, pod logs, ``kind export logs``) and the run fails.
One secret of every family (tests/planted_secrets.py) is planted where a real failure shows
them: the failing istioctl's stderr, the istiod log, kind's node logs and the load-balancer
logs of cloud-provider-kind; in existing mode also the stderr of ``kubectl config
get-contexts``, carrying the credentials of a kubeconfig user whose context was not selected
(short, URL-encoded and JSON-escaped too). None may appear under the report directory or on
the terminal (layer 4: fake tools; tests/test_kwok_tier_secrets.py is the kwok tier's, for real).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from tests import e2e_child, topology_child
from tests import e2e_cluster_sim as sim
from tests.fakeexec import FakeTools
from tests.planted_secrets import CARRIER, FORBIDDEN, leaks_in, leaks_under
from tests.topology_child import first

pytestmark = pytest.mark.slow

ISTIOD_POD = {
    "metadata": {"name": "istiod-5d9c7", "labels": {"app": "istiod"}},
    "spec": {"containers": [{"name": "discovery"}]},
    "status": {"containerStatuses": [{"name": "discovery", "restartCount": 1}]},
}


def plant(tools: FakeTools, api_url: str = "") -> None:
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
    assert leaks_under(child.report_dir) == []
    assert leaks_in(output) == []
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


# -- existing mode: every credential of the user's kubeconfig, the unselected users' too ------

OTHER_EXEC_VALUE = "PLANTEDOTHERUSEREXECVALUE"  # a neutral env name: registered, never a shape
OTHER_PASSWORD = "Pl4n7x"  # short: removed as a whole token
OTHER_TOKEN = 'pl@nted/other"user-token-0001'  # printed URL-encoded and JSON-escaped
OTHER_FORMS = (OTHER_EXEC_VALUE, quote(OTHER_TOKEN, safe=""), json.dumps(OTHER_TOKEN)[1:-1])


def _user_kubeconfig(path: Path, api_url: str) -> list[str]:
    """The user's kubeconfig: a context per simulated cluster, and a third user (``dev``) whose
    context is not selected, with an exec plugin, a password and a token."""
    contexts = [f"kind-{name}" for name in sim.CLUSTERS.values()]
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": c, "cluster": {"server": api_url}} for c in [*contexts, "dev"]],
        "contexts": [{"name": c, "context": {"cluster": c, "user": c}} for c in [*contexts, "dev"]],
        "current-context": contexts[0],
        "users": [
            *({"name": c, "user": {"token": sim.KUBECONFIG_TOKEN}} for c in contexts),
            {
                "name": "dev",
                "user": {
                    "exec": {
                        "command": "dev-helper",
                        "env": [{"name": "HELPER_ARG", "value": OTHER_EXEC_VALUE}],
                    },
                    "username": "dev",
                    "password": OTHER_PASSWORD,
                    "token": OTHER_TOKEN,
                },
            },
        ],
    }
    path.write_text(yaml.safe_dump(document))
    return contexts


def test_planted_secrets_of_a_failed_existing_mode_run_appear_nowhere(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "user-kubeconfig"
    holder: dict[str, list[str]] = {}

    def plant_existing(tools: FakeTools, api_url: str) -> None:
        plant(tools)
        kubectl = tools.tools["kubectl"]
        holder["contexts"] = _user_kubeconfig(kubeconfig, api_url)
        # kubectl config view --minify: the context's own kubeconfig, as the simulation's kind writes it.
        first(
            kubectl,
            r"config view --raw --minify --flatten --context kind-(\S+)$",
            stdout=sim.kubeconfig_of(api_url),
        )
        # Each role its own API server (the remote's is never called but for its version).
        first(
            kubectl,
            rf"config view --raw --minify --flatten --context kind-({sim.CLUSTERS['remote']})$",
            stdout=sim.kubeconfig_of(api_url.replace("127.0.0.1", "localhost")),
        )
        first(
            kubectl, r"get --raw /version ", expand=False, stdout=json.dumps({"gitVersion": sim.KUBERNETES})
        )
        # A leak once seen: what kubectl prints to stderr while listing contexts.
        first(
            kubectl,
            r"config get-contexts -o name$",
            stdout="\n".join([*holder["contexts"], "dev"]) + "\n",
            stderr=f"dev-helper: {OTHER_EXEC_VALUE}; basic auth {OTHER_PASSWORD}; "
            f'next={OTHER_FORMS[1]} {{"token": "{OTHER_FORMS[2]}"}}\n',
        )

    allure = tmp_path / "allure"
    with e2e_child.started(
        tmp_path, plant_existing, *_existing_args(kubeconfig), f"--alluredir={allure}"
    ) as child:
        output = child.output(timeout_s=240)
    assert child.process.returncode == 1, output
    assert list((child.report_dir / "diagnostics").rglob("SUMMARY.txt")), "diagnostics were collected"
    # The stderr of `kubectl config get-contexts` is an Allure attachment (where it leaked).
    attached = [path.read_text() for path in allure.glob("*-attachment*")]
    assert any(text.startswith("dev-helper: <redacted>; basic auth <redacted>") for text in attached)
    forbidden = (*FORBIDDEN, OTHER_EXEC_VALUE, *OTHER_FORMS)
    assert leaks_under(allure, forbidden, (OTHER_PASSWORD,)) == []
    assert leaks_under(child.report_dir, forbidden, (OTHER_PASSWORD,)) == []
    assert leaks_in(output, forbidden, (OTHER_PASSWORD,)) == []
    assert not child.run_dir.exists()


def _existing_args(kubeconfig: Path) -> list[str]:
    contexts = [f"kind-{name}" for name in sim.CLUSTERS.values()]
    return [
        "--topology-mode", "existing", "--kubeconfig", str(kubeconfig),
        "--external-context", contexts[0], "--remote-context", contexts[1],
    ]  # fmt: skip
