"""A stand-in pod's container log in the format ``kubectl logs`` reads through kwok's ``Logs``."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from run.timeouts import KWOK_LOG_FOLLOWER


class CriLog:
    """Follows a process's raw output file and rewrites it as a CRI log, the format kwok's
    ``Logs`` serves to ``kubectl logs`` (``<RFC 3339 time> stdout F <line>``)."""

    def __init__(self, raw: Path, cri: Path, poll_s: float = 0.5) -> None:
        self.raw, self.cri, self.poll_s = raw, cri, poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._offset = 0
        self._partial = b""

    def start(self) -> None:
        self.cri.parent.mkdir(parents=True, exist_ok=True)
        self.cri.touch()
        self._thread = threading.Thread(target=self._loop, name=f"eicp-cri-log-{self.raw.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=KWOK_LOG_FOLLOWER.seconds())
            self._thread = None
        self.pump(final=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.pump()

    def pump(self, *, final: bool = False) -> None:
        """Copy what the raw file gained since the last call (complete lines; all at the end)."""
        if not self.raw.exists():
            return
        with self.raw.open("rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = b"" if final else lines.pop()
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
        text = "".join(f"{stamp} stdout F {line.decode('utf-8', 'replace')}\n" for line in lines if line)
        if text:
            with self.cri.open("a", encoding="utf-8") as handle:
                handle.write(text)
