"""The cloud-provider-kind daemon's logs: written raw in private, published redacted.

The daemon writes its own log and its load-balancer logs (``--logs-dir``) into a private
directory (the suite's state directory, mode 0700), never into the report directory. Every
process that uses the daemon copies them through the redactor into its report directory
every ``PUBLISH_INTERVAL_S`` while it uses it, when it stops using it and when the daemon
stops; the raw files are deleted with the daemon (clusters/kind/cloud_provider_kind.py).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from programs.private_files import make_private_dir
from programs.redaction import Redactor, copy_redacted, copy_tree_redacted

log = logging.getLogger("eicp.cloud_provider_kind")

PUBLISH_INTERVAL_S = 2.0
MAX_LOG_BYTES = 20 * 1024 * 1024


@dataclass
class RedactedLogs:
    raw_dir: Path  # private: the daemon's own log and its load-balancer log directory
    report_log: Path
    report_lb_dir: Path
    redactor: Redactor
    interval_s: float = PUBLISH_INTERVAL_S
    _publishing: threading.Event = field(default_factory=threading.Event)
    _stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def raw_log(self) -> Path:
        return self.raw_dir / "cloud-provider-kind.log"

    @property
    def raw_lb_dir(self) -> Path:
        return self.raw_dir / "lb"

    def prepare(self) -> None:
        make_private_dir(self.raw_lb_dir)
        self.report_lb_dir.mkdir(parents=True, exist_ok=True)

    def publish(self) -> None:
        """Copy the logs, redacted, into the report directory (replacing the earlier copies)."""
        try:
            if self.raw_log.is_file():
                copy_redacted(self.raw_log, self.report_log, self.redactor, max_bytes=MAX_LOG_BYTES)
            if self.raw_lb_dir.is_dir():
                copy_tree_redacted(
                    self.raw_lb_dir, self.report_lb_dir, self.redactor, max_bytes=MAX_LOG_BYTES
                )
        except OSError as error:
            log.warning("could not copy the cloud-provider-kind logs into the report: %s", error)

    def start_publishing(self) -> None:
        if self._publishing.is_set():
            return
        self._publishing.set()
        self._stopped.clear()
        threading.Thread(target=self._publish_while_used, name="cpk-log-publisher", daemon=True).start()

    def stop_publishing(self) -> None:
        """The last copy of this process's use of the daemon."""
        self._publishing.clear()
        self._stopped.set()
        self.publish()

    def remove_raw(self) -> None:
        """The daemon is gone: a last redacted copy, then the raw logs go."""
        self.publish()
        shutil.rmtree(self.raw_dir, ignore_errors=True)

    def tail(self, lines: int) -> str:
        if not self.raw_log.exists():
            return ""
        text = "\n".join(self.raw_log.read_text(errors="replace").splitlines()[-lines:])
        return self.redactor.redact(text)

    def _publish_while_used(self) -> None:
        seen: tuple[float, int] | None = None
        while not self._stopped.wait(self.interval_s):
            with contextlib.suppress(OSError):
                stat = self.raw_log.stat()
                if (stat.st_mtime, stat.st_size) != seen and self._publishing.is_set():
                    seen = (stat.st_mtime, stat.st_size)
                    self.publish()
