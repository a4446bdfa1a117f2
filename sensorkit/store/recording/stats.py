"""Counters of a recording in progress, for the status page and the end-of-run summary."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecordingStats:
    """A snapshot. ``failing`` is True while the last write attempt failed (disk full, I/O error)."""

    path: str
    samples_received: int
    records_received: int
    samples_written: int
    records_written: int
    bytes_written: int
    flushes: int
    write_errors: int
    dropped_samples: int
    """Samples given up after the retry buffer overflowed; each loss is also recorded as a gap."""
    dropped_records: int
    retained_bytes: int
    """Data that failed to write and waits for the next attempt."""
    unsupported_items: int
    dropped_channels: int
    """Samples of a channel the stream has no column for (e.g. magnetometer on a no-mag sensor)."""
    failing: bool
    last_error: str | None


class IoCounters:
    """What happened on disk, updated by the writer's I/O side; logs failure episodes once.

    A failure episode starts with one error line, repeats a summary every ``report_every_s``
    while it lasts and ends with one recovery line, so a full disk cannot flood the log.
    """

    def __init__(self, path: str, buffer_mb: int, report_every_s: float = 30.0) -> None:
        self.path = path
        self.buffer_mb = buffer_mb
        self.report_every_s = report_every_s
        self.samples_written = self.records_written = self.bytes_written = 0
        self.flushes = self.write_errors = self.dropped_samples = self.dropped_records = 0
        self.failing_since: float | None = None
        self.last_error: str | None = None
        self._last_report = 0.0

    def failed(self, exc: OSError, retained_bytes: int) -> None:
        self.write_errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        now = time.monotonic()
        if self.failing_since is None:
            self.failing_since = self._last_report = now
            log.error("recording %s: cannot write (%s); the session goes on, data is kept in memory "
                      "(up to %d MB) and written when the disk accepts it again",
                      self.path, self.last_error, self.buffer_mb)
        elif now - self._last_report >= self.report_every_s:
            self._last_report = now
            log.error("recording %s: still failing (%s): %d write errors, %d bytes waiting, "
                      "%d samples and %d records dropped", self.path, self.last_error, self.write_errors,
                      retained_bytes, self.dropped_samples, self.dropped_records)

    def succeeded(self) -> None:
        if self.failing_since is not None:
            log.warning("recording %s: writing again after %.0f s of failures (%d samples and %d records "
                        "dropped in total)", self.path, time.monotonic() - self.failing_since,
                        self.dropped_samples, self.dropped_records)
            self.failing_since = None
