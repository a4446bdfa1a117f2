"""Replay order on a time grid, made a window at a time.

Each sensor's samples are cut every ``block_s`` seconds of host time and at every recorded gap,
and merged with the gap, speed and health rows by the time each item became known live (a block
at its last sample, but not before a gap that precedes it; a gap at its end, when the samples
after it arrived; a reading at its time; ties: gap, block, speed, health, then sensor, then
position).

Each source of rows (one per sensor, one for the records) is already in that order, so the
whole order is their k-way merge; it is made a window at a time with numpy, and equals sorting
every row of the recording at once (what replay did before it had to fit a marathon in memory).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray

from sensorkit.model import Gap
from sensorkit.store.recording.layout import ORDER_BLOCK, ORDER_GAP, ORDER_HEALTH, ORDER_SPEED
from sensorkit.store.recording.reader import RecordingReader

_RANK = np.zeros(256, np.int8)
_RANK[[ORDER_GAP, ORDER_BLOCK, ORDER_SPEED, ORDER_HEALTH]] = [0, 1, 2, 3]
_MAX_EDGES_PER_SAMPLE = 64
"""More grid edges than this per sample only comes from a damaged clock (1e300 s); see _edges."""


class Rows(NamedTuple):
    """Plan rows, one per item.

    ``key`` the host time at which the item was known live (NaN: unknown), ``kind``, ``src``
    the sensor's position, ``a:b`` a block's samples or ``a`` a record's table row.
    """

    key: NDArray[np.float64]
    kind: NDArray[np.int8]
    src: NDArray[np.int32]
    a: NDArray[np.int64]
    b: NDArray[np.int64]

    @staticmethod
    def empty() -> Rows:
        return Rows(np.zeros(0), np.zeros(0, np.int8), np.zeros(0, np.int32), np.zeros(0, np.int64),
                    np.zeros(0, np.int64))

    def take(self, idx: NDArray[np.intp] | slice) -> Rows:
        return Rows(self.key[idx], self.kind[idx], self.src[idx], self.a[idx], self.b[idx])

    @staticmethod
    def concat(parts: Sequence[Rows]) -> Rows:
        parts = [*parts, Rows.empty()]
        return Rows(np.concatenate([p.key for p in parts]), np.concatenate([p.kind for p in parts]),
                    np.concatenate([p.src for p in parts]), np.concatenate([p.a for p in parts]),
                    np.concatenate([p.b for p in parts]))


def sort_order(rows: Rows) -> NDArray[np.intp]:
    """Indices that put ``rows`` in grid replay order (unknown times last)."""
    key = np.where(np.isnan(rows.key), np.inf, rows.key)
    return np.lexsort((rows.a, rows.src, _RANK[rows.kind.astype(np.uint8)], key))


class RowSource(Protocol):
    def next_rows(self) -> Rows | None:
        """The next rows in grid order (None once there are no more)."""
        ...


class SortedRows:
    """Rows already in grid order (the record tables' rows), handed out ``size`` at a time."""

    def __init__(self, rows: Rows, size: int) -> None:
        self._rows, self._size, self._at = rows, size, 0

    def next_rows(self) -> Rows | None:
        if self._at >= len(self._rows.key):
            return None
        out = self._rows.take(slice(self._at, self._at + self._size))
        self._at += self._size
        return out


def gap_cut_s(gap: Gap) -> float:
    """Where a gap cuts its sensor's samples: half way through it.

    A gap's ends are its neighbouring samples' times only up to rounding and clock-drift
    correction (a start 3e-15 s before the last sample, an end 1e-6 s after the next one, seen
    on drifting pods), so cutting at either end could put a sample on the wrong side; the
    middle of the hole (at least one sample period) has none near it.
    """
    return float(gap.start_s) + 0.5 * max(float(gap.end_s) - float(gap.start_s), 0.0)


def _cell(x: float, block_s: float) -> int | None:
    return math.floor(x / block_s) if math.isfinite(x / block_s) else None


class StreamBlocks:
    """One sensor's grid blocks over samples ``i0:i1``, computed ``window_samples`` at a time.

    A window's last block may go on in the next window, so it is held back (the next window
    starts at it); the cuts then equal those of the whole range at once: a grid edge cuts
    before the first sample at or after it, a gap before the first sample after its middle.
    """

    def __init__(self, reader: RecordingReader, sensor_id: str, src: int, i0: int, i1: int, block_s: float,
                 gap_cuts_s: NDArray[np.float64], window_samples: int, gap_ends_s: NDArray[np.float64]) -> None:
        self.reader, self.sensor_id, self.src = reader, sensor_id, src
        self.j, self.i1, self.block_s = i0, i1, block_s
        order = np.argsort(gap_cuts_s, kind="stable")
        self.gap_cuts_s = gap_cuts_s[order]
        # A block after a gap is known no earlier than the gap (its end: live, the gap is noticed
        # when the samples after it arrive); a drifting clock can put the end a microsecond past
        # the next sample.
        self.gap_floor_s = np.maximum.accumulate(gap_ends_s[order]) if len(order) else np.zeros(0)
        self.window_samples = window_samples
        self.carry = -math.inf
        """Latest key so far: keys are a running maximum (per-sensor order survives a clock step back)."""
        # The cells of the range's first and last samples bound the grid edges, as for the whole range.
        first = reader.sample_times(sensor_id, i0, i0 + 1) if i1 > i0 else np.zeros(0)
        last = reader.sample_times(sensor_id, i1 - 1, i1) if i1 > i0 else np.zeros(0)
        self.first_cell = _cell(float(first[0]), block_s) if len(first) else None
        end_cell = _cell(float(last[0]), block_s) if len(last) else None
        self.end_cell = None if end_cell is None else end_cell + 1

    def next_rows(self) -> Rows | None:
        if self.j >= self.i1:
            return None
        size = self.window_samples
        while True:
            stop = min(self.i1, self.j + size)
            t = self.reader.sample_times(self.sensor_id, self.j, stop)
            cuts = self._cuts(t)
            if stop == self.i1:
                break
            if len(cuts) > 2:
                cuts = cuts[:-1]  # the last block may go on past this window
                break
            size *= 2  # one block longer than the window
        starts, stops = cuts[:-1], cuts[1:]
        last = t[stops - 1]
        if len(self.gap_floor_s):
            before = np.searchsorted(self.gap_cuts_s, t[starts], side="left")  # gaps cut before each block
            floor = np.where(before > 0, self.gap_floor_s[np.maximum(before - 1, 0)], -np.inf)
            last = np.maximum(last, floor)
        key = np.maximum.accumulate(np.concatenate([[self.carry], last]))[1:]
        self.carry = float(key[-1])
        a, b = starts + self.j, stops + self.j
        self.j = int(b[-1])
        n = len(a)
        return Rows(key, np.full(n, ORDER_BLOCK, np.int8), np.full(n, self.src, np.int32), a, b)

    def _cuts(self, t: NDArray[np.float64]) -> NDArray[np.int64]:
        parts = [np.array([0, len(t)], np.int64), np.searchsorted(t, self._edges(t), side="left"),
                 np.searchsorted(t, self.gap_cuts_s, side="right")]
        return np.unique(np.concatenate(parts)).astype(np.int64)

    def _edges(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        """Grid edges that can cut inside ``t``: those of the whole range, as far as ``t`` reaches."""
        lo, hi = _cell(float(t[0]), self.block_s), _cell(float(t[-1]), self.block_s)
        if lo is None or hi is None or self.first_cell is None or self.end_cell is None:
            return np.zeros(0)  # a non-finite time: no grid to cut on (the samples still all come)
        lo, hi = max(lo, self.first_cell + 1), min(hi + 2, self.end_cell)
        if hi - lo > _MAX_EDGES_PER_SAMPLE * len(t) + 100_000:  # a damaged clock: cells that hold samples
            cells = np.unique(np.floor(t[np.isfinite(t)] / self.block_s))
            return cells[(cells >= lo) & (cells < hi)] * self.block_s
        return np.arange(lo, hi, dtype=np.float64) * self.block_s


def merge(sources: Sequence[RowSource]) -> Iterator[Rows]:
    """The k-way merge of row sources that are each in grid order, as windows of rows.

    A window ends at the smallest last buffered row of the sources that may still give more:
    every later row of any source sorts after it, so the windows concatenate to the full sort.
    """
    bufs = [Rows.empty() for _ in sources]
    done = [False] * len(sources)
    while True:
        for i, source in enumerate(sources):
            if not done[i] and not len(bufs[i].key):
                rows = source.next_rows()
                if rows is None:
                    done[i] = True
                else:
                    bufs[i] = rows
        live = [i for i in range(len(sources)) if len(bufs[i].key)]
        if not live:
            return
        rows = Rows.concat([bufs[i] for i in live])
        owner = np.repeat(np.arange(len(live)), [len(bufs[i].key) for i in live])
        order = sort_order(rows)
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        ends = np.cumsum([len(bufs[i].key) for i in live]) - 1  # each source's last buffered row
        open_ends = [int(rank[ends[n]]) for n, i in enumerate(live) if not done[i]]
        cut = min(open_ends) + 1 if open_ends else len(order)
        emit = order[:cut]
        yield rows.take(emit)
        taken = np.bincount(owner[emit], minlength=len(live))
        for n, i in enumerate(live):
            bufs[i] = bufs[i].take(slice(int(taken[n]), None))
