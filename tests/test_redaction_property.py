"""Property-based proof that no secret of a known family survives what the runner writes.

Hypothesis generates secrets of every family the redactor knows (tests/redaction_families.py:
names, layouts and forms generated, not listed), embeds each in random text, in a command's
argv, in its environment and in a JSON document (which must stay valid JSON once redacted), runs a command through ``CommandRunner``
that prints them on stdout and stderr and fails (an in-process stand-in for the process), and
then looks for the secret in everything that reaches a person: the runner's log, the
``CommandError`` text, the command transcript, the Allure step titles and attachments, the
listener records, and a report directory written the way diagnostics write it (redacted copies
of a raw log tree, redacted manifests). tests/test_redaction_writers.py does the same for the
report writers and the terminal. The number of generated cases per family is printed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import allure
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import programs.runner
from clusters.kubeconfig import register_secrets
from programs.redaction import Redactor, copy_tree_redacted
from programs.runner import CommandError, CommandRecord, CommandRunner
from tests.redaction_families import FAMILY_NAMES, FILLER, Case, cases, leaks

CASES = 2000


class _Echo:
    """A finished ``subprocess.Popen`` of a tool that prints $EICP_STDOUT (and the variable
    named by $EICP_ENV_NAME as NAME=value) on stdout, $EICP_STDERR on stderr, and exits 3."""

    pid = 2**22 + 1  # not a real process group: nothing is ever signalled

    def __init__(self, args: list[str], *, env: dict[str, str], **_: object) -> None:
        out = env.get("EICP_STDOUT", "") + "\n"
        name = env.get("EICP_ENV_NAME")
        if name:
            out += f"{name}={env[name]}\n"
        self._output = (out.encode(), (env.get("EICP_STDERR", "") + "\n").encode())
        self.returncode = 3

    def communicate(self, stdin: bytes | None = None, timeout: float | None = None) -> tuple[bytes, bytes]:
        return self._output


@dataclass
class Seen:
    """Everything the runner let a person see, collected through its outputs."""

    texts: list[str] = field(default_factory=list)

    def add(self, *texts: object) -> None:
        self.texts.extend(str(text) for text in texts)


class _Allure:
    """Stands in for the ``allure`` module inside the runner: records titles and attachments."""

    attachment_type = allure.attachment_type

    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.seen.add(title)
        yield

    def attach(self, body: str, name: str | None = None, attachment_type: object = None) -> None:
        self.seen.add(body, name)


class _Handler(logging.Handler):
    def __init__(self, seen: Seen) -> None:
        super().__init__(logging.DEBUG)
        self.seen = seen

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.add(self.format(record))


def test_no_generated_secret_survives_runner_outputs_or_report_dir(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    counted: dict[str, int] = {}
    seen = Seen()
    monkeypatch.setattr(programs.runner, "allure", _Allure(seen))
    # The command stands in for a tool that echoes what it was given, in this process: 2,000
    # process starts would cost more than the redaction under test (tests/test_runner.py runs
    # real processes through the same path).
    monkeypatch.setattr(
        programs.runner, "subprocess", SimpleNamespace(**{**vars(subprocess), "Popen": _Echo})
    )
    handler = _Handler(seen)
    scratch = tempfile.TemporaryDirectory(prefix="eicp-redaction-")
    root = Path(scratch.name)
    logging.getLogger("eicp.runner").addHandler(handler)
    logging.getLogger("eicp.runner").setLevel(logging.DEBUG)

    @settings(
        max_examples=CASES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        generated=cases(),
        before=FILLER,
        after=FILLER,
        where=st.sampled_from(("stdout", "stderr", "argv", "env", "json")),
        indent=st.sampled_from((None, 2, 4)),
    )
    def check(generated: tuple[str, Case], before: str, after: str, where: str, indent: int | None) -> None:
        family, case = generated
        counted[family] = counted.get(family, 0) + 1
        seen.texts.clear()
        redactor = Redactor(case.register)
        if case.kubeconfig is not None:
            register_secrets(case.kubeconfig, redactor)
        carried = f"{before}{case.text}{after}"
        transcript = root / "report" / "logs" / "commands.log"
        transcript.unlink(missing_ok=True)
        runner = CommandRunner(redactor=redactor, transcript=transcript)
        runner.add_listener(lambda record: seen.add(*_record_texts(record)))
        env = {"EICP_STDOUT": carried if where == "stdout" else "", "EICP_STDERR": carried}
        argv = ["echo-tool", "--header", carried if where == "argv" else "x"]
        if case.env_name is not None:
            env.update({"EICP_ENV_NAME": case.env_name, case.env_name: case.forbidden[0]})
        elif where == "env":
            env["CARRIED"] = carried
            env["EICP_STDOUT"] = f"CARRIED={carried}"
        elif where == "json":  # as `kubectl get configmap -o json` prints a document kept in one
            document = {"kind": "ConfigMap", "data": {"carried": carried}, "metadata": {"name": "x"}}
            env["EICP_STDOUT"] = json.dumps(document, indent=indent)
        with pytest.raises(CommandError) as raised:
            runner.run(argv, env=env, timeout_s=20)
        error = raised.value
        seen.add(error, error.stdout, error.stderr, error.stderr_tail, " ".join(error.argv))
        if where == "json" and case.env_name is None:  # redacted JSON stays JSON
            assert json.loads(error.stdout)["metadata"] == {"name": "x"}, error.stdout
        # Each case writes the same files again (no directory per case: the file system would
        # cost more than the redaction under test).
        _write_report_dir(root, redactor, carried, raised.value)
        report_texts = [path.read_text() for path in (root / "report").rglob("*") if path.is_file()]
        problems = leaks(case, seen.texts + report_texts)
        assert problems == [], "\n".join(problems[:5])

    try:
        check()
    finally:
        logging.getLogger("eicp.runner").removeHandler(handler)
        scratch.cleanup()
    total = sum(counted.values())
    line = f"redaction property test (runner): {total} generated cases, by family: {dict(sorted(counted.items()))}"
    with capsys.disabled():
        # stderr: a pytest-xdist worker's stdout does not reach the terminal, its stderr does.
        print(f"\n{line}", file=sys.stderr, flush=True)
    assert total >= CASES
    assert set(counted) == set(FAMILY_NAMES), "every family was generated"


def _record_texts(record: CommandRecord) -> list[str]:
    return [record.title, " ".join(record.argv), record.stdout, record.stderr]


def _write_report_dir(root: Path, redactor: Redactor, carried: str, error: CommandError) -> None:
    """What diagnostics and teardown write: a raw log tree copied redacted (kind export logs,
    cloud-provider-kind logs) and a redacted manifest holding the text in a ConfigMap."""
    raw = root / "raw"
    (raw / "node").mkdir(parents=True, exist_ok=True)
    (raw / "node" / "kubelet.log").write_text(f"I1121 kubelet: {carried}\n")
    (raw / "error.txt").write_text(str(error))
    copy_tree_redacted(raw, root / "report" / "diagnostics" / "kind-logs", redactor, max_bytes=1 << 20)
    manifest = {"kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"carried": carried}}
    text = yaml.safe_dump(redactor.redact_manifest(manifest))
    (root / "report" / "diagnostics" / "configmap.yaml").write_text(redactor.redact(text))
