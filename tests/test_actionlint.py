"""The CI workflows linted by the real actionlint (built from its Go module at the version
pinned in versions.yaml, resolved and cached like the suite's other tools), with Debian's
shellcheck checking every ``run:`` script; and their shape: timeouts, tools cache, inotify
limits, the nightly fan-out (release x scenario, kwok per release) and fan-in."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from programs.runner import CommandRunner
from programs.tools import ResolvedTool
from scenarios.releases import load_pins

REPO_ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((REPO_ROOT / "ci" / "workflows").glob("*.yaml"))
ResolveTool = Callable[[str], ResolvedTool]


def shellcheck() -> str:
    found = shutil.which("shellcheck")
    if found is None:
        reason = "shellcheck is not installed (ci/selftest.sh installs Debian's shellcheck package)"
        if os.environ.get("CI"):
            pytest.fail(reason + "; CI must not skip the workflow lint")
        pytest.skip(reason)
    return found


def actionlint(runner: CommandRunner, binary: ResolvedTool, *paths: Path) -> tuple[int, str]:
    result = runner.run(
        [str(binary.path), f"-shellcheck={shellcheck()}", "-pyflakes=", "-no-color", *map(str, paths)],
        check=False,
        timeout_s=120,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.realtools
def test_actionlint_is_the_pinned_build(real_tool: ResolveTool, runner: CommandRunner) -> None:
    binary = real_tool("actionlint")
    output = runner.run([str(binary.path), "-version"]).stdout
    assert output.splitlines()[0] == load_pins().tools["actionlint"]["version"]


@pytest.mark.realtools
def test_workflows_have_no_findings(real_tool: ResolveTool, runner: CommandRunner) -> None:
    assert {path.name for path in WORKFLOWS} >= {"nightly.yaml", "pre-upgrade.yaml", "regression.yaml"}
    returncode, output = actionlint(runner, real_tool("actionlint"), *WORKFLOWS)
    assert (returncode, output) == (0, "")


@pytest.mark.realtools
def test_the_lint_reports_workflow_and_shell_findings(
    real_tool: ResolveTool, runner: CommandRunner, tmp_path: Path
) -> None:
    """The same command on a broken workflow fails, so a clean result above means something."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        textwrap.dedent(
            """\
            name: bad
            on: {push: {}}
            jobs:
              one:
                runs-on: ubuntu-latest
                steps:
                  - run: echo ${{ matrix.missing }}
                  - run: |
                      files=$(ls)
                      cat $files
                  - uses: actions/checkout@v4
                    with: {fetch-depht: 1}
            """
        )
    )
    returncode, output = actionlint(runner, real_tool("actionlint"), bad)
    assert returncode == 1
    assert 'property "missing" is not defined' in output
    assert "SC2086" in output  # shellcheck ran on the run: script
    assert 'input "fetch-depht" is not defined in action "actions/checkout@v4"' in output


def workflow(name: str) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((REPO_ROOT / "ci" / "workflows" / name).read_text())
    return loaded


def steps_text(job: dict[str, Any]) -> str:
    return "\n".join(json.dumps(step) for step in job.get("steps", []))


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_job_has_a_timeout_and_cluster_jobs_cache_tools_and_raise_inotify(path: Path) -> None:
    for name, job in workflow(path.name)["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int), f"{path.name}: job {name} has no timeout-minutes"
        text = steps_text(job)
        if "ci/certify.sh" in text:
            caches = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/cache@")]
            assert caches and "hashFiles('versions.yaml')" in caches[0]["with"]["key"], (path.name, name)
            assert "fs.inotify.max_user_watches" in text and "fs.inotify.max_user_instances" in text
            assert text.index("inotify") < text.index("ci/certify.sh")


def test_nightly_fans_out_per_release_and_scenario_and_fans_in(runner: CommandRunner) -> None:
    nightly = workflow("nightly.yaml")
    jobs = nightly["jobs"]
    assert "pull_request" in nightly[True]  # YAML 1.1 reads the key `on` as True
    assert jobs["certify"]["if"] == "github.event_name != 'pull_request'"
    assert "if" not in jobs["kwok"]  # the kwok control-plane jobs run on pull requests too
    assert "--topology-mode kwok" in steps_text(jobs["kwok"])
    summary = jobs["summary"]
    assert summary["needs"] == ["certify", "kwok"] and summary["if"] == "always()"
    text = steps_text(summary)
    assert "python -m reports.merge artifacts --previous previous/merged/merged-report.json" in text
    assert "allure generate --config allurerc.mjs" in text
    # The kwok matrix: the workflow's own jq program over the real certification matrix.
    script = next(s["run"] for s in jobs["matrix"]["steps"] if s.get("id") == "matrix")
    program = re.search(r"jq -c '([^']+)'", script)
    assert program is not None
    certify = runner.run([sys.executable, str(REPO_ROOT / "ci" / "matrix.py")]).stdout
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed (GitHub's runners have it)")
    kwok = json.loads(runner.run(["jq", "-c", program.group(1)], stdin=certify).stdout)
    minors = sorted({".".join(entry["istio"].split(".")[:2]) for entry in json.loads(certify)["include"]})
    assert kwok == {"include": [{"istio": minor} for minor in minors]}


def test_pre_upgrade_takes_its_pairs_from_the_matrix_script() -> None:
    jobs = workflow("pre-upgrade.yaml")["jobs"]
    assert "python ci/matrix.py --upgrades" in steps_text(jobs["pairs"])
    assert jobs["upgrade"]["strategy"]["matrix"] == "${{ fromJSON(needs.pairs.outputs.matrix) }}"
    assert '--upgrade-to \\"$TO\\"' in steps_text(jobs["upgrade"])
