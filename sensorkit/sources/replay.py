"""ReplaySource: a recording played back through the live pipeline, at any speed.

The item sequence is computed from the recording alone and never from the wall clock, so
the pipeline sees exactly the same items in the same order at ``speed=1``, ``1000`` or
``math.inf``; only the pauses between them change. That is what makes replayed metrics
identical whatever the speed.

Order: every sensor's samples are cut on one grid of ``block_s`` seconds on the host
timeline (and at the start of every recorded gap); items are released in order of the time
they became known live: a block when its last sample was taken, a gap when it ended, a
speed or health reading at its ``time_s``. Ties go gap, block, speed, health, then sensor order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np
from numpy.typing import NDArray

from sensorkit.errors import SourceError
from sensorkit.model import SampleBlock, SensorHealth, SensorInfo, SessionInfo, SourceItem
from sensorkit.store.recording import RecordingReader
from sensorkit.store.recording.reader import stack_channel

log = logging.getLogger(__name__)

_GAP, _BLOCK, _SPEED, _HEALTH = 0, 1, 2, 3
_CHUNK_SAMPLES = 1 << 16
"""Samples converted to float64 at a time: bounded memory for recordings of any length."""
_YIELD_EVERY_S = 0.005
"""At full speed, hand the event loop back at least this often."""
_MIN_SLEEP_S = 0.001


@dataclass(frozen=True, slots=True)
class _Plan:
    """The replay order, one row per item, sorted.

    ``a:b`` are sample indices for blocks; for other kinds ``a`` indexes that kind's records.
    """

    key: NDArray[np.float64]
    kind: NDArray[np.int8]
    src: NDArray[np.int32]
    a: NDArray[np.int64]
    b: NDArray[np.int64]


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
    ``block_s`` the block duration; ``start_s``/``end_s`` an optional window on the host
    timeline; ``sensor_ids`` a subset of the recorded sensors. Recorded health readings are
    replayed too unless ``include_health`` is False.
    """

    def __init__(
        self,
        recording: str | Path | RecordingReader,
        *,
        speed: float = 1.0,
        block_s: float = 0.04,
        start_s: float | None = None,
        end_s: float | None = None,
        sensor_ids: Sequence[str] | None = None,
        include_health: bool = True,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0 (math.inf for maximum), not {speed!r}")
        if not (block_s > 0 and math.isfinite(block_s)):
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
        self._plan: _Plan | None = None
        self._records: dict[int, list[Any]] = {}
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
        if plan is None or not len(plan.key):
            return math.nan
        finite = plan.key[np.isfinite(plan.key)]
        return float(finite[-1]) if len(finite) else math.nan

    async def __aenter__(self) -> Self:
        if self._entered:
            raise SourceError(f"{self.reader.path}: replay source entered twice")
        self._entered = True
        self._plan = await asyncio.to_thread(self._build_plan)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._plan = None
        self._records = {}

    # -- plan -------------------------------------------------------------------------------

    def _in_window(self, t: float) -> bool:
        return (self.start_s is None or t >= self.start_s) and (self.end_s is None or t < self.end_s)

    def _build_plan(self) -> _Plan:
        order = {s.sensor_id: i for i, s in enumerate(self._sensors)}
        gaps = [g for g in self.reader.gaps() if g.sensor_id in order
                and (self.start_s is None or g.end_s >= self.start_s)
                and (self.end_s is None or g.start_s < self.end_s)]
        speed = [s for s in self.reader.speed() if s.sensor_id in order and self._in_window(s.time_s)]
        health = ([h for h in self.reader.records(SensorHealth)
                   if h.sensor_id in order and self._in_window(h.time_s)] if self.include_health else [])
        self._records = {_GAP: gaps, _SPEED: speed, _HEALTH: health}
        parts: list[tuple[NDArray[Any], ...]] = []
        keys = {_GAP: [g.end_s for g in gaps], _SPEED: [r.time_s for r in speed],
                _HEALTH: [h.time_s for h in health]}
        for kind, recs in self._records.items():
            n = len(recs)
            parts.append((np.array(keys[kind], dtype=np.float64), np.full(n, kind, np.int8),
                          np.array([order[r.sensor_id] for r in recs], dtype=np.int32),
                          np.arange(n, dtype=np.int64), np.zeros(n, np.int64)))
        for sensor in self._sensors:
            sid = sensor.sensor_id
            cuts = [g.start_s for g in gaps if g.sensor_id == sid]
            parts.append(self._block_rows(sid, order[sid], cuts))
        cols = [np.concatenate([p[i] for p in parts]) for i in range(5)]
        key = np.where(np.isnan(cols[0]), np.inf, cols[0])
        idx = np.lexsort((cols[3], cols[2], cols[1], key))
        return _Plan(key[idx], cols[1][idx].astype(np.int8), cols[2][idx].astype(np.int32),
                     cols[3][idx], cols[4][idx])

    def _block_rows(self, sid: str, src: int, gap_starts: list[float]) -> tuple[NDArray[Any], ...]:
        i0, i1 = self.reader.index_range(sid, self.start_s, self.end_s)
        t = np.array(self.reader.raw(sid)["time_s"][i0:i1], dtype=np.float64)
        if not len(t):
            return (np.zeros(0), np.zeros(0, np.int8), np.zeros(0, np.int32), np.zeros(0, np.int64),
                    np.zeros(0, np.int64))
        k0, k1 = math.floor(t[0] / self.block_s), math.floor(t[-1] / self.block_s) + 1
        edges = np.arange(k0 + 1, k1, dtype=np.float64) * self.block_s
        cuts = np.concatenate([
            [0], np.searchsorted(t, edges, side="left"),
            np.searchsorted(t, np.asarray(gap_starts, dtype=np.float64), side="right"), [len(t)]])
        cuts = np.unique(cuts)
        starts, stops = cuts[:-1], cuts[1:]
        keep = stops > starts
        starts, stops = starts[keep], stops[keep]
        key = np.maximum.accumulate(t[stops - 1])  # per-sensor order survives a clock step back
        n = len(starts)
        return (key, np.full(n, _BLOCK, np.int8), np.full(n, src, np.int32),
                starts.astype(np.int64) + i0, stops.astype(np.int64) + i0)

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
        return SampleBlock(sid, chunk.time_s[x:y], cols["acc_g"][x:y],
                           None if gyr is None else gyr[x:y], None if mag is None else mag[x:y])

    async def items(self) -> AsyncIterator[SourceItem]:
        plan = self._plan
        if plan is None:
            raise SourceError("ReplaySource.items() needs 'async with' first")
        loop = asyncio.get_running_loop()
        chunks: dict[int, _Chunk] = {}
        records = self._records
        finite = np.isfinite(plan.key)
        t0 = float(plan.key[finite][0]) if finite.any() else 0.0
        wall0 = loop.time()
        paced = math.isfinite(self.speed)
        last_yield = time.perf_counter()
        keys, kinds, srcs, a_s, b_s = (plan.key.tolist(), plan.kind.tolist(), plan.src.tolist(),
                                       plan.a.tolist(), plan.b.tolist())
        for key, kind, src, a, b in zip(keys, kinds, srcs, a_s, b_s, strict=True):
            if paced and key != math.inf:
                delay = wall0 + (key - t0) / self.speed - loop.time()
                if delay > _MIN_SLEEP_S:
                    await asyncio.sleep(delay)
                    last_yield = time.perf_counter()
            now = time.perf_counter()
            if now - last_yield > _YIELD_EVERY_S:
                await asyncio.sleep(0)
                last_yield = now
            item: SourceItem = self._block(chunks, src, a, b) if kind == _BLOCK else records[kind][a]
            self.position_s = key
            yield item

