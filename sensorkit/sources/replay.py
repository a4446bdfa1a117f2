"""ReplaySource: a recording played back through the live pipeline, at any speed.

By default the pipeline receives exactly the blocks it received live, in the same order (the
recording keeps an order log), so replayed metrics equal the live run's bit for bit. The
sequence is computed from the recording alone, never from the wall clock: at ``speed=1``,
``1000`` or ``math.inf`` the same items come out and only the pauses between them change.
``block_s`` re-cuts the samples on a fixed grid instead (see
:mod:`sensorkit.store.recording.plan`): the metrics stage is block-invariant, so the records
are still the live run's, and 1-s blocks cost ~3.5x less per replayed second than the live
40-ms ones. ``sensorkit replay --max`` uses that grid (:func:`replay_block_s`); paced replays
keep the live blocks, whose timing a dashboard watcher would notice.

Memory does not grow with the recording: the plan is made a window of a few thousand items at
a time, and blocks are views into that window's samples (bench.memory_marathon replays 3 hours).
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

from sensorkit.errors import SourceError
from sensorkit.model import SampleBlock, SensorInfo, SessionInfo, SourceItem
from sensorkit.model.samples import F64
from sensorkit.store.recording import RecordingReader
from sensorkit.store.recording.plan import BLOCK, PlanWindow, ReplayPlan

log = logging.getLogger(__name__)

YIELD_EVERY_ITEMS = 32
"""Hand the event loop back at least every this many items, even at full speed (~100 us)."""
_MIN_SLEEP_S = 0.001
FAST_BLOCK_S = 1.0
"""Grid of a replay at maximum speed (s): per-item overhead dominates below ~0.5 s."""


def replay_block_s(speed: float, stale_s: float = 2.0) -> float | None:
    """The block grid a replay at ``speed`` uses: FAST_BLOCK_S at maximum speed, else the live blocks.

    The grid stays under half the metrics' ``stale_s``: within a grid cell one pod's data runs
    up to a cell ahead of another's, which must not make the slower pod look silent.
    """
    return min(FAST_BLOCK_S, 0.5 * stale_s) if math.isinf(speed) else None


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
        self._end_time_s = math.nan
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
        """Host time of the last sample to replay (NaN before entering or if none), for progress."""
        return self._end_time_s

    async def __aenter__(self) -> Self:
        if self._entered:
            raise SourceError(f"{self.reader.path}: replay source entered twice")
        self._entered = True
        self._plan = ReplayPlan(self.reader, [s.sensor_id for s in self._sensors], block_s=self.block_s,
                                start_s=self.start_s, end_s=self.end_s, include_health=self.include_health)
        self._end_time_s = self._plan.last_sample_s()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._plan = None

    # -- items ------------------------------------------------------------------------------

    async def items(self) -> AsyncIterator[SourceItem]:
        plan = self._plan
        if plan is None:
            raise SourceError("ReplaySource.items() needs 'async with' first")
        loop = asyncio.get_running_loop()
        sids = [s.sensor_id for s in self._sensors]
        t0 = math.nan  # the first known release time: pacing starts there
        wall0 = loop.time()
        paced = math.isfinite(self.speed)
        since_yield = 0
        windows = plan.windows()
        try:
            for window in windows:
                # One window of the plan at a time, as Python values (a few thousand items).
                chunks = _views(window)
                records = window.records
                for i, (key, kind, src, a, b) in enumerate(zip(
                        window.release_s.tolist(), window.kind.tolist(), window.src.tolist(), window.a.tolist(),
                        window.b.tolist(), strict=True)):
                    if paced and math.isfinite(key):
                        if t0 != t0:
                            t0 = key
                        delay = wall0 + (key - t0) / self.speed - loop.time()
                        if delay > _MIN_SLEEP_S:
                            await asyncio.sleep(delay)
                            since_yield = 0
                    since_yield += 1
                    if since_yield >= YIELD_EVERY_ITEMS:
                        await asyncio.sleep(0)
                        since_yield = 0
                    if kind == BLOCK:
                        c0, t, acc, gyr, mag = chunks[src]
                        x, y = a - c0, b - c0
                        # views into a validated chunk: valid as they are
                        item: SourceItem = SampleBlock.trusted(
                            sids[src], t[x:y], acc[x:y], None if gyr is None else gyr[x:y],
                            None if mag is None else mag[x:y])
                    else:
                        item = records[i]
                    self.position_s = key
                    yield item
        finally:
            windows.close()


def _views(window: PlanWindow) -> dict[int, tuple[int, F64, F64, F64 | None, F64 | None]]:
    return {src: (c0, c.time_s, c.acc_g, c.gyr_dps, c.mag_ut) for src, (c0, c) in window.chunks.items()}
