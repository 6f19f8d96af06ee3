"""``--plan`` prints every step of the selected scenarios x releases and runs nothing."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from fixtures.options import SuiteConfig
from fixtures.plan import plan_facts, plan_text
from install.executed_plan import PlanRecorder
from install.installer import StepRecord
from programs.redaction import Redactor
from programs.runner import CommandRunner
from run.info import release_entry
from scenarios.registry import SCENARIO_IDS, guide_of
from scenarios.releases import load_pins
from tests.fakeexec import FakeTools

ROOT = Path(__file__).resolve().parent.parent


def config(**overrides: object) -> SuiteConfig:
    pins = load_pins()
    base = SuiteConfig(
        # Releases every scenario renders for (sail: ones its published chart installs).
        releases=(pins.resolve_release("1.29.6"), pins.resolve_release("1.30.3")),
        upgrade_to=None,
        upgrade_min_success_ratio=0.95,
        scenarios=SCENARIO_IDS,
        second_remote_base="ip-passthrough",
        ingress="istio",
        mode="kind",
        existing=None,
        keep_clusters=False,
        reuse_clusters=False,
        keep_on_failure=False,
        plan=True,
        tools_dir=Path("/nonexistent"),
        tool_paths={},
        allow_download=False,
        kind_node_image=None,
        cluster_prefix="eicp",
        report_dir=Path("/nonexistent"),
        external_hostname=None,
        external_tls_secret=None,
        image_archive_dir=None,
        preload_images=(),
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def test_plan_lists_every_scenario_and_release_with_placeholders() -> None:
    text, unavailable = plan_text(config())
    assert unavailable == 0
    for release in ("1.29.6", "1.30.3"):
        for scenario in SCENARIO_IDS:
            assert f"# scenario {scenario} -- Istio {release}" in text
    assert "<EXTERNAL_ISTIOD_ADDR>" in text and "<REMOTE_CLUSTER_NAME>" in text
    assert "kind: IstioOperator" in text and "kind: Istio\n" in text
    assert "PRIVATE KEY" not in text


def test_plan_follows_the_users_choices() -> None:
    chosen = config(
        scenarios=("dns-tls",),
        ingress="gateway-api",
        external_hostname="istiod.example.com",
        external_tls_secret="my-cert",
    )
    facts = plan_facts(chosen)
    assert (facts.suite_pki, facts.external_tls_secret) == (False, "my-cert")
    text, _ = plan_text(chosen)
    steps = text.split("\n\n", 1)[1]  # after the timeout table
    assert "credentialName: my-cert" in steps and "istiod.example.com:15012" in steps
    assert "helloworld-gateway-api" in steps and "publish-hostname" not in steps


def test_plan_reports_a_scenario_that_cannot_render() -> None:
    pins = load_pins()
    candidate = pins.resolve_release("1.32.0-alpha.1")
    text, unavailable = plan_text(config(releases=(candidate,), scenarios=("sail", "ip-passthrough")))
    assert unavailable == 1
    assert "scenario sail -- Istio 1.32.0-alpha.1 (pre-release): NOT AVAILABLE" in text
    assert "# scenario ip-passthrough -- Istio 1.32.0-alpha.1" in text


def test_plan_run_touches_no_cluster_and_no_tool(
    fake_tools: FakeTools, runner: CommandRunner, tmp_path: Path
) -> None:
    for tool in ("kind", "kubectl", "istioctl", "helm", "docker", "go"):
        fake_tools.install(tool).default(exit=1)
    result = runner.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "fixtures.plan",
            "--plan",
            "--scenario",
            "second-remote",
            "--istio-version",
            "1.29",
            "--tools-dir",
            str(tmp_path / "tools"),
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"]},
        check=False,
        timeout_s=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"# scenario second-remote -- Istio {load_pins().profiles['1.29'].latest_patch}" in result.stdout
    assert "eastwest-gateway-2.yaml" in result.stdout
    assert fake_tools.calls() == []
    # Option validation may create the (empty) tools directory; nothing is resolved into it.
    assert not any((tmp_path / "tools").rglob("*"))


def test_plan_run_with_an_unavailable_scenario_is_a_usage_error(runner: CommandRunner) -> None:
    result = runner.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "fixtures.plan",
            "--plan",
            "--scenario",
            "sail",
            "--istio-version",
            "1.32.0-alpha.1",
            "-q",
        ],
        cwd=ROOT,
        check=False,
        timeout_s=120,
    )
    assert result.returncode == 4, result.stdout + result.stderr
    assert "NOT AVAILABLE" in result.stdout


def test_executed_plan_has_each_step_outcome_facts_and_no_secret() -> None:
    """plan.yaml's content (install/executed_plan.py): what ran, what did not, secrets masked."""
    from dataclasses import replace as with_fact

    from install.executed_plan import NOT_RUN
    from scenarios.steps import Action, ScenarioPlan, Step

    redactor = Redactor()
    redactor.register("s3cr3t-token-value")
    steps = (
        Step("ns", "remote", Action.CREATE_NAMESPACE, "001 §1", params={"namespace": "sample"}),
        Step(
            "secret",
            "remote",
            Action.APPLY,
            "001 §2",
            ({"kind": "Secret", "stringData": {"t": "s3cr3t-token-value"}},),
        ),
        Step(
            "wait",
            "remote",
            Action.WAIT,
            "001 §3",
            params={"resource": "deployment/x", "for": "condition=Available"},
        ),
    )
    recorder = PlanRecorder("sail-1.30.5", "sail", "1.30.5", redactor)
    recorder.planned(ScenarioPlan("sail", "1.30.5", ("remote",), steps))

    def record(
        step: str, phase: str = "install", outcome: str = "passed", scenario: str = "sail-1.30.5"
    ) -> tuple[int, int]:
        return recorder.record(StepRecord(scenario, step, "remote", "x", phase, 0.0, 1.5, outcome, None))  # type: ignore[arg-type]

    assert record("ns") == (1, 3)
    assert record("secret", outcome="failed") == (2, 3)
    assert record("undo-ns", phase="uninstall") == (1, 0)
    facts = with_fact(plan_facts(config()), external_istiod_addr="172.18.0.200")
    executed = recorder.as_dict(facts, None)
    assert [(row["name"], row["outcome"]) for row in executed["install"]] == [
        ("ns", "passed"),
        ("secret", "failed"),
        ("wait", NOT_RUN),
    ]
    assert [(row["name"], row["outcome"]) for row in executed["uninstall"]] == [("undo-ns", "passed")]
    assert "upgrade" not in executed  # no upgrade ran
    assert executed["facts"]["external_istiod_addr"] == "172.18.0.200"
    assert executed["teardown"] == {"result": "passed", "error": None}
    assert "s3cr3t-token-value" not in str(executed)
    assert executed["install"][0]["params"] == {"namespace": "sample"}
    assert "guideRevision" not in executed  # none given: the steps' seeds say it


def test_executed_plan_names_the_guide_revision_and_what_each_uninstall_step_follows() -> None:
    recorder = PlanRecorder(
        "ip-passthrough-1.31.1", "ip-passthrough", "1.31.1", Redactor(), "istio.io-6129086"
    )
    seed = "istio.io-6129086 §Cleanup (istioctl uninstall -y --purge -f remote-config-cluster.yaml)"
    recorder.record(
        StepRecord(
            scenario="ip-passthrough-1.31.1", step="undo-remote-config-cluster", role="remote",
            action="istioctl-uninstall", phase="uninstall", started_at=0.0, duration_s=2.0,
            outcome="passed", seed=seed,
        )
    )  # fmt: skip
    executed = recorder.as_dict(None, None)
    assert executed["guideRevision"] == "istio.io-6129086"
    assert executed["uninstall"][0]["seed"] == seed


@pytest.mark.parametrize(("minor", "guide"), [("1.29", "001"), ("1.31", "istio.io-6129086")])
def test_run_info_and_scenarios_name_the_guide_revision(minor: str, guide: str) -> None:
    release = load_pins().resolve_release(minor)
    assert release_entry(release)["guideRevision"] == guide
    assert guide_of("ip-passthrough", release) == guide
    assert guide_of("sail", release) == "004"  # the Sail guide, whatever istio.io's revision
    seeded = load_pins().resolve_release(minor, guide="001")
    assert release_entry(seeded)["guideRevision"] == guide_of("second-remote", seeded) == "001"


def test_plan_with_upgrade_to_prints_the_upgrade_not_a_fresh_install_of_b() -> None:
    """Issue 10 item 8: the steps of B run again, the restarts (gateways too) and the probe's bounds."""
    pins = load_pins()
    a, b = pins.resolve_release("1.29"), pins.resolve_release("1.30")
    text, unavailable = plan_text(config(releases=(a,), upgrade_to=b, scenarios=("ip-passthrough",)))
    assert unavailable == 0
    fresh, upgrade = text.split(f"# upgrade target: Istio {b.label}\n")
    assert f"# Istio {a.label}\n# scenario ip-passthrough" in fresh
    assert upgrade.startswith(f"# upgrade ip-passthrough: Istio {a.version} -> {b.version}\n")
    assert "restart deployment/helloworld-v1 -n sample (rollout-restart)" in upgrade
    assert "restart deployment/istio-ingressgateway -n external-istiod (rollout-restart)" in upgrade
    assert "remote-namespace-sample" not in upgrade  # nothing is installed afresh
    assert "# traffic probe: " in upgrade and "95.0% of its requests succeed, never more than 5s" in upgrade
