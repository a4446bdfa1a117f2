"""Counters of a recording in progress, for the status page and the end-of-run summary."""

from __future__ import annotations

from dataclasses import dataclass


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
