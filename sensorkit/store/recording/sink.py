"""RecordingSink: the bus-facing, async side of a recording.

Items are buffered on the event loop (a list append each); packing and ``write(2)`` run in a
worker thread, one flush at a time, at least every ``flush_interval_s``. The sink never
drops data to keep up: if buffering outruns the disk it waits for the flush in flight, which
backs up its BLOCK channel and slows the pipeline instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sensorkit.errors import RecordingError
from sensorkit.model import RECORD_TYPES, BusItem, Gap, SampleBlock, SessionInfo, SpeedSample
from sensorkit.pipeline.channel import OverflowPolicy
from sensorkit.store.recording.settings import RecordingSettings
from sensorkit.store.recording.stats import RecordingStats
from sensorkit.store.recording.writer import RecordingWriter

log = logging.getLogger(__name__)

_HIGH_WATER_BYTES = 2 << 20
"""Pending bytes that trigger a flush before the interval is up. Live, a flush interval's worth
stays below it (~1 MB for 55 runners); at maximum replay speed the interval holds minutes of
data, and the pending buffer plus the batch in the flush thread set the peak memory (3-hour
marathon: 149-151 MB with 8 MB here, 143-144 MB with 2 MB, no slower)."""


class RecordingSink:
    """Records every bus item of a session into ``path`` (a new ``NAME.skrec`` directory).

    ``__aenter__`` creates the recording and raises :class:`RecordingError` if it cannot; once
    running, write failures are logged and counted (see :meth:`stats`) and never end the session.
    """

    accepts: tuple[type, ...] = (SampleBlock, Gap, SpeedSample, *RECORD_TYPES)
    policy = OverflowPolicy.BLOCK

    def __init__(
        self,
        path: str | Path,
        info: SessionInfo,
        *,
        settings: RecordingSettings | None = None,
        config: Mapping[str, Any] | None = None,
        name: str = "recording",
        overwrite: bool = False,
    ) -> None:
        self.settings = settings or RecordingSettings()
        self.path = Path(path)
        self.info = info
        self.name = name
        self.queue_size = self.settings.queue_size
        self._config = config
        self._overwrite = overwrite
        self._writer: RecordingWriter | None = None
        self._done = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self.errors = 0
        """Unexpected failures inside the sink (bugs), logged with a traceback and survived."""

    @classmethod
    def from_settings(cls, settings: RecordingSettings, info: SessionInfo, *,
                      config: Mapping[str, Any] | None = None) -> RecordingSink:
        """A sink writing to ``settings.path_for(info)``."""
        return cls(settings.path_for(info), info, settings=settings, config=config)

    @property
    def writer(self) -> RecordingWriter:
        if self._writer is None:
            raise RecordingError(f"{self.path}: recording sink used outside 'async with'")
        return self._writer

    def stats(self) -> RecordingStats | None:
        return None if self._writer is None else self._writer.stats()

    async def __aenter__(self) -> Self:
        if self._writer is not None:
            raise RecordingError(f"{self.path}: recording sink entered twice")
        s = self.settings
        self._writer = await asyncio.to_thread(
            RecordingWriter, self.path, self.info, config=self._config,
            flush_interval_s=s.flush_interval_s, fsync=s.fsync, channel_dtype=s.channel_dtype,
            max_buffer_bytes=int(s.max_buffer_mb * (1 << 20)), auto_flush=False, overwrite=self._overwrite)
        log.info("recording to %s", self.path)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        writer = self.writer
        async with self._flush_lock:  # wait for a flush still in flight
            try:
                await asyncio.to_thread(writer.close)
            except asyncio.CancelledError:
                writer.close()  # idempotent; waits for the worker thread's I/O lock
                raise
        st = writer.stats()
        log.info("recording closed: %s (%d samples, %d records, %d write errors, %d samples dropped)",
                 self.path, st.samples_written, st.records_written, st.write_errors, st.dropped_samples)

    async def consume(self, items: AsyncIterable[BusItem]) -> None:
        writer = self.writer
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._flush_loop(), name=f"{self.name}:flush")
            try:
                async for item in items:
                    try:
                        writer.write(item)
                    except Exception:
                        self._failed("buffering an item")
                    if writer.pending_bytes >= _HIGH_WATER_BYTES:
                        await self._flush()  # backpressure instead of unbounded memory
            finally:
                self._done.set()

    async def _flush_loop(self) -> None:
        while not self._done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done.wait(), self.settings.flush_interval_s)
            await self._flush()

    async def _flush(self) -> None:
        writer = self.writer
        async with self._flush_lock:
            try:
                await asyncio.to_thread(writer.write_batch, writer.take())
            except Exception:
                self._failed("flushing")

    def _failed(self, what: str) -> None:
        self.errors += 1
        if self.errors <= 10:
            log.exception("recording %s: unexpected error while %s; the session goes on", self.path, what)
