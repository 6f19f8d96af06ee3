"""Property-based proof that no secret of a known shape survives what the suite writes.

Hypothesis generates secrets of every shape the redactor knows, embeds each in random text, in a command's argv, in
its environment and in YAML/JSON documents, runs a command through ``CommandRunner`` that
prints them on stdout and stderr and fails (an in-process stand-in for the process), and then looks for the secret in everything
that reaches a person: the runner's log, the ``CommandError`` text, the command transcript,
the Allure step titles and attachments, the listener records, and a report directory written
the way diagnostics write it (redacted copies of a raw log tree, redacted manifests).
The number of generated cases is printed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import allure
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import programs.runner
from clusters.kubeconfig import register_secrets
from programs.redaction import Redactor, copy_tree_redacted
from programs.runner import CommandError, CommandRecord, CommandRunner

CASES = 2000
# Secrets are upper case and digits, the text around them lower case and punctuation: a
# secret can never appear by accident in the filler, nor be assembled from it.
SECRET = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=16, max_size=48)
FILLER = st.text(alphabet="abcdefghijklmnopqrstuvwxyz .,;:()-\n", max_size=40)
KEYS = ("token", "password", "client-key-data", "client-secret", "refresh-token", "access_token", "api-key")
ENV_KEYS = ("GITHUB_TOKEN", "DB_PASSWORD", "MY_SECRET", "AWS_SECRET_ACCESS_KEY", "API_KEY", "VAULT_TOKEN")


@dataclass
class Case:
    """One generated secret: the text that carries it and the strings that must not survive."""

    shape: str
    text: str
    forbidden: list[str]
    register: list[str] = field(default_factory=list)
    kubeconfig: dict[str, Any] | None = None
    env_name: str | None = None


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def wrap(text: str, width: int, indent: str = "") -> str:
    return f"\n{indent}".join(text[i : i + width] for i in range(0, len(text), width))


Draw = st.DrawFn


def _bearer(draw: Draw, secret: str, key: str) -> Case:
    lead = draw(st.sampled_from(("Authorization: Bearer ", "bearer ", "-H 'Bearer ")))
    return Case("bearer", lead + secret, [secret])


def _jwt(draw: Draw, secret: str, key: str) -> Case:
    return Case("jwt", f"eyJhbGciOiJSUzI1NiJ9.{secret}.{secret[::-1]}", [secret, secret[::-1]])


def _jwt_wrapped(draw: Draw, secret: str, key: str) -> Case:
    width = draw(st.integers(min_value=8, max_value=40))
    jwt = wrap(
        f"eyJhbGciOiJSUzI1NiJ9.{secret}.{secret[::-1]}", width, draw(st.sampled_from(("", "  ", "\t")))
    )
    return Case("jwt-wrapped", jwt, [secret, secret[::-1]])


def _pem(draw: Draw, secret: str, key: str, *, as_repr: bool = False) -> Case:
    kind = draw(st.sampled_from(("", "RSA ", "EC ")))
    body = wrap((secret * 4)[:128], 64)
    pem = f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----\n"
    return Case("pem-repr" if as_repr else "pem", repr(pem) if as_repr else pem, body.splitlines())


def _userinfo(draw: Draw, secret: str, key: str) -> Case:
    user = draw(st.sampled_from(("user:", "x-access-token:", "")))
    return Case("userinfo", f"https://{user}{secret}@git.example.test/org/repo.git", [secret])


def _query(draw: Draw, secret: str, key: str) -> Case:
    param = draw(st.sampled_from(("access_token", "token")))
    return Case("query", f"https://api.example.test/v1/x?a=1&{param}={secret}&b=2", [secret])


def _basic(draw: Draw, secret: str, key: str) -> Case:
    encoded = b64(f"admin:{secret}")
    return Case("basic", f"Authorization: Basic {encoded}", [encoded])


def _repr(draw: Draw, secret: str, key: str) -> Case:
    return Case("repr", repr({"name": "x", key: secret}), [secret])


def _flow_yaml(draw: Draw, secret: str, key: str) -> Case:
    text = yaml.safe_dump({"users": [{"user": {key: secret}}]}, default_flow_style=True)
    return Case("flow-yaml", text, [secret])


def _block_yaml(draw: Draw, secret: str, key: str) -> Case:
    return Case("block-yaml", yaml.safe_dump({"users": [{"name": "x", "user": {key: secret}}]}), [secret])


def _json(draw: Draw, secret: str, key: str) -> Case:
    indent = draw(st.sampled_from((None, 2)))
    return Case("json", json.dumps({"kind": "Config", "user": {key: secret}}, indent=indent), [secret])


def _env_line(draw: Draw, secret: str, key: str) -> Case:
    quote = draw(st.sampled_from(("", '"', "'")))
    return Case("env-line", f"{draw(st.sampled_from(ENV_KEYS))}={quote}{secret}{quote}", [secret])


def _env_var(draw: Draw, secret: str, key: str) -> Case:
    return Case("env-var", "", [secret], env_name=draw(st.sampled_from(ENV_KEYS)))


def _kubeconfig_client_secret(draw: Draw, secret: str, key: str) -> Case:
    user = {"auth-provider": {"name": "oidc", "config": {"client-id": "x", "client-secret": secret}}}
    return Case(
        "kubeconfig-client-secret", secret, [secret], kubeconfig={"users": [{"name": "u", "user": user}]}
    )


def _kubeconfig_exec_env(draw: Draw, secret: str, key: str) -> Case:
    user = {"exec": {"command": "helper", "env": [{"name": "HELPER_INPUT", "value": secret}]}}
    return Case("kubeconfig-exec-env", secret, [secret], kubeconfig={"users": [{"name": "u", "user": user}]})


def _registered(draw: Draw, secret: str, key: str) -> Case:
    return Case("registered", secret, [secret], register=[secret])


def _registered_b64(draw: Draw, secret: str, key: str, *, newline: bool = False) -> Case:
    encoded = b64(secret + ("\n" if newline else ""))
    return Case(
        "registered-b64-newline" if newline else "registered-b64", encoded, [encoded], register=[secret]
    )


def _kubeconfig_b64(draw: Draw, secret: str, key: str) -> Case:
    kubeconfig = yaml.safe_dump({"apiVersion": "v1", "users": [{"name": "u", "user": {"token": secret}}]})
    encoded = b64(kubeconfig)
    return Case("kubeconfig-b64", draw(st.sampled_from((encoded, wrap(encoded, 76)))), [encoded[:40], secret])


SHAPES: tuple[Callable[[Draw, str, str], Case], ...] = (
    _bearer, _jwt, _jwt_wrapped, _pem, partial(_pem, as_repr=True), _userinfo, _query, _basic, _repr,
    _flow_yaml, _block_yaml, _json, _env_line, _env_var, _kubeconfig_client_secret, _kubeconfig_exec_env,
    _registered, _registered_b64, partial(_registered_b64, newline=True), _kubeconfig_b64,
)  # fmt: skip


@st.composite
def cases(draw: Draw) -> Case:
    build = draw(st.sampled_from(SHAPES))
    return build(draw, draw(SECRET), draw(st.sampled_from(KEYS)))


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


def leaks(case: Case, texts: list[str]) -> list[str]:
    found = []
    for text in texts:
        joined = re.sub(r"\\n|\s", "", text)  # a secret wrapped over lines survives too
        found += [
            f"{case.shape}: {bad!r} in {text[:300]!r}"
            for bad in case.forbidden
            if bad in text or bad in joined
        ]
    return found


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
        case=cases(), before=FILLER, after=FILLER, where=st.sampled_from(("stdout", "stderr", "argv", "env"))
    )
    def check(case: Case, before: str, after: str, where: str) -> None:
        counted[case.shape] = counted.get(case.shape, 0) + 1
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
        with pytest.raises(CommandError) as raised:
            runner.run(argv, env=env, timeout_s=20)
        error = raised.value
        seen.add(error, error.stdout, error.stderr, error.stderr_tail, " ".join(error.argv))
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
    line = f"redaction property test: {total} generated cases, by shape: {dict(sorted(counted.items()))}"
    with capsys.disabled():
        # stderr: a pytest-xdist worker's stdout does not reach the terminal, its stderr does.
        print(f"\n{line}", file=sys.stderr, flush=True)
    assert total >= CASES
    assert len(counted) == len(SHAPES), "every shape was generated"


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
