"""ReplaySource: a recording played back through the live pipeline, at any speed.

By default the pipeline receives exactly the blocks it received live, in the same order (the
recording keeps an order log), so replayed metrics equal the live run's bit for bit. The
sequence is computed from the recording alone, never from the wall clock: at ``speed=1``,
``1000`` or ``math.inf`` the same items come out and only the pauses between them change.
``block_s`` re-cuts the samples on a fixed grid instead (see
:mod:`sensorkit.store.recording.plan`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np

from sensorkit.errors import SourceError
from sensorkit.model import SampleBlock, SensorInfo, SessionInfo, SourceItem
from sensorkit.model.samples import F64
from sensorkit.store.recording import RecordingReader
from sensorkit.store.recording.plan import BLOCK, ReplayPlan, build_plan
from sensorkit.store.recording.reader import stack_channel

log = logging.getLogger(__name__)

_CHUNK_SAMPLES = 1 << 16
"""Samples converted to float64 at a time: bounded memory for recordings of any length."""
YIELD_EVERY_ITEMS = 32
"""Hand the event loop back at least every this many items, even at full speed (~100 us)."""
_MIN_SLEEP_S = 0.001
_PLAN_SLICE = 1 << 14
"""Plan entries turned into Python values at a time (bounded memory for long recordings)."""


_BLOCK_FIELDS = ("sensor_id", "time_s", "acc_g", "gyr_dps", "mag_ut")
_FAST_BLOCKS = tuple(f.name for f in dataclasses.fields(SampleBlock)) == _BLOCK_FIELDS
_set = object.__setattr__


def _view_block(sid: str, t: F64, acc: F64, gyr: F64 | None, mag: F64 | None) -> SampleBlock:
    """A SampleBlock of views into a validated chunk, skipping re-validation (3/4 of its cost).

    Only for arrays that already are contiguous float64 of the right shapes (chunk slices are);
    if SampleBlock ever gains a field, this falls back to the normal constructor.
    """
    if not _FAST_BLOCKS:
        return SampleBlock(sid, t, acc, gyr, mag)
    block = object.__new__(SampleBlock)
    _set(block, "sensor_id", sid)
    _set(block, "time_s", t)
    _set(block, "acc_g", acc)
    _set(block, "gyr_dps", gyr)
    _set(block, "mag_ut", mag)
    return block


class _Chunk:
    """Contiguous float64 copies of samples ``i0:i1`` of one stream; blocks are views into them."""

    def __init__(self, reader: RecordingReader, sensor_id: str, i0: int, i1: int) -> None:
        raw = reader.raw(sensor_id)[i0:i1]
        self.i0, self.i1 = i0, i1
        self.time_s = np.array(raw["time_s"], dtype=np.float64)
        chans = reader.channels(sensor_id)
        self.cols = {ch: stack_channel(raw, ch) for ch in chans}


class ReplaySource:
    """Yields the SampleBlocks, Gaps, SpeedSamples (and SensorHealth) of a recording.

    ``speed`` is a multiple of real time (``math.inf``: as fast as the pipeline takes them);
    ``block_s`` None replays the live blocks as recorded, a number re-cuts them on a grid of
    that many seconds; ``start_s``/``end_s`` an optional window on the host
    timeline; ``sensor_ids`` a subset of the recorded sensors. Recorded health readings are
    replayed too unless ``include_health`` is False.
    """

    def __init__(
        self,
        recording: str | Path | RecordingReader,
        *,
        speed: float = 1.0,
        block_s: float | None = None,
        start_s: float | None = None,
        end_s: float | None = None,
        sensor_ids: Sequence[str] | None = None,
        include_health: bool = True,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0 (math.inf for maximum), not {speed!r}")
        if block_s is not None and not (block_s > 0 and math.isfinite(block_s)):
            raise ValueError(f"block_s must be a positive number of seconds, not {block_s!r}")
        self.reader = recording if isinstance(recording, RecordingReader) else RecordingReader(recording)
        self.speed = speed
        self.block_s = block_s
        self.start_s = start_s
        self.end_s = end_s
        self.include_health = include_health
        info = self.reader.info
        wanted = list(sensor_ids) if sensor_ids is not None else [s.sensor_id for s in info.sensors]
        known = {s.sensor_id for s in info.sensors}
        unknown = [sid for sid in wanted if sid not in known]
        if unknown:
            raise SourceError(f"{self.reader.path}: no sensor {unknown} in the recording "
                              f"(have {sorted(known)})")
        self._sensors = tuple(info.sensor(sid) for sid in wanted)
        for sid in self.reader.sensor_ids:
            if sid not in known:
                log.warning("%s: stream %s has no sensor metadata and is not replayed", self.reader.path, sid)
        self._plan: ReplayPlan | None = None
        self._entered = False
        self.position_s = math.nan
        """Host time of the last item yielded (for progress displays)."""

    @property
    def sensors(self) -> Sequence[SensorInfo]:
        return self._sensors

    @property
    def info(self) -> SessionInfo:
        """The recorded session's metadata (runners, sensors, start time)."""
        return self.reader.info

    def replay_info(self, session_id: str | None = None) -> SessionInfo:
        """SessionInfo for the replay session: the recorded one under a new id, noting its origin.

        Times stay on the recorded host timeline, so replayed records line up with the original.
        """
        info = self.reader.info
        notes = {**info.notes, "replay_of": str(self.reader.path), "replay_of_session": info.session_id}
        return dataclasses.replace(info, session_id=session_id or f"{info.session_id}-replay", notes=notes)

    @property
    def end_time_s(self) -> float:
        """Host time of the last item to replay (NaN before entering or if empty)."""
        plan = self._plan
        if plan is None:
            return math.nan
        finite = plan.release_s[np.isfinite(plan.release_s)]
        return float(finite[-1]) if len(finite) else math.nan

    async def __aenter__(self) -> Self:
        if self._entered:
            raise SourceError(f"{self.reader.path}: replay source entered twice")
        self._entered = True
        self._plan = await asyncio.to_thread(
            build_plan, self.reader, [s.sensor_id for s in self._sensors], block_s=self.block_s,
            start_s=self.start_s, end_s=self.end_s, include_health=self.include_health)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._plan = None

    # -- items ------------------------------------------------------------------------------

    def _block(self, chunks: dict[int, _Chunk], src: int, a: int, b: int) -> SampleBlock:
        sid = self._sensors[src].sensor_id
        chunk = chunks.get(src)
        if chunk is None or a < chunk.i0 or b > chunk.i1:
            end = min(max(b, a + _CHUNK_SAMPLES), self.reader.sample_count(sid))
            chunk = chunks[src] = _Chunk(self.reader, sid, a, end)
        x, y = a - chunk.i0, b - chunk.i0
        cols = chunk.cols
        gyr, mag = cols.get("gyr_dps"), cols.get("mag_ut")
        return _view_block(sid, chunk.time_s[x:y], cols["acc_g"][x:y],
                           None if gyr is None else gyr[x:y], None if mag is None else mag[x:y])

    async def items(self) -> AsyncIterator[SourceItem]:
        plan = self._plan
        if plan is None:
            raise SourceError("ReplaySource.items() needs 'async with' first")
        loop = asyncio.get_running_loop()
        chunks: dict[int, _Chunk] = {}
        records = plan.records
        finite = np.isfinite(plan.release_s)
        t0 = float(plan.release_s[finite][0]) if finite.any() else 0.0
        wall0 = loop.time()
        paced = math.isfinite(self.speed)
        since_yield = 0
        n = plan.release_s.shape[0]
        for lo in range(0, n, _PLAN_SLICE):
            # Python lists of one slice of the plan at a time: the whole plan of a 3-hour session
            # as lists held ~250 MB for the whole replay (bench.memory_marathon).
            hi = min(n, lo + _PLAN_SLICE)
            keys, kinds, srcs, a_s, b_s = (plan.release_s[lo:hi].tolist(), plan.kind[lo:hi].tolist(),
                                           plan.src[lo:hi].tolist(), plan.a[lo:hi].tolist(), plan.b[lo:hi].tolist())
            for key, kind, src, a, b in zip(keys, kinds, srcs, a_s, b_s, strict=True):
                if paced and math.isfinite(key):
                    delay = wall0 + (key - t0) / self.speed - loop.time()
                    if delay > _MIN_SLEEP_S:
                        await asyncio.sleep(delay)
                        since_yield = 0
                since_yield += 1
                if since_yield >= YIELD_EVERY_ITEMS:
                    await asyncio.sleep(0)
                    since_yield = 0
                item: SourceItem = self._block(chunks, src, a, b) if kind == BLOCK else records[kind][a]
                self.position_s = key
                yield item

