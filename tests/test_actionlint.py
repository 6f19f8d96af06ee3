"""The CI workflows linted by the real actionlint (built from its Go module at the version
pinned in versions.yaml, resolved and cached like the suite's other tools), with Debian's
shellcheck checking every ``run:`` script."""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from programs.runner import CommandRunner
from programs.tools import ResolvedTool
from scenarios.releases import load_pins

pytestmark = pytest.mark.realtools

WORKFLOWS = sorted((Path(__file__).resolve().parent.parent / "ci" / "workflows").glob("*.yaml"))
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


def test_actionlint_is_the_pinned_build(real_tool: ResolveTool, runner: CommandRunner) -> None:
    binary = real_tool("actionlint")
    output = runner.run([str(binary.path), "-version"]).stdout
    assert output.splitlines()[0] == load_pins().tools["actionlint"]["version"]


def test_workflows_have_no_findings(real_tool: ResolveTool, runner: CommandRunner) -> None:
    assert {path.name for path in WORKFLOWS} >= {"nightly.yaml", "pre-upgrade.yaml", "regression.yaml"}
    returncode, output = actionlint(runner, real_tool("actionlint"), *WORKFLOWS)
    assert (returncode, output) == (0, "")


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
