"""Diagnostics collection over fake clusters: layout, redaction, failures, deadline."""

from __future__ import annotations

import time
from pathlib import Path

from programs import cancellation
from programs.redaction import Redactor
from programs.runner import CommandRunner
from reports.diagnostics import collect_diagnostics
from reports.plan_namespaces import namespaces_from_plan
from scenarios.steps import Action, ScenarioPlan, Step
from tests.fakeexec import FakeTools
from tests.report_support import (
    BEARER_TOKEN,
    PRIVATE_KEY,
    REGISTERED_TOKEN,
    leaks,
    make_topology,
    script_kubectl,
)


def test_collects_per_cluster_and_namespace(
    fake_tools: FakeTools, runner: CommandRunner, redactor: Redactor, tmp_path: Path
) -> None:
    redactor.register(REGISTERED_TOKEN)  # the installer registers the remote secret's token
    script_kubectl(fake_tools.install("kubectl"))
    topology = make_topology(fake_tools, runner, tmp_path, ("external", "remote"))
    out = tmp_path / "diag"

    result = collect_diagnostics(topology, {"remote": ["sample"]}, out, runner, deadline_s=60)

    assert result.errors == []
    assert result.skipped == []
    ext = out / "external-eicp-external"
    for relative in (
        "cluster-scoped/namespaces.txt",
        "cluster-scoped/nodes.txt",
        "cluster-scoped/mutatingwebhookconfigurations.yaml",
        "cluster-scoped/validatingwebhookconfigurations.yaml",
        "cluster-scoped/istios.sailoperator.io.yaml",
        "external-istiod/pods.yaml",
        "external-istiod/events.txt",
        "external-istiod/resources.txt",
        "external-istiod/configmaps-istio.yaml",
        "external-istiod/logs/istiod-5d8f7-abcde/discovery.log",
        "external-istiod/logs/istiod-5d8f7-abcde/discovery.previous.log",
        "external-istiod/istiod-debug/istiod-5d8f7-abcde/connections.json",
        "external-istiod/istiod-debug/istiod-5d8f7-abcde/syncz.json",
    ):
        assert (ext / relative).is_file(), relative
    assert (
        "totalClients"
        in (ext / "external-istiod/istiod-debug/istiod-5d8f7-abcde/connections.json").read_text()
    )
    sample = out / "remote-eicp-remote" / "sample"
    assert (sample / "logs/helloworld-v1-xyz/istio-init.log").is_file()
    assert (sample / "logs/helloworld-v1-xyz/istio-proxy.log").is_file()
    # --previous only for containers that restarted.
    assert not (sample / "logs/helloworld-v1-xyz/helloworld.previous.log").exists()
    configmaps = (ext / "external-istiod/configmaps-istio.yaml").read_text()
    assert "istio-sidecar-injector" in configmaps
    assert "kube-root-ca.crt" not in configmaps
    assert "last-applied-configuration" not in (ext / "external-istiod/pods.yaml").read_text()
    assert (out / "SUMMARY.txt").read_text().startswith(f"diagnostics: {out}")

    calls = fake_tools.lines("kubectl")
    assert not [line for line in calls if "secret" in line], "diagnostics must never read Secrets"
    assert all("--request-timeout=20s" in line for line in calls)
    # Secrets in pod specs, logs and configmaps never reach the files.
    assert leaks(out) == []
    log = (ext / "external-istiod/logs/istiod-5d8f7-abcde/discovery.log").read_text()
    assert "Authorization: Bearer <redacted>" in log
    assert "New connection" in log
    assert BEARER_TOKEN not in log
    assert PRIVATE_KEY not in log


def test_kwok_reads_only_the_logs_its_stand_ins_serve(
    fake_tools: FakeTools, runner: CommandRunner, tmp_path: Path
) -> None:
    """kwok pods have no containers: no `kubectl logs` (and no "no logs found" error) for them,
    one note per cluster saying why; the istiod stand-in's log is read (its capabilities)."""
    script_kubectl(fake_tools.install("kubectl"))
    topology = make_topology(fake_tools, runner, tmp_path, ("external", "remote"), mode="kwok")
    out = tmp_path / "diag"

    result = collect_diagnostics(topology, {"remote": ["sample"]}, out, runner, deadline_s=60)

    calls = fake_tools.lines("kubectl")
    logs = [line for line in calls if " logs " in line]
    assert logs and all("istiod-5d8f7-abcde" in line for line in logs)
    assert all("-n external-istiod istiod-5d8f7-abcde" in line for line in calls if " exec " in line)
    assert (out / "external-eicp-external/external-istiod/logs/istiod-5d8f7-abcde/discovery.log").is_file()
    assert not (out / "remote-eicp-remote/sample/logs").exists()
    assert result.errors == []
    assert any(
        note.startswith("remote: container logs of 1 pod(s) not read: kwok pods have no containers")
        for note in result.notes
    )
    assert "note: remote: container logs of" in result.summary()


def test_unreachable_cluster_does_not_stop_the_others(
    fake_tools: FakeTools, runner: CommandRunner, tmp_path: Path
) -> None:
    script_kubectl(fake_tools.install("kubectl"), unreachable=("ctx-remote",))
    topology = make_topology(fake_tools, runner, tmp_path, ("external", "remote", "second"))
    out = tmp_path / "diag"

    result = collect_diagnostics(topology, {}, out, runner, deadline_s=60)

    assert any(error.startswith("remote (ctx-remote): not reachable") for error in result.errors)
    assert any("connection refused" in error for error in result.errors)
    assert (out / "external-eicp-external/external-istiod/pods.yaml").is_file()
    assert (out / "second-eicp-second/sample/pods.yaml").is_file()
    assert not (out / "remote-eicp-remote").exists()
    # One failed call per unreachable cluster, not one per item.
    assert len([line for line in fake_tools.lines("kubectl") if "--context ctx-remote " in line]) == 1
    assert "not reachable" in (out / "SUMMARY.txt").read_text()


def test_deadline_bounds_the_collection(fake_tools: FakeTools, runner: CommandRunner, tmp_path: Path) -> None:
    script_kubectl(fake_tools.install("kubectl"), sleep=1.0)
    topology = make_topology(fake_tools, runner, tmp_path, ("external", "remote"))

    started = time.monotonic()
    result = collect_diagnostics(topology, {}, tmp_path / "diag", runner, deadline_s=2.5)
    elapsed = time.monotonic() - started

    assert elapsed < 4.5, f"collection took {elapsed:.1f}s with a 2.5s deadline"
    assert result.deadline_reached
    assert any("logs" in item or "events" in item for item in result.skipped)
    assert (tmp_path / "diag/SUMMARY.txt").is_file()


def test_kind_export_logs_are_redacted_and_host_logs_copied(
    fake_tools: FakeTools, runner: CommandRunner, redactor: Redactor, tmp_path: Path
) -> None:
    redactor.register(REGISTERED_TOKEN)
    script_kubectl(fake_tools.install("kubectl"))
    kind = fake_tools.install("kind")
    kind.on(
        r"^export logs (\S+) --name (\S+)",
        write_file=(r"\1/\2-control-plane/kubelet.log", f"kubelet: using token {REGISTERED_TOKEN}\n"),
    )
    cpk_log = tmp_path / "logs" / "cloud-provider-kind.log"
    cpk_log.parent.mkdir()
    cpk_log.write_text(f"I0101 loadbalancer ready\nAuthorization: Bearer {BEARER_TOKEN}\n")
    topology = make_topology(fake_tools, runner, tmp_path, ("external",), mode="kind")
    out = tmp_path / "diag"

    result = collect_diagnostics(
        topology, {}, out, runner, 60, kind_bin=str(fake_tools.bin_dir / "kind"), extra_logs=[cpk_log]
    )

    assert result.errors == []
    assert fake_tools.lines("kind")[0].endswith("--name eicp-external")
    kubelet = out / "external-eicp-external/kind-logs/eicp-external-control-plane/kubelet.log"
    assert kubelet.read_text() == "kubelet: using token <redacted>\n"
    assert "loadbalancer ready" in (out / "host-logs/cloud-provider-kind.log").read_text()
    assert leaks(out) == []


def test_kind_logs_are_exported_once_per_cluster_and_never_raw_in_the_report_dir(
    fake_tools: FakeTools, runner: CommandRunner, tmp_path: Path
) -> None:
    script_kubectl(fake_tools.install("kubectl"))
    kind = fake_tools.install("kind")
    kind.on(
        r"^export logs (\S+) --name (\S+)",
        write_file=(
            r"\1/\2-control-plane/journal.log",
            f"kubelet[1]: Authorization: Bearer {BEARER_TOKEN}\n",
        ),
    )
    topology = make_topology(fake_tools, runner, tmp_path, ("external",), mode="kind")
    kind_bin = str(fake_tools.bin_dir / "kind")

    collect_diagnostics(topology, {}, tmp_path / "first", runner, 60, kind_bin=kind_bin)
    second = collect_diagnostics(topology, {}, tmp_path / "second", runner, 60, kind_bin=kind_bin)

    exports = [line for line in fake_tools.lines("kind") if line.startswith("export logs")]
    assert len(exports) == 1
    # kind wrote into a private temporary directory, not into the report directory.
    assert not exports[0].split()[2].startswith(str(tmp_path))
    assert (
        tmp_path / "first/external-eicp-external/kind-logs/eicp-external-control-plane/journal.log"
    ).is_file()
    note = (tmp_path / "second/external-eicp-external/kind-logs.txt").read_text()
    assert f"exported once, to {tmp_path / 'first'}" in note
    assert second.errors == []
    assert leaks(tmp_path / "first") == leaks(tmp_path / "second") == []


def test_namespaces_from_plan() -> None:
    plan = ScenarioPlan(
        scenario="ip-passthrough",
        release="1.30.3",
        roles=("external", "remote"),
        steps=(
            Step("ns", "external", Action.CREATE_NAMESPACE, "001", params={"namespace": "external-istiod"}),
            Step(
                "sample",
                "remote",
                Action.APPLY,
                "001",
                manifests=(
                    {"kind": "Namespace", "metadata": {"name": "sample"}},
                    {"kind": "Service", "metadata": {"name": "x", "namespace": "istio-ingress"}},
                ),
            ),
        ),
    )
    assert namespaces_from_plan(plan) == {
        "external": {"external-istiod"},
        "remote": {"sample", "istio-ingress"},
    }


def test_a_failed_kind_export_is_tried_again_by_the_next_collection(
    fake_tools: FakeTools, runner: CommandRunner, tmp_path: Path
) -> None:
    script_kubectl(fake_tools.install("kubectl"))
    kind = fake_tools.install("kind")
    kind.on(r"^export logs", exit=1, stderr="ERROR: unknown cluster", times=1)
    kind.on(r"^export logs (\S+) --name (\S+)", write_file=(r"\1/\2-control-plane/journal.log", "ok\n"))
    topology = make_topology(fake_tools, runner, tmp_path, ("external",), mode="kind")
    kind_bin = str(fake_tools.bin_dir / "kind")

    first = collect_diagnostics(topology, {}, tmp_path / "first", runner, 60, kind_bin=kind_bin)
    collect_diagnostics(topology, {}, tmp_path / "second", runner, 60, kind_bin=kind_bin)

    assert any("kind export logs" in error for error in first.errors)
    assert len([line for line in fake_tools.lines("kind") if line.startswith("export logs")]) == 2
    assert (
        tmp_path / "second/external-eicp-external/kind-logs/eicp-external-control-plane/journal.log"
    ).is_file()


def test_only_the_pods_a_stand_in_runs_for_are_read_on_kwok() -> None:
    """The external istiod's pods have a host process behind them (kwok Logs/Exec); the external
    cluster's istio-system istiod and every other pod have no containers at all."""
    from clusters.providers import provider_spec

    kwok, kind = provider_spec("kwok").capabilities, provider_spec("kind").capabilities
    istiod = {"app": "istiod"}
    assert kwok.reaches_containers_of("external-istiod", istiod)
    assert not kwok.reaches_containers_of("istio-system", istiod)
    assert not kwok.reaches_containers_of("sample", {"app": "helloworld"})
    assert kind.reaches_containers_of("sample", {"app": "helloworld"})


def test_a_cancelled_run_collects_nothing_more(
    fake_tools: FakeTools, runner: CommandRunner, tmp_path: Path
) -> None:
    """Diagnostics only add information: once a signal cancelled the run, they stop at once
    and say why, so that the cleanup that follows is not kept waiting."""
    script_kubectl(fake_tools.install("kubectl"))
    topology = make_topology(fake_tools, runner, tmp_path, ("external", "remote"))
    cancellation.request_cancel("SIGTERM")
    result = collect_diagnostics(topology, {"remote": ["sample"]}, tmp_path / "diag", runner, deadline_s=60)
    assert fake_tools.lines("kubectl") == []
    assert result.cancelled == "SIGTERM" and result.skipped
    assert "skipped (the run was cancelled (SIGTERM))" in result.summary()
