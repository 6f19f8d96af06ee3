"""pytest plugin for the child runs of tests/test_kwok_tier_termination.py: says when a run
reaches each stage, so that the parent can send its signals there (layer 3: the stages run
for real against kwok clusters; only the moment is observed, and stages that take
milliseconds are held open for a few seconds so that a signal can land inside them).

Loaded with ``-p tests.kwok_stage_probe``; ``EICP_STAGE_PROBE`` names a directory where a
file per stage appears when the stage begins: ``creation`` (a ``kwokctl create cluster`` runs),
``install`` (the install's third step is done), ``istiod-start`` (an istiod stand-in's process
runs in its own network namespace, not ready yet: held open), ``gateway-start`` (the HAProxy
gateway stand-in runs, not yet known to listen: held open), ``checks`` (a check is running,
held open), ``diagnostics`` (collecting, held open), ``uninstall`` (its first undo runs),
``restore-check``, ``gateway-stop`` and ``istiod-stop`` (the stand-ins are being stopped) and
``cluster-deletion`` (the last four held open). With ``EICP_STAGE_PROBE_FAIL=1`` the check
fails, so that diagnostics run. The stand-ins start in their watcher threads; the signal goes
to the run's main thread, wherever it is in the install then.

It has no tests of its own (collected with the self-tests, it contributes nothing).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PROBE_ENV = "EICP_STAGE_PROBE"
FAIL_ENV = "EICP_STAGE_PROBE_FAIL"
HOLD_S = 4.0  # long enough for a signal sent when the marker appears to land inside the stage


def mark(stage: str) -> None:
    directory = os.environ.get(PROBE_ENV)
    if directory:
        (Path(directory) / stage).write_text(f"{time.time()}\n")


def _marking(stage: str, original: Callable[..., Any], hold_s: float = 0.0) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        mark(stage)
        time.sleep(hold_s)
        return original(*args, **kwargs)

    return wrapper


def pytest_configure(config: pytest.Config) -> None:
    if not os.environ.get(PROBE_ENV):
        return
    import clusters.kwok.gateway_proxy
    import clusters.kwok.istiod_host
    import clusters.kwok.kwokctl
    import clusters.kwok.provider
    import clusters.kwok.workloads
    import install.installer
    import install.session
    import install.snapshot
    import reports.diagnostics

    patch = pytest.MonkeyPatch()
    kwokctl = clusters.kwok.kwokctl.Kwokctl
    patch.setattr(kwokctl, "create", _marking("creation", kwokctl.create))
    installer = install.installer.Installer
    patch.setattr(installer, "uninstall", _marking("uninstall", installer.uninstall))
    verify = install.snapshot.verify_restored  # the name install/session.py imported
    patch.setattr(install.session, "verify_restored", _marking("restore-check", verify, HOLD_S))
    diagnostics = reports.diagnostics
    patch.setattr(
        diagnostics, "collect_diagnostics", _marking("diagnostics", diagnostics.collect_diagnostics, HOLD_S)
    )
    istiod = clusters.kwok.istiod_host.IstiodHost
    patch.setattr(istiod, "_wait_ready", _marking("istiod-start", istiod._wait_ready, HOLD_S))
    gateways = clusters.kwok.gateway_proxy.GatewayStandIns
    patch.setattr(gateways, "_wait_listening", _marking("gateway-start", gateways._wait_listening, HOLD_S))
    patch.setattr(gateways, "stop", _marking("gateway-stop", gateways.stop, HOLD_S))
    istiods = clusters.kwok.workloads.IstiodStandIns
    patch.setattr(istiods, "stop", _marking("istiod-stop", istiods.stop, HOLD_S))
    provider = clusters.kwok.provider.KwokProvider
    patch.setattr(provider, "_delete_all", _marking("cluster-deletion", provider._delete_all, HOLD_S))
    config.add_cleanup(patch.undo)


@pytest.hookimpl(optionalhook=True)
def pytest_eicp_step_recorded(label: str, record: Any, index: int, total: int) -> None:
    if record.phase == "install" and index == 3:
        mark("install")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    if not os.environ.get(PROBE_ENV) or "installed_scenario" not in getattr(item, "fixturenames", ()):
        return
    mark("checks")
    time.sleep(HOLD_S)
    if os.environ.get(FAIL_ENV):
        raise AssertionError("failing on purpose (tests/kwok_stage_probe.py): diagnostics follow")
