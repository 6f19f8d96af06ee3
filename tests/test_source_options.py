"""``--istio-source`` / ``--upgrade-to-source`` (run/source_options.py): refused before any work
(exit 4, nothing fetched or created) where a source cannot be certified, and otherwise the
release a run certifies and upgrades to, named as a source."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from clusters.providers import MODES, SOURCE_MODES
from fixtures import options
from programs.runner import CommandRunner
from run.config import ConfigError, build_config
from scenarios.sources import IstioSource
from tests.istio_sources_data import MASTER_SOURCE, RELEASE_SOURCE
from tests.test_options import REPO, run_pytest

SOURCES = {MASTER_SOURCE.spec: MASTER_SOURCE, RELEASE_SOURCE.spec: RELEASE_SOURCE}


def config_from(args: list[str], tmp_path: Path, inspected: list[str] | None = None) -> Any:
    parser = argparse.ArgumentParser()

    class Group:  # what fixtures/options.py asks of pytest's parser
        def addoption(self, *names: str, **kwargs: Any) -> None:
            parser.add_argument(*names, **kwargs)

    options.pytest_addoption(SimpleNamespace(getgroup=lambda *_args: Group()))  # type: ignore[arg-type]
    namespace = parser.parse_args(
        [*args, "--report-dir", str(tmp_path / "report"), "--tools-dir", str(tmp_path / "tools")]
    )

    def inspect(text: str) -> IstioSource:
        (inspected if inspected is not None else []).append(text)
        if text not in SOURCES:
            raise ValueError(f"{text!r} is not served")
        return SOURCES[text]

    return build_config(
        lambda name: getattr(namespace, name.lstrip("-").replace("-", "_")),
        modes=MODES,
        source_modes=SOURCE_MODES,
        inspect_source=inspect,
    )


def test_a_source_is_certified_as_itself_and_upgraded_to_a_newer_one(tmp_path: Path) -> None:
    config = config_from(
        [
            "--topology-mode",
            "kwok",
            "--istio-source",
            MASTER_SOURCE.spec,
            "--upgrade-to-source",
            RELEASE_SOURCE.spec,
        ],
        tmp_path,
    )
    (release,) = config.releases
    assert (release.source, config.upgrade_to.source) == (MASTER_SOURCE, RELEASE_SOURCE)
    assert release.label == "1.31 source b01690e6 (master), 2026-04-23"
    assert config.upgrade_to.tag == "1.31-dev.eed52ebb66ad"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--istio-source", RELEASE_SOURCE.spec],
            "needs --topology-mode kwok: --topology-mode kind clusters pull",
        ),
        (
            ["--topology-mode", "existing", "--upgrade-to-source", RELEASE_SOURCE.spec],
            "--upgrade-to-source 'istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad' needs --topology-mode kwok",
        ),
        (
            ["--topology-mode", "kwok", "--istio-source", RELEASE_SOURCE.spec, "--istio-version", "1.31"],
            "together with --istio-version: a source is certified as itself",
        ),
        (
            ["--topology-mode", "kwok", "--istio-source", RELEASE_SOURCE.spec, "--istio-tag", "x"],
            "together with --istio-tag",
        ),
        (
            [
                "--topology-mode",
                "kwok",
                "--istio-source",
                MASTER_SOURCE.spec,
                "--upgrade-to",
                "1.31",
                "--upgrade-to-source",
                RELEASE_SOURCE.spec,
            ],
            "an upgrade has one target",
        ),
    ],
)
def test_refused_before_the_source_is_even_looked_at(tmp_path: Path, args: list[str], message: str) -> None:
    inspected: list[str] = []
    with pytest.raises(ConfigError, match=message):
        config_from(args, tmp_path, inspected)
    assert inspected == []  # nothing fetched


def test_an_upgrade_must_go_to_a_newer_source(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"--upgrade-to-source istio.io/istio@v0.0.0-20260423205519-b01690e6db7d \(Istio 1.31 source "
        r"b01690e6 \(master\), 2026-04-23\) is not newer than --istio-source "
        r"istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad \(Istio 1.31 source eed52ebb \(release-1.31\), 2026-08-27\)",
    ):
        config_from(
            [
                "--topology-mode",
                "kwok",
                "--istio-source",
                RELEASE_SOURCE.spec,
                "--upgrade-to-source",
                MASTER_SOURCE.spec,
            ],
            tmp_path,
        )


def test_a_source_that_cannot_be_had_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"--istio-source 'istio.io/istio@v9' : |--istio-source 'istio.io/istio@v9': 'istio.io/istio@v9' is not served",
    ):
        config_from(["--topology-mode", "kwok", "--istio-source", "istio.io/istio@v9"], tmp_path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--istio-source", "istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad"],
            "needs --topology-mode kwok",
        ),
        (["--topology-mode", "kwok", "--istio-source", "/no/such/checkout"], "nor an existing directory"),
        (
            ["--topology-mode", "kwok", "--istio-source", "istio.io/istio@main"],
            "is not an exact Go module version",
        ),
    ],
)
def test_the_suite_exits_4_naming_the_value_and_creates_nothing(
    runner: CommandRunner, tmp_path: Path, args: list[str], message: str
) -> None:
    report = tmp_path / "report"
    code, output = run_pytest(
        runner, *args, "--report-dir", str(report), "--tools-dir", str(tmp_path / "tools")
    )
    assert code == pytest.ExitCode.USAGE_ERROR, output
    assert message in output and "Traceback" not in output
    assert not list((tmp_path / "tools").glob("istio-source*"))


def test_certify_offline_snapshot_is_the_tier_source(tmp_path: Path) -> None:
    """ci/certify.sh --offline-snapshot passes --istio-source <the tiers' source> to the run and
    builds it in its tools step; no --istioctl, --istio-tag or --tool-path is assembled."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    calls = tmp_path / "calls"
    python = venv / "bin" / "python"
    python.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$*" >> {calls}\n'
        'case "$*" in *tier_source*) echo v0.0.0-20260827124520-eed52ebb66ad ;; esac\n'
    )
    python.chmod(0o755)
    result = subprocess.run(
        [
            "bash",
            str(REPO / "ci" / "certify.sh"),
            "--offline-snapshot",
            "--topology-mode",
            "kwok",
            "--scenario",
            "ip-passthrough",
        ],
        env={"PATH": "/usr/bin:/bin", "EICP_VENV": str(venv), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = calls.read_text().splitlines()
    spec = "--istio-source istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad"
    assert [line for line in lines if "programs.tools_cli" in line] == [
        "-m programs.tools_cli kwok-tier",
        f"-m programs.tools_cli {spec}",
    ]
    pytest_step = next(line for line in lines if line.startswith("-m pytest"))
    assert spec in pytest_step
    assert (
        "--istioctl" not in pytest_step
        and "--istio-tag" not in pytest_step
        and "--tool-path" not in pytest_step
    )
