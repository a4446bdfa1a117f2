"""A bounded, ordered, crash-safe on-disk queue of line-protocol batches.

One file per batch, named ``<sequence>-<points>.lp``: the sequence gives the order, the point
count makes the totals known without reading files. Each file is written to a temporary name,
fsync'd, renamed and the folder fsync'd, so after a crash a batch is either whole or absent.
Batches left by an earlier run are found on open and sent first: an outage that outlives the
process loses nothing either. Batches the server refuses outright go to ``rejected/`` for a
human to look at instead of blocking the queue forever.

Methods block on disk I/O; the sink calls them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import os
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path

_NAME = re.compile(r"^(\d{16})-(\d+)\.lp$")


@dataclass(frozen=True, slots=True)
class SpoolEntry:
    path: Path
    seq: int
    points: int
    size_bytes: int


class Spool:
    """FIFO of batches in ``path``; refuses a batch that would take it past ``max_bytes``."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._entries: deque[SpoolEntry] = deque()
        self._next_seq = 0
        self.size_bytes = 0
        self.points = 0

    def open(self) -> None:
        """Create the folder, drop half-written files, and index batches left by earlier runs."""
        self.path.mkdir(parents=True, exist_ok=True)
        found = []
        for p in self.path.iterdir():
            if p.suffix == ".tmp":
                p.unlink(missing_ok=True)
                continue
            m = _NAME.match(p.name)
            if m:
                found.append(SpoolEntry(p, int(m.group(1)), int(m.group(2)), p.stat().st_size))
        found.sort(key=lambda e: e.seq)
        self._entries = deque(found)
        self._next_seq = found[-1].seq + 1 if found else 0
        self.size_bytes = sum(e.size_bytes for e in found)
        self.points = sum(e.points for e in found)

    def __len__(self) -> int:
        return len(self._entries)

    def append(self, data: bytes, points: int) -> bool:
        """Durably add a batch at the tail; False (nothing written) when the spool is full."""
        if self.size_bytes + len(data) > self.max_bytes:
            return False
        seq = self._next_seq
        final = self.path / f"{seq:016d}-{points}.lp"
        tmp = final.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        self._fsync_dir()
        self._next_seq = seq + 1
        self._entries.append(SpoolEntry(final, seq, points, len(data)))
        self.size_bytes += len(data)
        self.points += points
        return True

    def head(self) -> SpoolEntry | None:
        return self._entries[0] if self._entries else None

    def read(self, entry: SpoolEntry) -> bytes:
        return entry.path.read_bytes()

    def pop(self, entry: SpoolEntry) -> None:
        """Remove the head batch once the server has it."""
        if not self._entries or self._entries[0] != entry:
            raise ValueError("only the head of the spool can be removed")
        self._entries.popleft()
        entry.path.unlink(missing_ok=True)
        self.size_bytes -= entry.size_bytes
        self.points -= entry.points

    def reject(self, entry: SpoolEntry) -> Path:
        """Move the head batch to ``rejected/`` (kept for inspection, never retried)."""
        if not self._entries or self._entries[0] != entry:
            raise ValueError("only the head of the spool can be rejected")
        self._entries.popleft()
        dest_dir = self.path / "rejected"
        dest_dir.mkdir(exist_ok=True)
        dest = dest_dir / entry.path.name
        os.replace(entry.path, dest)
        self.size_bytes -= entry.size_bytes
        self.points -= entry.points
        return dest

    def _fsync_dir(self) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
