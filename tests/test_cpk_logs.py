"""cloud-provider-kind's logs reach the report directory redacted while it runs, never raw."""

from __future__ import annotations

import time
from pathlib import Path

from clusters.kind.cloud_provider_kind import CloudProviderKind
from clusters.kind.cpk_logs import RedactedLogs
from programs.redaction import Redactor
from programs.runner import CommandRunner
from tests.report_support import BEARER_TOKEN, PRIVATE_KEY, leaks

# Writes to its log at once (and into its --logs-dir, as the load-balancer log dumping does),
# then runs until it is stopped.
DAEMON = f"""#!/bin/sh
logs=""
while [ $# -gt 0 ]; do [ "$1" = --logs-dir ] && logs="$2"; shift; done
echo "I1121 controller.go:42] calling the API with Authorization: Bearer {BEARER_TOKEN}"
mkdir -p "$logs/kindccm-abc" && printf '%s\\n' "{PRIVATE_KEY}" > "$logs/kindccm-abc/envoy.log"
exec sleep 300
"""


def test_logs_are_published_redacted_while_running_and_raw_ones_removed_at_stop(tmp_path: Path) -> None:
    daemon = tmp_path / "cloud-provider-kind"
    daemon.write_text(DAEMON)
    daemon.chmod(0o755)
    report_logs = tmp_path / "report" / "logs"
    cpk = CloudProviderKind(
        daemon,
        state_dir=tmp_path / "state",
        log_dir=report_logs,
        runner=CommandRunner(Redactor()),
        docker=None,
        own_clusters=list,
        run_id="1121000000",
        worker="main",
        startup_grace_s=0.3,
    )
    cpk.logs.interval_s = 0.2
    cpk.ensure_started()
    try:
        copy = report_logs / "cloud-provider-kind.log"
        deadline = time.monotonic() + 10
        while not (copy.exists() and "calling the API" in copy.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        # While the daemon runs, the report holds a redacted copy; the raw log is private.
        assert "Authorization: Bearer <redacted>" in copy.read_text()
        assert BEARER_TOKEN in cpk.logs.raw_log.read_text()
        assert (cpk.logs.raw_dir.stat().st_mode & 0o777) == 0o700
        assert not cpk.logs.raw_dir.is_relative_to(tmp_path / "report")
        assert leaks(tmp_path / "report") == []
    finally:
        assert cpk.release() == "stopped"
    assert (report_logs / "cloud-provider-kind-lb" / "kindccm-abc" / "envoy.log").is_file()
    assert leaks(tmp_path / "report") == []
    assert not cpk.logs.raw_dir.exists()  # the raw logs went with the daemon


def test_tail_is_redacted(tmp_path: Path) -> None:
    logs = RedactedLogs(tmp_path / "raw", tmp_path / "r.log", tmp_path / "lb", Redactor())
    logs.prepare()
    logs.raw_log.write_text(f"one\nAuthorization: Bearer {BEARER_TOKEN}\n")
    assert logs.tail(1) == "Authorization: Bearer <redacted>"
