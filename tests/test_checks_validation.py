"""Validation evaluator, proved both ways; the probes themselves checked by Istio's own validation."""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from programs.runner import CommandRunner
from suites.evaluation.evaluators.validation import (
    ProbeOutcome,
    ProbePlan,
    evaluate_validation,
    parse_denial,
    probes,
    selector_labels,
)
from tests import checks_fakes as fake

D = fake.DIAGNOSTICS
EXPECTED_CONFIGS = ("istio-validator-external-istiod", "istiod-default-validator")

# What kubectl prints when a validating webhook denies a create (apiserver's admission error).
DENIED = (
    'Error from server (BadRequest): error when creating "STDIN": admission webhook "{webhook}" '
    "denied the request: configuration is invalid: {reason}\n"
)
SCHEMA_REJECTED = (
    'The VirtualService "eicp-validation-probe-invalid-vs" is invalid: spec.http[0].route[0].destination.host: '
    "Required value\n"
)


def _validating() -> fake.Obj:
    return fake.healthy_webhooks(fake.ip_passthrough())[1]


def _outcome(
    key: str, returncode: int, stderr: str = "", labels: dict[str, str] | None = None
) -> ProbeOutcome:
    probe = next(p for p in probes("sample", labels or {}) if p.key == key)
    stdout = (
        f"{probe.kind.lower()}.networking.istio.io/{probe.name} created (server dry run)\n"
        if returncode == 0
        else ""
    )
    return ProbeOutcome(probe, labels or {}, returncode, stdout, stderr)


def _healthy() -> list[ProbeOutcome]:
    return [
        _outcome(
            "invalid-virtualservice",
            1,
            DENIED.format(webhook="validation.istio.io", reason="invalid destination host *"),
        ),
        _outcome(
            "invalid-destinationrule",
            1,
            DENIED.format(webhook="rev.validation.istio.io", reason="subset name is invalid: Not_A_Subset"),
            {"istio.io/rev": "default"},
        ),
        _outcome("valid-virtualservice", 0),
        _outcome("valid-destinationrule", 0),
    ]


def _evaluate(
    outcomes: list[ProbeOutcome], leftovers: list[str] | None = None, validating: Any = None
) -> Any:
    return evaluate_validation(
        "remote",
        outcomes,
        _validating() if validating is None else validating,
        EXPECTED_CONFIGS,
        leftovers or [],
        diagnostics=D,
    )


def test_healthy_webhook_passes() -> None:
    verdict = _evaluate(_healthy())
    assert verdict.ok, verdict.message


def test_webhook_admitting_invalid_resource_fails() -> None:
    outcomes = _healthy()
    outcomes[0] = _outcome("invalid-virtualservice", 0)
    verdict = _evaluate(outcomes)
    assert not verdict.ok
    assert "invalid VirtualService eicp-validation-probe-invalid-vs was admitted" in verdict.message
    assert verdict.evidence["remote-probes"][0]["returncode"] == 0  # the probe and answer are attached


def test_rejection_by_schema_is_not_the_webhook() -> None:
    outcomes = _healthy()
    outcomes[0] = _outcome("invalid-virtualservice", 1, SCHEMA_REJECTED)
    assert "rejected, but not by an admission webhook" in _evaluate(outcomes).message


def test_rejection_by_another_webhook_or_message_fails() -> None:
    outcomes = _healthy()
    outcomes[0] = _outcome(
        "invalid-virtualservice",
        1,
        DENIED.format(webhook="policy.example.com", reason="invalid destination host *"),
    )
    outcomes[1] = _outcome(
        "invalid-destinationrule",
        1,
        'Error from server: admission webhook "validation.istio.io" denied the request: unknown field "bogus"\n',
    )
    message = _evaluate(outcomes).message
    assert "denied by webhook 'policy.example.com'" in message
    assert "expected istiod's 'configuration is invalid: ...subset name is invalid...'" in message


def test_valid_resource_rejected_fails() -> None:
    outcomes = _healthy()
    outcomes[2] = _outcome(
        "valid-virtualservice",
        1,
        'Error from server (InternalError): failed calling webhook "validation.istio.io"',
    )
    assert "valid VirtualService eicp-validation-probe-valid-vs was rejected" in _evaluate(outcomes).message


def test_leftovers_and_missing_configs_fail() -> None:
    assert (
        "dry run left VirtualService sample/x behind"
        in _evaluate(_healthy(), ["VirtualService sample/x"]).message
    )
    assert (
        "none of the expected validating configurations"
        in _evaluate(_healthy(), validating=fake.as_list()).message
    )
    assert "no probe was sent" in _evaluate([]).message


def test_parse_denial() -> None:
    denial = parse_denial(DENIED.format(webhook="rev.validation.istio.io", reason="x"))
    assert denial is not None
    assert denial.webhook == "rev.validation.istio.io"
    assert denial.message == "configuration is invalid: x"
    assert parse_denial(SCHEMA_REJECTED) is None


def test_probe_plan_targets_each_validator() -> None:
    validating = _validating()
    assert selector_labels(validating["items"][0]) == {"istio.io/rev": "default"}
    assert ProbePlan.for_configs(validating, EXPECTED_CONFIGS).label_sets == [{"istio.io/rev": "default"}, {}]
    assert ProbePlan.for_configs(fake.as_list(), EXPECTED_CONFIGS).label_sets == [{}]
    labelled = probes("sample", {"istio.io/rev": "default"})
    assert all(p.manifest["metadata"]["labels"] == {"istio.io/rev": "default"} for p in labelled)
    assert {p.valid for p in labelled} == {True, False}


def _crd_schemas(path: Path) -> dict[str, Any]:
    schemas = {}
    for doc in yaml.safe_load_all(path.read_text()):
        if doc and doc["spec"]["names"]["kind"] in ("VirtualService", "DestinationRule"):
            version = next(v for v in doc["spec"]["versions"] if v["name"] == "v1")
            schemas[doc["spec"]["names"]["kind"]] = version["schema"]["openAPIV3Schema"]
    return schemas


@pytest.mark.realtools
def test_probes_judged_by_istios_own_validation(real_tool: Any, tmp_path: Path) -> None:
    """``istioctl validate`` runs the validation istiod's webhook runs: invalid probes fail with the
    reason the check expects, valid ones pass; and every probe passes the CRD's OpenAPI schema,
    so on a cluster only the webhook can reject the invalid ones."""
    istioctl = real_tool("istioctl-offline")
    runner = CommandRunner(default_timeout_s=120)
    for probe in probes("sample", {"istio.io/rev": "default"}):
        path = tmp_path / f"{probe.key}.yaml"
        path.write_text(yaml.safe_dump(probe.manifest))
        result = runner.run([str(istioctl.path), "validate", "-f", str(path)], check=False, attach=False)
        if probe.valid:
            assert result.returncode == 0, result.stderr
        else:
            assert result.returncode != 0
            assert probe.reason is not None
            assert probe.reason in result.stdout + result.stderr
    modcache = os.environ.get("GOMODCACHE", str(Path.home() / "go" / "pkg" / "mod"))
    crds = sorted(glob.glob(f"{modcache}/istio.io/istio@*/manifests/charts/base/files/crd-all.gen.yaml"))
    if not crds:
        pytest.skip(
            "istioctl came as a binary: no Istio source tree with the CRDs to check the schema against"
        )
    schemas = _crd_schemas(Path(crds[-1]))
    for probe in probes("sample", {}):
        jsonschema.validate(probe.manifest, schemas[probe.kind])
    # The schema is not vacuous: a route without a destination is the API server's to reject.
    schema_invalid = {"spec": {"hosts": ["h"], "http": [{"route": [{"weight": 100}]}]}}
    with pytest.raises(jsonschema.ValidationError, match="'destination' is a required property"):
        jsonschema.validate(schema_invalid, schemas["VirtualService"])
