"""The remote secret's token against fake istioctl/kubectl: it reaches the cluster and nothing
else (logs, records, reports, failure messages); a secret with an unexpected name is not
applied; the unlabelled config-secret workaround applies istioctl's secret without the label."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from install.installer import StepFailed, StepRecord
from programs.redaction import REDACTED
from programs.runner import CommandRecord, CommandRunner
from scenarios.steps import Action, Step
from tests.fakeexec import FakeTools
from tests.installer_support import (
    TOKEN,
    cluster_fakes,
    finish_fakes,
    make_installer,
    make_topology,
    remote_secret_yaml,
    step,
)


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Everything the runner would attach to Allure."""
    attachments: list[str] = []
    monkeypatch.setattr("allure.attach", lambda body, **_: attachments.append(str(body)))
    return attachments


def secret_step() -> Step:
    return step(
        "secret",
        "external",
        Action.REMOTE_SECRET,
        source_role="remote",
        target_role="external",
        command=["create-remote-secret"],
        type="config",
        namespace="external-istiod",
        secret_name="istio-kubeconfig",
        create_service_account=False,
    )


def run_secret_step(
    tmp_path: Path, runner: CommandRunner, *, expect: Callable[[], Any] | None = None
) -> tuple[list[CommandRecord], list[StepRecord]]:
    records: list[CommandRecord] = []
    runner.add_listener(records.append)
    installer = make_installer(tmp_path, make_topology(tmp_path, runner))
    steps: list[StepRecord] = []
    installer.add_listener(steps.append)
    if expect is None:
        installer.run_step(secret_step())
    else:
        with pytest.raises(StepFailed):
            installer.run_step(secret_step())
    return records, steps


def everything_written(
    tmp_path: Path,
    records: list[CommandRecord],
    steps: list[StepRecord],
    attachments: list[str],
    log_text: str,
) -> str:
    parts = [
        json.dumps([r.__dict__ for r in records], default=str),
        json.dumps([s.__dict__ for s in steps], default=str),
        (tmp_path / "commands.log").read_text() if (tmp_path / "commands.log").exists() else "",
        log_text,
        *attachments,
    ]
    return "\n".join(parts)


def test_the_remote_secret_token_never_reaches_logs_or_reports(
    tmp_path: Path,
    fake_tools: FakeTools,
    runner: CommandRunner,
    captured: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    tools = cluster_fakes(fake_tools)
    finish_fakes(tools)
    records, steps = run_secret_step(tmp_path, runner)
    written = everything_written(tmp_path, records, steps, captured, caplog.text)
    assert TOKEN not in written
    assert any("create-remote-secret" in " ".join(r.argv) for r in records)  # the call was recorded
    assert runner.redactor.redact(f"x {TOKEN} y") == f"x {REDACTED} y"  # registered for later output
    applied = [c for c in fake_tools.calls("kubectl") if c.stdin]
    assert TOKEN in applied[0].stdin and "--context ctx-ext" in applied[0].line


def test_the_token_stays_hidden_when_applying_the_secret_fails_and_echoes_it(
    tmp_path: Path,
    fake_tools: FakeTools,
    runner: CommandRunner,
    captured: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    tools = cluster_fakes(fake_tools)
    # A failing apply that quotes the object back, token and all (as admission errors can).
    tools["kubectl"].on(r"apply", exit=1, stderr=f'Error: admission webhook denied: token "{TOKEN}" is bad')
    finish_fakes(tools)
    installer = make_installer(tmp_path, make_topology(tmp_path, runner))
    with pytest.raises(StepFailed) as failure:
        installer.run_step(secret_step())
    assert TOKEN not in str(failure.value)
    assert TOKEN not in (tmp_path / "commands.log").read_text()
    assert TOKEN not in caplog.text and all(TOKEN not in body for body in captured)


def test_a_remote_secret_with_an_unexpected_name_is_not_applied(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    tools = cluster_fakes(fake_tools)
    tools["istioctl"].on(r"create-remote-secret", stdout=remote_secret_yaml(name="istio-remote-secret-other"))
    with pytest.raises(StepFailed, match="istio-remote-secret-other"):
        make_installer(tmp_path, make_topology(tmp_path, runner)).run_step(secret_step())
    assert not [c for c in fake_tools.calls("kubectl") if c.stdin]


def test_the_unlabelled_config_secret_workaround_applies_istioctls_secret_without_the_label(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    """As istioctl writes it (labels istio/multiCluster: "true", annotation naming the cluster),
    applied with that one label removed and everything else kept."""
    tools = cluster_fakes(fake_tools)
    labelled = yaml.safe_load(remote_secret_yaml().split("\n", 1)[1])
    labelled["metadata"]["labels"] = {"istio/multiCluster": "true", "team": "mesh"}
    labelled["metadata"]["annotations"] = {"networking.istio.io/cluster": "eicp-remote"}
    # Fake stdout is a regex template: backslashes doubled.
    tools["istioctl"].on(r"create-remote-secret", stdout=yaml.safe_dump(labelled).replace("\\", "\\\\"))
    finish_fakes(tools)
    workaround = replace(
        secret_step(), params={**secret_step().params, "without_labels": ["istio/multiCluster"]}
    )
    make_installer(tmp_path, make_topology(tmp_path, runner)).run_step(workaround)
    applied = yaml.safe_load(next(c for c in fake_tools.calls("kubectl") if c.stdin).stdin)
    assert applied["metadata"]["labels"] == {"team": "mesh"}
    assert applied["metadata"]["annotations"] == labelled["metadata"]["annotations"]
    assert applied["stringData"] == labelled["stringData"]
