"""An append-only file that never leaves a torn record behind a failed write.

A full disk can accept part of a write. If the next write then succeeded, every later record
would be misaligned. So after any failure the file is cut back to the last whole record
(``good_size``) and the unwritten chunks are kept for the next attempt.
"""

from __future__ import annotations

import collections
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(slots=True)
class Chunk:
    """Whole records ready for disk: ``count`` samples or rows spanning ``first_s..last_s``.

    Not frozen: a frozen dataclass's ``__init__`` costs several times more, and every flush
    makes one per stream and table. Nothing changes a chunk after it is made.
    """

    data: bytes | memoryview
    """A memoryview when packed from an array: the bytes are not copied again before the write."""
    count: int
    first_s: float = float("nan")
    last_s: float = float("nan")


class AppendFile:
    """Not thread-safe: the recording writer serialises all I/O under its own lock."""

    def __init__(self, path: Path, header: bytes = b"", *, holds: str = "records") -> None:
        self.path = path
        self.holds = holds
        """What a count of this file's chunks means: ``samples``, ``records`` or ``order`` entries."""
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        self.good_size = 0
        self.broken = False
        self.retained: collections.deque[Chunk] = collections.deque()
        self.retained_bytes = 0
        if header:
            self.add(Chunk(header, 0))
            try:
                self.write_out()
            except OSError:
                self.close()
                raise

    def add(self, chunk: Chunk) -> None:
        self.retained.append(chunk)
        self.retained_bytes += len(chunk.data)

    def write_out(self) -> int:
        """Write every retained chunk; returns the records written.

        On OSError the file is truncated back to its last whole record, the chunks not yet on
        disk stay retained, and the error propagates.
        """
        written = 0
        try:
            while self.retained:
                chunk = self.retained[0]
                view = memoryview(chunk.data)
                while view:
                    n = os.write(self._fd, view)
                    if n <= 0:
                        raise OSError(f"short write to {self.path}")
                    view = view[n:]
                self.good_size += len(chunk.data)
                self.retained.popleft()
                self.retained_bytes -= len(chunk.data)
                written += chunk.count
        except OSError:
            self._cut_back()
            raise
        return written

    def _cut_back(self) -> None:
        try:
            os.ftruncate(self._fd, self.good_size)
        except OSError:
            # A torn record may now sit mid-file: appending more would misalign the rest.
            self.broken = True

    def drop_retained(self) -> list[Chunk]:
        dropped = list(self.retained)
        self.retained.clear()
        self.retained_bytes = 0
        return dropped

    def fsync(self) -> None:
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)
