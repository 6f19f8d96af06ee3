"""The upgrade check end to end against fake kubectl/istioctl: it passes on a healthy upgrade and
fails when the probe's ratio drops below the bound, when pods still run A's proxy, when A was
already broken, and when a step fails."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from clusters.cluster import ClusterHandle, Topology
from clusters.providers import provider_spec
from fixtures.scenario_plugin import InstalledScenario, InstallerTools
from fixtures.upgrade_plugin import UpgradeDriver
from programs.redaction import Redactor
from programs.runner import CommandRunner
from scenarios.facts import Facts
from scenarios.registry import render
from scenarios.releases import load_pins
from suites import test_upgrade
from suites.evaluation import judging
from suites.evaluation.evaluators.balance import BATCH_SIZE
from suites.evaluation.evaluators.traffic import STATUS_MARKER
from suites.evaluation.evaluators.verdict import Verdict
from suites.evaluation.readers import Observer
from suites.evaluation.reporting import judge
from tests import checks_fakes as fake
from tests import gateway_fakes, xds_dumps
from tests.conftest import Deadlines
from tests.fakeexec import FakeTool, FakeTools

A, B = str(load_pins().resolve_release("1.29").version), str(load_pins().resolve_release("1.30").version)
PROBE = r"exec -n sample curl-5b549b49b8-qx7rl -c curl -- sh -c"
FACTS = Facts(
    cluster_names={"external": "eicp-external", "remote": fake.REMOTE_CLUSTER},
    external_istiod_addr=fake.EXTERNAL_IP,
)


def out(obj: object) -> str:
    """Fake stdout is a regex template: backslashes doubled."""
    text = obj if isinstance(obj, str) else json.dumps(obj)
    return text.replace("\\", "\\\\")


def hello(count: int) -> str:
    return f"Hello version: v1, instance: helloworld-v1-abc\n\n{STATUS_MARKER}200\n" * count


def probe_lines(*codes: str) -> str:
    return "".join(f"{1776900000 + index} {code}\n" for index, code in enumerate(codes))


@dataclass
class World:
    installed: InstalledScenario
    driver: UpgradeDriver
    kubectl: FakeTool
    istioctl: FakeTool
    tools: FakeTools


@pytest.fixture
def world(
    fake_tools: FakeTools,
    runner: CommandRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    deadlines: Deadlines,
) -> World:
    clusters = {
        role: ClusterHandle(
            role, f"eicp-{role}", f"kind-eicp-{role}", tmp_path / f"{role}.kubeconfig", "", None, runner
        )
        for role in ("external", "remote")
    }
    old = fake.release(A)
    rendered = render("ip-passthrough", old, FACTS)
    installed = InstalledScenario(
        "ip-passthrough",
        old,
        Topology(provider_spec("kind").capabilities, clusters, "eicp"),  # type: ignore[arg-type]
        rendered.plan,
        rendered.expectations,
        FACTS,
        tmp_path / "diagnostics",
    )
    istioctl_path = fake_tools.bin_dir / "istioctl"
    tools = InstallerTools(
        istioctl=lambda release: (
            istioctl_path if str(release.version) == B else Path("/nonexistent/istioctl-A")
        ),
        helm=lambda: Path("/nonexistent/helm"),
        samples=lambda release: tmp_path / "samples",
    )
    driver = UpgradeDriver(
        fake.release(B), tools, tmp_path / "run", min_probe_requests=10, probe_batch_size=5
    )
    # A failing check fails at once, not after the real convergence deadlines.
    deadlines(
        {
            "check.traffic-convergence": 3.0,
            "check.injection-sync": 3.0,
            "check.xds": 3.0,
            "check.istiod-clusters": 3.0,
        }
    )
    monkeypatch.setattr(Observer, "remote_secret_metadata", lambda self, role: fake.remote_secret_meta())
    monkeypatch.setattr(Observer, "cluster_uid", lambda self, role: fake.KUBE_SYSTEM_UID)
    istioctl = fake_tools.install("istioctl")
    istioctl.on(r"^manifest generate", stdout="apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istio\n")
    kubectl = fake_tools.install("kubectl")
    return World(installed, driver, kubectl, istioctl, fake_tools)


def script_cluster(
    kubectl: FakeTool, *, proxy_tag: str = B, proxy_hub: str = "registry.istio.io/release", probe: str = ""
) -> None:
    """The clusters as they look during and after the upgrade (reads) and accepting every write."""
    exp = render("ip-passthrough", fake.release(B), FACTS).expectations
    curl = fake.as_list(fake.pod("curl-5b549b49b8-qx7rl", app="curl", tag=proxy_tag, hub=proxy_hub))
    pods = fake.sample_pods(("v1",), tag=proxy_tag, hub=proxy_hub)
    mutating, validating = fake.healthy_webhooks(exp)
    kubectl.on(PROBE, stdout=probe or probe_lines("200", "200", "200", "200", "200"))
    kubectl.on(r"get pods -n sample -l app=curl", stdout=out(curl))
    kubectl.on(r"get pods -n sample --ignore-not-found", stdout=out(pods))
    kubectl.on(r"get pods --all-namespaces -l", stdout=out(fake.as_list()))
    kubectl.on(
        r"get (deployment istiod|deployment/istiod) -n external-istiod", stdout=out(fake.istiod_deployment(B))
    )
    # The remote ingress gateway, gateway-injected (its check runs on B too).
    gateway = fake.as_list(gateway_fakes.gateway_pod("istio-ingressgateway", tag=proxy_tag, hub=proxy_hub))
    kubectl.on(r"get pods -n external-istiod -l app=istio-ingressgateway", stdout=out(gateway))
    kubectl.on(
        r"get deployment istio-ingressgateway -n external-istiod",
        stdout=out(gateway_fakes.gateway_deployment("istio-ingressgateway")),
    )
    kubectl.on(r"get pods -n external-istiod -l", stdout=out(fake.istiod_pods(B)))
    kubectl.on(r"exec .* pilot-discovery version", stdout=out({"clientVersion": {"version": B}}))
    syncz = [
        fake.syncz_entry(f"{item['metadata']['name']}.{item['metadata']['namespace']}", version=proxy_tag)
        for item in (*pods["items"], *gateway["items"])
    ]
    kubectl.on(r"exec .* /debug/syncz", stdout=out(syncz))
    # istiod's registered clusters as the real one lists them (the config cluster, and `config`
    # from istio-kubeconfig: a known issue its own check reports, a fact here).
    clusterz = [
        {"id": fake.REMOTE_CLUSTER, "secretName": "", "syncStatus": "synced"},
        {"id": "config", "secretName": "external-istiod/istio-kubeconfig", "syncStatus": "synced"},
    ]
    kubectl.on(r"exec .* /debug/clusterz", stdout=out(clusterz))
    # The client's sidecar config (recorded shape): v1 listed twice, as the real istiod sends it.
    v1 = next(p["status"]["podIP"] for p in pods["items"] if p["metadata"]["labels"].get("version") == "v1")
    dump = xds_dumps.helloworld_dump((v1, 5000, "config"), (v1, 5000, fake.REMOTE_CLUSTER))
    kubectl.on(r"exec .* pilot-agent request GET config_dump", stdout=out(dump))
    # istiod's validating webhook (the validation family runs on B too): invalid probes denied.
    for kind, reason in (("vs", "invalid destination host *"), ("dr", "subset name is invalid")):
        kubectl.on(
            r"create --dry-run=server -o name -f -",
            stdin_pattern=rf"name: eicp-validation-probe-invalid-{kind}",
            exit=1,
            stderr='Error from server: error when creating "STDIN": admission webhook "validation.istio.io" '
            f"denied the request: configuration is invalid: {reason}\n",
        )
    kubectl.on(r"create --dry-run=server -o name -f -", stdout="created (server dry run)\n")
    # A new pod, dry-run: B's injector injects it (the injection family's probe).
    probe_pod = fake.pod(
        "eicp-injection-probe", app="eicp-injection-probe", ready=False, tag=proxy_tag, hub=proxy_hub
    )
    kubectl.on(r"create --dry-run=server -o json -f -", stdout=out(probe_pod))
    kubectl.on(r"get (service |service/)istio-ingressgateway -n istio-system", stdout=out(fake.lb_service()))
    kubectl.on(
        r"get service istio-ingressgateway -n external-istiod",
        stdout=out(fake.lb_service(namespace="external-istiod", ip="172.18.0.201")),
    )
    kubectl.on(
        r"kind-eicp-external get mutatingwebhookconfigurations",
        stdout=out(gateway_fakes.external_cluster_webhooks()),
    )
    kubectl.on(r"get mutatingwebhookconfigurations", stdout=out(mutating))
    kubectl.on(r"get validatingwebhookconfigurations", stdout=out(validating))
    kubectl.on(
        r"get deployment/(helloworld-v1|curl) -n sample -o json", stdout=out(fake.istiod_deployment(B))
    )
    # The remote ingress gateway is gateway-injected: the upgrade restarts it too.
    kubectl.on(
        r"get deployment/istio-ingressgateway -n external-istiod -o json",
        stdout=out(fake.istiod_deployment(B)),
    )
    for count in (judging.CONVERGENCE_BATCH, BATCH_SIZE):
        kubectl.on(rf"(?s)exec .*eicp=\[1-{count}\]", stdout=out(hello(count)))


def run(world: World, outcomes: dict[str, str] | None = None) -> list[Verdict]:
    seen: list[Verdict] = []

    def verdict_of(verdict: Verdict) -> None:
        seen.append(verdict)
        judge(verdict, Redactor())

    passed = {f"suites/test_traffic.py::test_mesh_traffic_from_each_client[ip-passthrough-{A}]": "passed"}
    test_upgrade.test_upgrade_external_control_plane_in_place(
        world.installed,
        world.driver,
        lambda label: passed if outcomes is None else outcomes,
        "diagnostics: here",
        verdict_of,
    )
    return seen


def commands(world: World) -> list[tuple[str, str]]:
    return [(call.tool, call.line) for call in world.tools.calls()]


def test_healthy_upgrade_passes_and_runs_b_procedure_in_order(world: World) -> None:
    script_cluster(world.kubectl)
    verdicts = run(world)
    final = verdicts[-1]
    assert final.ok, final.message
    assert any(f.startswith("curl sample/curl-5b549b49b8-qx7rl on remote -> ") for f in final.facts)
    lines = commands(world)
    # B's istioctl did the control plane: gateway, remote config cluster, external istiod; B's
    # guide revision (the current page) installs the remote profile with istioctl install.
    istioctl = [line for tool, line in lines if tool == "istioctl"]
    assert [line.split(" -f ")[0] for line in istioctl] == ["install -y", "install -y", "install -y"]
    assert "controlplane-gateway.yaml" in istioctl[0] and "external-istiod.yaml" in istioctl[2]
    assert "remote-config-cluster.yaml --set values.defaultRevision=default" in istioctl[1]
    restarts = [i for i, (tool, line) in enumerate(lines) if "rollout restart" in line]
    assert [lines[i][1].split("rollout restart ")[1] for i in restarts] == [
        "deployment/helloworld-v1 -n sample",
        "deployment/istio-ingressgateway -n external-istiod",  # gateway-injected: B's proxy only when replaced
        "deployment/curl -n sample",
    ]
    probes = [i for i, (_, line) in enumerate(lines) if "-- sh -c" in line]
    first_install = next(i for i, (tool, _) in enumerate(lines) if tool == "istioctl")
    assert probes[0] < first_install, "the probe ran before the upgrade began"
    assert any(restarts[0] < i < restarts[1] for i in probes), "the probe saw the restarted helloworld"
    assert probes[-1] < restarts[-1], "the probe stopped before its own client was restarted"
    nothing_recreated = [
        line
        for _, line in lines
        if re.search(r" create (namespace|serviceaccount)|create-remote-secret|delete ", line)
    ]
    assert nothing_recreated == []
    steps = (world.installed.diagnostics_dir / "upgrade-steps.jsonl").read_text().splitlines()
    assert [json.loads(s)["step"] for s in steps][:5] == [
        "external-gateway",
        "external-gateway-address",
        "remote-config-cluster",
        "external-istiod",
        "external-wait-istiod",
    ]


def test_probe_ratio_below_the_bound_fails_with_counts(world: World) -> None:
    script_cluster(world.kubectl, probe=probe_lines("200", "200", "200", "503", "000"))
    with pytest.raises(pytest.fail.Exception) as failure:
        run(world)
    message = str(failure.value)
    assert "traffic success ratio 0.600 is below 0.995 during the upgrade" in message
    assert re.search(r"000=\d+, 200=\d+, 503=\d+", message), message


def test_pods_still_on_release_a_proxy_fail(world: World) -> None:
    script_cluster(world.kubectl, proxy_tag=A, proxy_hub="docker.io/istio")
    with pytest.raises(pytest.fail.Exception) as failure:
        run(world)
    message = str(failure.value)
    assert f"istio-proxy image docker.io/istio/proxyv2:{A} is not proxyv2:{B}" in message


def test_failed_checks_on_a_stop_before_anything_changes(world: World) -> None:
    script_cluster(world.kubectl)
    failed = {
        "suites/test_injection.py::test_sidecars_injected_by_external_control_plane[x]": "failed (call)"
    }
    with pytest.raises(
        pytest.fail.Exception, match=rf"on {re.escape(A)}, before the upgrade: .*failed \(call\)"
    ):
        run(world, failed)
    assert world.tools.calls("istioctl") == []


def test_a_failed_step_is_reported_with_what_was_left_and_the_probe(world: World) -> None:
    script_cluster(world.kubectl)
    world.istioctl.on(
        r"^install .*external-istiod\.yaml", stderr="Error: failed to wait for resource", exit=1
    )
    with pytest.raises(pytest.fail.Exception) as failure:
        run(world)
    message = str(failure.value)
    assert "step 'external-istiod' [external] (istioctl-install" in message
    assert (
        "not carried out: external-istiod, external-wait-istiod, restart helloworld-v1, "
        "restart istio-ingressgateway, restart curl" in message
    )
    assert "succeeded (ratio 1.000" in message
    assert not any("rollout restart" in line for _, line in commands(world))


def test_upgrade_to_unchanged_gateway_address_is_required(world: World) -> None:
    script_cluster(world.kubectl)
    world.kubectl.on(
        r"get service/istio-ingressgateway -n istio-system -o json",
        stdout=out(fake.lb_service(ip="172.18.0.250")),
    )
    world.kubectl.rules.insert(0, world.kubectl.rules.pop())  # before the healthy rule
    world.kubectl.save()
    with pytest.raises(pytest.fail.Exception, match=r"address is 172\.18\.0\.250, not 172\.18\.0\.200"):
        run(world)


def test_run_alone_it_judges_release_a_itself_first(world: World) -> None:
    """No other check ran (``-m upgrade``): A is judged here; a cluster not on A stops the upgrade."""
    script_cluster(world.kubectl)  # the clusters already run B's proxies and istiod
    with pytest.raises(pytest.fail.Exception) as failure:
        run(world, {})
    message = str(failure.value)
    assert message.startswith("[upgrade/checks-on-A] FAILED")
    assert f"is not proxyv2:{A}" in message and "no other check ran: A judged here" in message
    assert world.tools.calls("istioctl") == []


def test_every_check_on_a_skipped_is_no_evidence_that_a_works(world: World) -> None:
    """Issue 10 item 8: "every check passed on A" cannot hold when every check on A was skipped."""
    script_cluster(world.kubectl)  # the clusters already run B's proxies and istiod
    skipped = {f"suites/test_traffic.py::test_ingress_gateway_traffic[ip-passthrough-{A}]": "skipped"}
    with pytest.raises(pytest.fail.Exception) as failure:
        run(world, skipped)
    message = str(failure.value)
    assert message.startswith("[upgrade/checks-on-A] FAILED")
    assert "every other check skipped: A judged here" in message
    assert world.tools.calls("istioctl") == []


def test_a_gap_without_success_longer_than_the_bound_fails(world: World) -> None:
    # Every request answered, but the probe's clock jumps: 9 s without a response in between.
    times = (0, 9, 10, 11, 12)  # one batch of five: 9 s between the first two answers
    script_cluster(world.kubectl, probe="".join(f"{1776900000 + t} 200\\n" for t in times))
    world.driver.min_success_ratio = 0.5
    with pytest.raises(pytest.fail.Exception, match=r"9\.0s passed without a successful response"):
        run(world)
