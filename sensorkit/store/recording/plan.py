"""The order in which a replay hands a recording's source items to the pipeline.

Two ways to cut and order them, both computed from the recording alone (never from a clock):

* **as recorded** (``block_s=None``): the exact blocks, in the exact order, that the live
  pipeline received, from the order log (``order.bin``). Stages then see precisely the live
  input, so even a stage whose floating-point result depends on block boundaries reproduces
  the live run bit for bit.
* **on a grid** (``block_s`` seconds, and for recordings without a usable order log): every
  sensor's samples cut at multiples of ``block_s`` on the host timeline and at every recorded
  gap; items ordered by the time they became known live (a block at its last sample, a gap at
  its end, a speed or health reading at its time; ties: gap, block, speed, health, sensor).

Samples or rows the order log does not cover (the last moments before a crash) are appended
in grid order, so nothing recorded is left out.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sensorkit.model import SensorHealth
from sensorkit.store.recording.layout import ORDER_BLOCK, ORDER_GAP, ORDER_HEALTH, ORDER_SPEED
from sensorkit.store.recording.reader import RecordingReader

log = logging.getLogger(__name__)

BLOCK, GAP, SPEED, HEALTH = ORDER_BLOCK, ORDER_GAP, ORDER_SPEED, ORDER_HEALTH
DEFAULT_BLOCK_S = 0.04
_RANK = {GAP: 0, BLOCK: 1, SPEED: 2, HEALTH: 3}

Rows = tuple[NDArray[np.float64], NDArray[np.int8], NDArray[np.int32], NDArray[np.int64], NDArray[np.int64]]


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    """One row per item, in replay order.

    ``release_s`` is the host time at which the item was known live (non-decreasing, so it
    paces the replay); ``src`` the sensor's position in the replayed sensor list; ``a:b`` the
    sample indices of a block, or ``a`` the row of a gap/speed/health record in ``records``.
    """

    release_s: NDArray[np.float64]
    kind: NDArray[np.int8]
    src: NDArray[np.int32]
    a: NDArray[np.int64]
    b: NDArray[np.int64]
    records: dict[int, list[Any]]
    as_recorded: bool


def _empty() -> Rows:
    return (np.zeros(0), np.zeros(0, np.int8), np.zeros(0, np.int32), np.zeros(0, np.int64),
            np.zeros(0, np.int64))


def _concat(parts: Sequence[Rows]) -> Rows:
    parts = [*parts, _empty()]
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(5))  # type: ignore[return-value]


def _take(rows: Rows, idx: NDArray[Any]) -> Rows:
    return tuple(c[idx] for c in rows)


class _Planner:
    def __init__(self, reader: RecordingReader, sensor_ids: Sequence[str], start_s: float | None,
                 end_s: float | None, include_health: bool) -> None:
        self.reader = reader
        self.pos = {sid: i for i, sid in enumerate(sensor_ids)}
        self.start_s, self.end_s = start_s, end_s
        self.records: dict[int, list[Any]] = {
            GAP: reader.gaps(), SPEED: reader.speed(),
            HEALTH: reader.records(SensorHealth) if include_health else []}
        with_stream = [sid for sid in sensor_ids if sid in set(reader.sensor_ids)]  # others: records only
        self.times = {sid: np.array(reader.raw(sid)["time_s"], dtype=np.float64) for sid in with_stream}
        self.window = {sid: reader.index_range(sid, start_s, end_s) for sid in with_stream}

    def _record_ok(self, kind: int, rec: Any) -> bool:
        if rec.sensor_id not in self.pos:
            return False
        lo, hi = (rec.start_s, rec.end_s) if kind == GAP else (rec.time_s, rec.time_s)
        return (self.start_s is None or hi >= self.start_s) and (self.end_s is None or lo < self.end_s)

    def _record_key(self, kind: int, rec: Any) -> float:
        return float(rec.end_s if kind == GAP else rec.time_s)

    # -- grid ------------------------------------------------------------------------------

    def grid(self, block_s: float, first_sample: dict[str, int], first_row: dict[int, int]) -> Rows:
        """Sample ``first_sample[sid]:`` of each stream and rows ``first_row[kind]:`` of each table."""
        parts: list[Rows] = []
        for kind, recs in self.records.items():
            keep = [i for i in range(first_row.get(kind, 0), len(recs)) if self._record_ok(kind, recs[i])]
            parts.append((np.array([self._record_key(kind, recs[i]) for i in keep], dtype=np.float64),
                          np.full(len(keep), kind, np.int8),
                          np.array([self.pos[recs[i].sensor_id] for i in keep], dtype=np.int32),
                          np.array(keep, dtype=np.int64), np.zeros(len(keep), np.int64)))
        gaps = self.records[GAP]
        for sid, src in self.pos.items():
            if sid not in self.window:
                continue
            i0, i1 = self.window[sid]
            i0 = max(i0, first_sample.get(sid, 0))
            cuts = [g.start_s for g in gaps if g.sensor_id == sid]
            parts.append(self._grid_blocks(sid, src, i0, i1, block_s, cuts))
        rows = _concat(parts)
        key = np.where(np.isnan(rows[0]), np.inf, rows[0])
        rank = np.array([_RANK[k] for k in range(4)], dtype=np.int8)[rows[1]]
        return _take(rows, np.lexsort((rows[3], rows[2], rank, key)))

    def _grid_blocks(self, sid: str, src: int, i0: int, i1: int, block_s: float, gap_starts: list[float]) -> Rows:
        if i1 <= i0:
            return _empty()
        t = self.times[sid][i0:i1]
        k0, k1 = math.floor(t[0] / block_s), math.floor(t[-1] / block_s) + 1
        edges = np.arange(k0 + 1, k1, dtype=np.float64) * block_s
        cuts = np.unique(np.concatenate([
            [0], np.searchsorted(t, edges, side="left"),
            np.searchsorted(t, np.asarray(gap_starts, dtype=np.float64), side="right"), [len(t)]]))
        starts, stops = cuts[:-1], cuts[1:]
        keep = stops > starts
        starts, stops = starts[keep], stops[keep]
        key = np.maximum.accumulate(t[stops - 1])  # per-sensor order survives a clock step back
        n = len(starts)
        return (key, np.full(n, BLOCK, np.int8), np.full(n, src, np.int32),
                starts.astype(np.int64) + i0, stops.astype(np.int64) + i0)

    # -- as recorded -----------------------------------------------------------------------

    def recorded(self, order: NDArray[Any]) -> tuple[Rows, dict[str, int], dict[int, int]]:
        """Rows from the order log, and how far it covers each stream and table."""
        kind = order["kind"].astype(np.int8)
        stream = order["stream"].astype(np.int64)
        count = order["count"].astype(np.int64)
        a = np.zeros(len(order), np.int64)
        b = np.zeros(len(order), np.int64)
        src = np.full(len(order), -1, np.int32)
        key = np.full(len(order), np.nan)
        keep = np.zeros(len(order), bool)
        covered: dict[str, int] = {}
        used: dict[int, int] = {}
        numbers = self.reader.stream_numbers()
        for number in np.unique(stream[kind == BLOCK]):
            sid = numbers.get(int(number))
            m = np.flatnonzero((kind == BLOCK) & (stream == number))
            stops = np.cumsum(count[m])
            starts = stops - count[m]
            if sid is None:
                continue
            n = self.reader.sample_count(sid)
            covered[sid] = int(min(stops[-1], n))
            if sid not in self.pos or sid not in self.window:
                continue
            i0, i1 = self.window[sid]
            lo, hi = np.clip(starts, i0, i1), np.clip(stops, i0, i1)
            a[m], b[m], src[m] = lo, hi, self.pos[sid]
            keep[m] = hi > lo
            key[m[hi > lo]] = self.times[sid][hi[hi > lo] - 1]
        for k, recs in self.records.items():
            m = np.flatnonzero(kind == k)
            m = m[: len(recs)]  # rows beyond the table: torn off by a crash
            used[k] = len(m)
            for j, i in enumerate(m):
                if self._record_ok(k, recs[j]):
                    a[i], src[i], keep[i] = j, self.pos[recs[j].sensor_id], True
                    key[i] = self._record_key(k, recs[j])
        for sid in self.pos:
            covered.setdefault(sid, 0)
        return _take((key, kind, src, a, b), np.flatnonzero(keep)), covered, used


def build_plan(reader: RecordingReader, sensor_ids: Sequence[str], *, block_s: float | None = None,
               start_s: float | None = None, end_s: float | None = None,
               include_health: bool = True) -> ReplayPlan:
    """The replay order of ``sensor_ids`` (see the module docstring for the two modes)."""
    planner = _Planner(reader, sensor_ids, start_s, end_s, include_health)
    order = reader.order() if block_s is None else None
    if order is not None and len(order):
        head, covered, used = planner.recorded(order)
        tail = planner.grid(DEFAULT_BLOCK_S, covered, used)
        if len(tail[0]):
            log.info("%s: %d items after the end of the order log are replayed on a %g s grid",
                     reader.path, len(tail[0]), DEFAULT_BLOCK_S)
        rows, as_recorded = _concat([head, tail]), True
    else:
        if block_s is None and reader.sensor_ids:
            log.info("%s: no usable order log; blocks are re-cut on a %g s grid", reader.path, DEFAULT_BLOCK_S)
        rows, as_recorded = planner.grid(block_s or DEFAULT_BLOCK_S, {}, {}), False
    key = np.where(np.isnan(rows[0]), -np.inf, rows[0])
    release = np.maximum.accumulate(key) if len(key) else key
    return ReplayPlan(release, rows[1].astype(np.int8), rows[2].astype(np.int32), rows[3], rows[4],
                      planner.records, as_recorded)
