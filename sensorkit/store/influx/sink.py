"""InfluxSink: the live pipeline's writer to InfluxDB; never blocks it, never loses what it took.

Inside ``consume`` three tasks share one small state (one event loop, no locks needed):

* the **reader** takes items off the sink's bus channel, formats them to line protocol and
  appends them to the open batch; it only waits when ``max_pending_points`` are already in
  memory, and then the bus channel (DROP_NEWEST) fills and counts drops instead of stalling
  the runners;
* the **ticker** closes the open batch every ``flush_interval_s`` so a quiet stream is not held;
* the **shipper** sends batches in order: first the on-disk spool (oldest), then memory. When a
  write fails it moves every batch in memory to the spool (fsync'd), backs off exponentially
  and retries the oldest batch; when the server is back it drains the spool in order. A batch
  the server refuses as malformed goes to ``rejected/`` in the spool folder.

Everything is counted in :class:`InfluxStats`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterable
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from sensorkit.errors import StoreError
from sensorkit.model import RECORD_TYPES, BusItem, Gap, SampleBlock, SessionInfo, SpeedSample
from sensorkit.pipeline.channel import Channel, OverflowPolicy
from sensorkit.store.influx.errors import InfluxAuthError, InfluxNotFound, InfluxRejected, InfluxUnavailable
from sensorkit.store.influx.schema import Encoded, PointEncoder, RawPart, format_raw_parts
from sensorkit.store.influx.settings import InfluxSettings, RawImuMode
from sensorkit.store.influx.spool import Spool, SpoolEntry
from sensorkit.store.influx.writer import Writer, make_writer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InfluxStats:
    """Counters of one sink (points unless named otherwise); all cumulative except the levels."""

    items_accepted: int = 0
    points_encoded: int = 0
    points_written: int = 0
    batches_written: int = 0
    points_spooled: int = 0
    points_retried: int = 0
    write_failures: int = 0
    points_dropped_spool_full: int = 0
    points_rejected: int = 0
    encode_errors: int = 0
    items_dropped_at_queue: int = 0
    """Bus items the sink's channel discarded because the sink was not taking them."""
    pending_points: int = 0
    spool_points: int = 0
    spool_bytes: int = 0
    spool_batches: int = 0
    server_up: bool = True
    last_error: str = ""
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class _Batch:
    """Points in arrival order; raw IMU parts stay numeric until :meth:`materialize` (off the loop)."""

    points: int
    records: list[bytes]
    raw: list[RawPart]
    series_tags: tuple[str, ...]
    data: bytes | None = None

    def materialize(self) -> bytes:
        if self.data is None:
            self.data = b"".join(self.records) + format_raw_parts(self.raw, self.series_tags)
            self.records, self.raw = [], []
        return self.data


class _BatchBuilder:
    def __init__(self, encoder: PointEncoder) -> None:
        self.encoder = encoder
        self.records: list[bytes] = []
        self.raw: list[RawPart] = []
        self.points = 0

    def add(self, enc: Encoded | RawPart) -> None:
        if isinstance(enc, RawPart):
            self.raw.append(enc)
        else:
            self.records.append(enc.data)
        self.points += enc.points

    def take(self) -> _Batch | None:
        if not self.points:
            return None
        batch = _Batch(self.points, self.records, self.raw, tuple(self.encoder.series_tags))
        self.records, self.raw, self.points = [], [], 0
        return batch


def accepted_types(settings: InfluxSettings) -> tuple[type, ...]:
    raw: tuple[type, ...] = () if settings.raw_imu is RawImuMode.OFF else (SampleBlock,)
    return (*RECORD_TYPES, Gap, SpeedSample, *raw)


class InfluxSink:
    """A :class:`sensorkit.pipeline.contracts.Sink` writing one session to InfluxDB.

    ``writer`` replaces the writer built from ``settings`` (tests wrap the real one).
    Start-up raises :class:`StoreError` for a refused token, a missing bucket/database or a
    URL that cannot work; a server that is merely down is logged and spooled for.
    """

    name = "influx"

    def __init__(self, settings: InfluxSettings, info: SessionInfo, *, writer: Writer | None = None) -> None:
        self.settings = settings
        self.info = info
        self.accepts = accepted_types(settings)
        self.policy = OverflowPolicy.DROP_NEWEST
        self.queue_size = settings.queue_size
        self._writer = writer or make_writer(settings)
        self._stack: AsyncExitStack | None = None
        self._spool = Spool(settings.spool_path(), int(settings.spool_max_mb * 1e6))
        self._encoder = PointEncoder(info, settings.raw_imu, settings.raw_imu_rate_hz,
                                     settings.numeric_fields_only)
        self._builder = _BatchBuilder(self._encoder)
        self._pending: deque[_Batch] = deque()
        self._pending_points = 0
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._input_done = asyncio.Event()
        self._channel: Channel[BusItem] | None = None
        self._c: dict[str, int] = dict.fromkeys(
            ("items_accepted", "points_encoded", "points_written", "batches_written", "points_spooled",
             "points_retried", "write_failures", "points_dropped_spool_full", "points_rejected",
             "encode_errors"), 0)
        self._up = True
        self._last_error = ""
        self._last_error_kind: type[BaseException] | None = None
        self._last_loud_log = -1e9

    @property
    def spool_path(self) -> str:
        return str(self._spool.path)

    def stats(self) -> InfluxStats:
        dropped = self._channel.stats().dropped if self._channel is not None else 0
        return InfluxStats(
            **self._c, items_dropped_at_queue=dropped,
            pending_points=self._pending_points + self._builder.points,
            spool_points=self._spool.points, spool_bytes=self._spool.size_bytes,
            spool_batches=len(self._spool), server_up=self._up, last_error=self._last_error,
            skipped=dict(self._encoder.skipped))

    async def __aenter__(self) -> Self:
        if self._stack is not None:
            raise RuntimeError("InfluxSink is already open")
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(self._writer)
            try:
                await self._writer.check()
            except InfluxUnavailable as exc:
                if self.settings.require_server_at_start:
                    raise
                self._up, self._last_error, self._last_error_kind = False, str(exc), type(exc)
                log.warning("%s; the session goes on and spools to %s until it answers", exc, self.spool_path)
            await asyncio.to_thread(self._spool.open)
            if len(self._spool):
                log.info("%s: %d points (%d batches) left from an earlier run are sent first",
                         self._writer.target, self._spool.points, len(self._spool))
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        stack, self._stack = self._stack, None
        if self._pending or self._builder.points:
            # consume() was cancelled or failed: what was accepted goes to disk, not away.
            try:
                await self._spill()
            except Exception:
                log.exception("could not spool %d points on the way out", self._pending_points)
        if stack is not None:
            await stack.aclose()
        s = self.stats()
        log.info("%s: %d points written, %d spooled on the way, %d left in the spool, %d dropped "
                 "(spool full), %d rejected, %d items dropped at the queue", self._writer.target,
                 s.points_written, s.points_spooled, s.spool_points, s.points_dropped_spool_full,
                 s.points_rejected, s.items_dropped_at_queue)

    async def consume(self, items: AsyncIterable[BusItem]) -> None:
        if self._stack is None:
            raise RuntimeError("InfluxSink is not open: use `async with`")
        if isinstance(items, Channel):
            self._channel = items
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._read(items), name="influx:reader")
            tg.create_task(self._tick(), name="influx:ticker")
            tg.create_task(self._ship(), name="influx:shipper")

    # -- reader and ticker -------------------------------------------------------------------

    async def _read(self, items: AsyncIterable[BusItem]) -> None:
        try:
            async for item in items:
                self._c["items_accepted"] += 1
                try:
                    enc = self._encoder.encode(item)
                except Exception:
                    self._c["encode_errors"] += 1
                    if self._c["encode_errors"] == 1:
                        log.exception("cannot format a %s for InfluxDB; such items are skipped and "
                                      "counted", type(item).__name__)
                    continue
                if enc is not None:
                    self._c["points_encoded"] += enc.points
                    self._builder.add(enc)
                    if self._builder.points >= self.settings.batch_points:
                        self._cut()
                while self._pending_points >= self.settings.max_pending_points:
                    self._room.clear()
                    await self._room.wait()
        finally:
            self._cut()
            self._input_done.set()
            self._wake.set()

    def _cut(self) -> None:
        batch = self._builder.take()
        if batch is not None:
            self._pending.append(batch)
            self._pending_points += batch.points
            self._wake.set()

    async def _tick(self) -> None:
        while not self._input_done.is_set():
            try:
                await asyncio.wait_for(self._input_done.wait(), self.settings.flush_interval_s)
            except TimeoutError:
                self._cut()

    # -- shipper -----------------------------------------------------------------------------

    async def _ship(self) -> None:
        s = self.settings
        backoff_s = s.retry_initial_s
        drain_deadline: float | None = None
        while True:
            if self._input_done.is_set() and drain_deadline is None:
                drain_deadline = time.monotonic() + s.shutdown_drain_s
            if drain_deadline is not None and time.monotonic() > drain_deadline and (
                    self._pending or len(self._spool)):
                await self._spill()
                log.warning("%s: %d points stay in the spool %s and are sent at the next start",
                            self._writer.target, self._spool.points, self.spool_path)
                return
            entry: SpoolEntry | None = self._spool.head()
            if entry is not None and self._pending_points >= s.batch_points:
                await self._spill()  # live data queues behind the spool on disk, not in memory
            if entry is not None:
                data, points = await asyncio.to_thread(self._spool.read, entry), entry.points
            elif self._pending:
                data, points = await self._materialize(self._pending[0]), self._pending[0].points
            elif self._input_done.is_set():
                return
            else:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                await self._writer.write(data)
            except InfluxRejected as exc:
                await self._reject(entry, points, exc)
                continue
            except Exception as exc:  # a StoreError, or a client bug: either way keep the data and retry
                if not isinstance(exc, StoreError):
                    log.exception("unexpected error writing to %s; the batch is kept and retried",
                                  self._writer.target)
                self._c["write_failures"] += 1
                self._c["points_retried"] += points
                self._mark_down(exc)
                await self._spill()
                await self._backoff(backoff_s, drain_deadline)
                backoff_s = min(backoff_s * 2, s.retry_max_s)
                continue
            if entry is not None:
                await asyncio.to_thread(self._spool.pop, entry)
            else:
                self._pop_pending()
            self._c["points_written"] += points
            self._c["batches_written"] += 1
            backoff_s = s.retry_initial_s
            if not self._up:
                self._up = True
                log.warning("%s answers again; draining %d spooled points in order", self._writer.target,
                            self._spool.points)

    async def _materialize(self, batch: _Batch) -> bytes:
        """Format a batch's raw samples in a worker thread (Arrow releases the GIL)."""
        if batch.data is not None:
            return batch.data
        return await asyncio.to_thread(batch.materialize)

    def _pop_pending(self) -> _Batch:
        batch = self._pending.popleft()
        self._pending_points -= batch.points
        if self._pending_points < self.settings.max_pending_points:
            self._room.set()
        return batch

    async def _spill(self) -> None:
        """Move every batch in memory to the spool tail, oldest first (the spool stays ordered)."""
        self._cut()
        while self._pending:
            batch = self._pending[0]
            data = await self._materialize(batch)
            ok = await asyncio.to_thread(self._spool.append, data, batch.points)
            self._pop_pending()
            if ok:
                self._c["points_spooled"] += batch.points
            else:
                self._c["points_dropped_spool_full"] += batch.points
                self._loud(f"{self._writer.target}: spool {self.spool_path} is full "
                           f"({self._spool.size_bytes / 1e6:.0f} MB of spool_max_mb = "
                           f"{self.settings.spool_max_mb:g}); DROPPED {batch.points} points, "
                           f"{self._c['points_dropped_spool_full']} so far")

    async def _backoff(self, delay_s: float, deadline: float | None) -> None:
        """Wait before the next try, spilling new batches to disk meanwhile so memory stays small."""
        end = time.monotonic() + delay_s * random.uniform(0.8, 1.2)
        if deadline is not None:
            end = min(end, deadline + 0.01)
        while (left := end - time.monotonic()) > 0:
            self._wake.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(left, 0.5))
            if self._pending or self._builder.points >= self.settings.batch_points:
                await self._spill()

    async def _reject(self, entry: SpoolEntry | None, points: int, exc: StoreError) -> None:
        if entry is None:
            batch = self._pending[0]
            ok = await asyncio.to_thread(self._spool.append, await self._materialize(batch), batch.points)
            self._pop_pending()
            entry = self._spool.head() if ok and len(self._spool) == 1 else None
            if entry is None:  # could not keep it aside: count it as dropped, loudly
                self._c["points_dropped_spool_full"] += points
                self._loud(f"{exc}; {points} points DROPPED (could not keep them in the spool)")
                return
        dest = await asyncio.to_thread(self._spool.reject, entry)
        self._c["points_rejected"] += points
        self._loud(f"{exc}; {points} points kept in {dest} and not retried")

    def _mark_down(self, exc: BaseException) -> None:
        """Note a failed write; log when the server goes down or the reason changes (not every retry)."""
        message = str(exc) or type(exc).__name__
        self._last_error = message
        if self._up or type(exc) is not self._last_error_kind:
            log.warning("%s; spooling to %s and retrying with backoff", message, self.spool_path)
        self._up, self._last_error_kind = False, type(exc)
        if isinstance(exc, InfluxAuthError | InfluxNotFound):  # retrying alone will not fix these
            self._loud(f"{message}; points are kept in the spool until this is fixed")

    def _loud(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_loud_log >= 10.0:
            self._last_loud_log = now
            log.error(message)
