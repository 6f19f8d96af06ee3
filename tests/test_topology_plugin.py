"""The topology plugin end to end in child pytest sessions with fake tools."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from fixtures.topology_plugin import (
    SELECTED_SCENARIOS,
    STATE_DIR_ENV,
    needed_roles,
    selected_scenarios,
    state_dir,
)
from tests import topology_child
from tests.fakeexec import FakeTools
from tests.istio_sources_data import MASTER_SOURCE, RELEASE_SOURCE
from tests.topology_child import first

RUN = topology_child.RUN_ID


REPORTING_TEST = """
import json, os
from pathlib import Path


def test_topology(topology, load_balancers):
    facts = {
        role: {
            "name": c.name, "context": c.context, "kubeconfig": str(c.kubeconfig),
            "server": c.internal_api_server, "network": c.network, "created": c.created_by_suite,
            "mode": oct(os.stat(c.kubeconfig).st_mode & 0o777),
        }
        for role, c in topology.clusters.items()
    }
    facts["lb"] = type(load_balancers).__name__
    Path(os.environ["CHILD_OUT"]).write_text(json.dumps(facts))
"""


def run_child(
    fakes: FakeTools,
    tmp_path: Path,
    test_source: str,
    *args: str,
    tools: tuple[str, ...] = ("kind", "kubectl"),
) -> subprocess.CompletedProcess[str]:
    test_file = topology_child.write_project(tmp_path / "child", test_source)
    tool_args = [arg for tool in tools for arg in ("--tool-path", f"{tool}={fakes.bin_dir / tool}")]
    tool_args += ["--tool-path", f"cloud-provider-kind={fakes.bin_dir / 'cloud-provider-kind'}"]
    env = topology_child.environment(fakes.path_env(), tmp_path / "state")
    env["CHILD_OUT"] = str(tmp_path / "facts.json")
    return subprocess.run(
        topology_child.command(test_file, *tool_args, *args),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def fakes(fake_tools: FakeTools) -> FakeTools:
    topology_child.install_cluster_fakes(fake_tools)
    return fake_tools


def test_roles_follow_the_scenarios() -> None:
    assert needed_roles(["ip-passthrough", "sail"]) == ("external", "remote")
    assert needed_roles(["dns-tls", "second-remote"]) == ("external", "remote", "second")


def _session(items: list[Any], stash: dict[Any, Any] | None = None) -> Any:
    stash = stash or {}
    return SimpleNamespace(items=items, config=SimpleNamespace(stash=SimpleNamespace(get=stash.get)))


def test_selected_scenarios_come_from_the_selected_tests() -> None:
    config = SimpleNamespace(scenarios=("ip-passthrough", "dns-tls", "sail", "second-remote"))
    item = SimpleNamespace(callspec=SimpleNamespace(params={"scenario_id": "sail", "release": object()}))
    plain = SimpleNamespace()
    assert selected_scenarios(_session([item, plain]), config) == ("sail",)  # type: ignore[arg-type]
    assert selected_scenarios(_session([plain]), config) == config.scenarios  # type: ignore[arg-type]
    explicit = _session([item], {SELECTED_SCENARIOS: ("second-remote",)})
    assert selected_scenarios(explicit, config) == ("second-remote",)  # type: ignore[arg-type]


def test_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "s"))
    assert state_dir() == tmp_path / "s"
    monkeypatch.delenv(STATE_DIR_ENV)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state_dir() == tmp_path / "xdg" / "eicp"


@pytest.mark.slow
def test_kind_session_provides_the_topology_and_cleans_up(fakes: FakeTools, tmp_path: Path) -> None:
    result = run_child(fakes, tmp_path, REPORTING_TEST, "--scenario", "second-remote")
    assert result.returncode == 0, result.stdout + result.stderr
    facts = json.loads((tmp_path / "facts.json").read_text())
    run_dir = topology_child.run_dir(tmp_path / "state")
    assert facts["lb"] == "CloudProviderKind"
    for role, network, address in (
        ("external", None, "172.18.0.2"),
        ("remote", "network1", "172.18.0.3"),
        ("second", "network2", "172.18.0.4"),
    ):
        name = f"eicp-{RUN}-{role}"
        assert facts[role] == {
            "name": name,
            "context": f"kind-{name}",
            "kubeconfig": str(run_dir / f"kubeconfig-{role}"),
            "server": f"https://{address}:6443",
            "network": network,
            "created": True,
            "mode": "0o600",
        }
        assert not (run_dir / f"kubeconfig-{role}").exists()  # removed with its cluster
    assert sorted(line for line in fakes.lines("kind") if line.startswith("delete")) == [
        f"delete cluster --name eicp-{RUN}-{role} --kubeconfig {run_dir}/kubeconfig-{role}"
        for role in ("external", "remote", "second")
    ]
    assert fakes.state("clusters") == []
    assert fakes.state("cpk-starts") == []  # nobody needed a LoadBalancer
    assert "kept kind clusters" not in result.stdout


@pytest.mark.slow
def test_keep_on_failure_keeps_the_clusters_and_prints_how_to_reach_them(
    fakes: FakeTools, tmp_path: Path
) -> None:
    failing = "def test_check(topology):\n    assert False, 'a check failed'\n"
    result = run_child(fakes, tmp_path, failing, "--scenario", "ip-passthrough", "--keep-on-failure")
    assert result.returncode == 1, result.stdout + result.stderr
    assert not [line for line in fakes.lines("kind") if line.startswith("delete")]
    assert sorted(fakes.state("clusters")) == [f"eicp-{RUN}-external", f"eicp-{RUN}-remote"]
    summary = result.stdout.split("kept kind clusters", 1)[1]
    run_dir = topology_child.run_dir(tmp_path / "state")
    assert "kind clusters kept (--keep-on-failure)" in summary
    assert (
        f"kubectl --kubeconfig {run_dir}/kubeconfig-remote --context kind-eicp-{RUN}-remote get pods -A"
        in summary
    )
    assert (
        f"kind delete cluster --name eicp-{RUN}-external; kind delete cluster --name eicp-{RUN}-remote"
        in summary
    )


@pytest.mark.slow
def test_existing_mode_with_a_wrong_context_stops_cleanly(fakes: FakeTools, tmp_path: Path) -> None:
    fakes.tools["kubectl"].on(r"config get-contexts -o name$", stdout="prod-east\nprod-west\n")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("contexts:\n- name: prod-east\n- name: prod-west\n")
    result = run_child(
        fakes,
        tmp_path,
        "def test_x(topology):\n    pass\n",
        "--scenario",
        "ip-passthrough",
        "--topology-mode",
        "existing",
        "--kubeconfig",
        str(kubeconfig),
        "--external-context",
        "prod-east",
        "--remote-context",
        "prod-wset",
    )
    output = result.stdout + result.stderr
    # Refused at configure time (before tools are resolved), so a usage error now.
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert "Traceback" not in output
    assert "--remote-context 'prod-wset' is not a context" in output
    assert "contexts there: prod-east, prod-west" in output
    assert fakes.calls("kind") == [] and fakes.calls("docker") == []
    assert fakes.calls("kubectl") == []  # not even kubectl was resolved


@pytest.mark.slow
def test_plan_touches_no_cluster(fakes: FakeTools, tmp_path: Path) -> None:
    result = run_child(fakes, tmp_path, "def test_x(topology):\n    pass\n", "--plan", "-rs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "--plan prints the steps and touches no cluster" in result.stdout
    assert fakes.calls("kind") == [] and fakes.calls("docker") == []


@pytest.mark.slow
def test_unusable_tool_stops_with_its_resolution_report(fakes: FakeTools, tmp_path: Path) -> None:
    first(fakes.tools["kind"], r"^version$", exit=1, stderr="kind: cannot execute binary file\n")
    result = run_child(fakes, tmp_path, "def test_x(topology):\n    pass\n", "--scenario", "ip-passthrough")
    output = result.stdout + result.stderr
    assert result.returncode == 2, output  # the session was stopped
    assert "Traceback" not in output
    assert "kind v0.33.0 could not be had" in output
    assert [line for line in fakes.lines("kind") if line != "version"] == []


@pytest.mark.slow
def test_unfit_host_under_xdist_stops_every_worker_cleanly(fakes: FakeTools, tmp_path: Path) -> None:
    first(fakes.tools["docker"], r"^info", exit=1, stderr="Cannot connect to the Docker daemon\n")
    tests = "".join(f"def test_{n}(topology):\n    pass\n" for n in "abcdef")
    result = run_child(fakes, tmp_path, tests, "-n", "2", "--scenario", "ip-passthrough")
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "INTERNALERROR" not in output and "Traceback" not in output
    assert "Interrupted: host preflight failed, no cluster was created:" in output
    assert "the Docker daemon does not answer" in output
    assert "2 errors" in output  # one per worker; the other tests never ran
    assert fakes.calls("kind") == [call for call in fakes.calls("kind") if call.args == ("version",)]


def test_each_mode_is_one_declared_provider_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from clusters import providers
    from clusters.existing import ExistingProvider
    from clusters.kind.lifecycle import KindProvisioner
    from clusters.kwok.provider import KwokProvider

    assert providers.MODES == ("kind", "existing", "kwok")
    classes: dict[str, Any] = {"kind": KindProvisioner, "existing": ExistingProvider, "kwok": KwokProvider}
    specs = {mode: providers.provider_spec(mode) for mode in providers.MODES}
    for mode, spec in specs.items():
        assert spec.mode == mode and spec.capabilities is classes[mode].capabilities

        def build(context: object, mode: str = mode) -> Any:
            return f"{mode}-provider"

        monkeypatch.setattr(providers, "_BY_MODE", {mode: replace(spec, build=build)})
        context: Any = SimpleNamespace(config=SimpleNamespace(mode=mode))
        built: object = providers.build_provider(context)
        assert built == f"{mode}-provider"
    monkeypatch.undo()
    with pytest.raises(ValueError, match="accepted modes are kind, existing, kwok"):
        providers.provider_spec("minikube")


def test_installer_tools_are_resolved_before_any_cluster() -> None:
    from fixtures.topology_plugin import run_tools
    from scenarios.facts import Facts
    from scenarios.releases import load_pins

    pins = load_pins()
    # helm for Sail's operator (ScenarioSpec.tools) and for the egress gateway where a selected
    # scenario installs it (--egress-gateway helm; sail has none).
    release, target = pins.resolve_release("1.30"), pins.resolve_release("1.31")

    def run(
        scenarios: tuple[str, ...], upgrade_to: object = None, egress: str = "none", releases: object = None
    ) -> object:
        config = SimpleNamespace(
            scenarios=scenarios,
            releases=releases or (release,),
            upgrade_to=upgrade_to,
            choices=lambda: Facts(egress_gateway=egress),  # type: ignore[arg-type]
        )
        return run_tools(config)  # type: ignore[arg-type]

    assert run(("sail", "dns-tls"), target) == [
        ("helm", None, None),
        ("istioctl", str(release.version), None),
        ("istioctl", str(target.version), None),
    ]
    assert run(("dns-tls",)) == [("istioctl", str(release.version), None)]
    assert run(("dns-tls",), egress="helm") == [
        ("helm", None, None),
        ("istioctl", str(release.version), None),
    ]
    assert run(("sail", "dns-tls"), egress="helm") == [
        ("helm", None, None),
        ("istioctl", str(release.version), None),
    ]
    assert run(("sail",), egress="helm") == [("helm", None, None), ("istioctl", str(release.version), None)]
    # An Istio source's istioctl is built from it (programs/source_builds.py), A's and B's alike;
    # helm for its egress gateway all the same (the chart then comes from the source tree).
    a, b = (pins.source_release(source) for source in (MASTER_SOURCE, RELEASE_SOURCE))
    assert run(("ip-passthrough",), b, releases=(a,)) == [
        ("istioctl", None, MASTER_SOURCE),
        ("istioctl", None, RELEASE_SOURCE),
    ]
    assert run(("ip-passthrough",), egress="helm", releases=(b,)) == [
        ("helm", None, None),
        ("istioctl", None, RELEASE_SOURCE),
    ]
