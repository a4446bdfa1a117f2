"""The order in which a replay hands a recording's source items to the pipeline.

Two ways to cut and order them, both computed from the recording alone (never from a clock):

* **as recorded** (``block_s=None``): the exact blocks, in the exact order, that the live
  pipeline received, from the order log (``order.bin``). Stages then see precisely the live
  input, so even a stage whose floating-point result depends on block boundaries reproduces
  the live run bit for bit.
* **on a grid** (``block_s`` seconds, and for recordings without a usable order log): every
  sensor's samples cut at multiples of ``block_s`` on the host timeline and at every recorded
  gap; items ordered by the time they became known live (see :mod:`.grid`). The metrics stage
  is block-invariant, so this gives the live run's records too (``tests/test_replay*.py``),
  at a fraction of the per-item cost: a replay at maximum speed uses a 1-s grid.

Samples or rows the order log does not cover (the last moments before a crash) are appended
in grid order, so nothing recorded is left out.

Memory: the plan is made while it is replayed, one :class:`PlanWindow` at a time (at most
``window_items`` items and about ``window_samples`` samples). The order log, the samples and
the gap/speed/health tables are all read piece by piece and a window is dropped once
replayed, so a marathon replays in the memory of a minute. The grid keeps 20 bytes per
gap/speed/health row to sort them (~1 MB for a 3-hour session), and the gaps' start times.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sensorkit.model import Gap, SampleBlock, SensorHealth, SpeedSample
from sensorkit.store.recording.grid import Rows, SortedRows, StreamBlocks, gap_cut_s, merge, sort_order
from sensorkit.store.recording.layout import ORDER_BLOCK, ORDER_GAP, ORDER_HEALTH, ORDER_SPEED
from sensorkit.store.recording.reader import RecordingReader

log = logging.getLogger(__name__)

BLOCK, GAP, SPEED, HEALTH = ORDER_BLOCK, ORDER_GAP, ORDER_SPEED, ORDER_HEALTH
DEFAULT_BLOCK_S = 0.04
WINDOW_ITEMS = 4096
"""Items per plan window."""
RECORD_BATCH_ROWS = 512
"""Gap/speed/health rows decoded at a time (a window of 4096 live items holds ~40 of them)."""
WINDOW_SAMPLES = 1 << 13
"""Samples of all sensors per plan window, about (as float64: ~0.5 MB with acc and gyro)."""
_RECORD_TYPES: dict[int, type] = {GAP: Gap, SPEED: SpeedSample, HEALTH: SensorHealth}


@dataclass(frozen=True, slots=True)
class PlanWindow:
    """Consecutive replay items, with the data they need.

    Row ``i``: ``release_s[i]`` the host time at which the item was known live (non-decreasing
    over the whole plan, so it paces the replay; -inf while unknown); a block (``kind`` BLOCK)
    is samples ``a[i]:b[i]`` of sensor ``src[i]``, found in ``chunks[src] = (first sample,
    SampleBlock)``; any other item is ``records[i]``.
    """

    release_s: NDArray[np.float64]
    kind: NDArray[np.int8]
    src: NDArray[np.int32]
    a: NDArray[np.int64]
    b: NDArray[np.int64]
    records: list[Any]
    chunks: dict[int, tuple[int, SampleBlock]]

    def __len__(self) -> int:
        return len(self.kind)


class _Feed:
    """One record table's rows in file order, decoded a batch at a time."""

    def __init__(self, reader: RecordingReader, kind: int, batch_rows: int) -> None:
        self.kind = kind
        self._batches = reader.iter_records(_RECORD_TYPES[kind], batch_rows)
        self._buf: list[Any] = []
        self._at = 0
        self.row = 0
        """Rows handed out so far (the next row's number)."""

    def take(self, n: int) -> list[Any]:
        """The next ``n`` rows (fewer at the end of the table)."""
        out: list[Any] = []
        while len(out) < n:
            if self._at >= len(self._buf):
                batch = next(self._batches, None)
                if batch is None:
                    break
                self._buf, self._at = batch, 0
                continue
            part = self._buf[self._at:self._at + n - len(out)]
            self._at += len(part)
            out.extend(part)
        self.row += len(out)
        return out

    def close(self) -> None:
        self._batches.close()  # type: ignore[attr-defined]


class _Fetcher:
    """Records of the planned rows of one table by row number, for rows asked in about file order.

    Reads the table forward, keeping only planned rows not yet asked for: a window's worth
    when the table is in time order (as sensorkit writes it), all of them at worst.
    """

    def __init__(self, feed: _Feed, planned_rows: NDArray[np.int64], batch_rows: int) -> None:
        self.feed, self.planned, self.batch_rows = feed, planned_rows, batch_rows
        self.pending: dict[int, Any] = {}

    def get(self, row: int) -> Any:
        while row not in self.pending:
            first = self.feed.row
            batch = self.feed.take(self.batch_rows)
            if not batch:
                raise LookupError(f"row {row} is not in the table")  # the table changed under us
            rows = np.arange(first, first + len(batch))
            wanted = np.flatnonzero(np.isin(rows, self.planned, assume_unique=True))
            self.pending.update((first + int(j), batch[j]) for j in wanted)
        return self.pending.pop(row)


class ReplayPlan:
    """The replay order of ``sensor_ids``, made window by window while it is replayed.

    Cheap to create (it finds the ``start_s``/``end_s`` window in each stream); iterate
    :meth:`windows` once to get the items.
    """

    def __init__(self, reader: RecordingReader, sensor_ids: Sequence[str], *, block_s: float | None = None,
                 start_s: float | None = None, end_s: float | None = None, include_health: bool = True,
                 window_items: int = WINDOW_ITEMS, window_samples: int = WINDOW_SAMPLES) -> None:
        if window_items < 1 or window_samples < 1:
            raise ValueError("plan windows need at least one item and one sample")
        self.reader = reader
        self.pos = {sid: i for i, sid in enumerate(sensor_ids)}
        have = set(reader.sensor_ids)  # a listed sensor without a stream replays its records only
        self.ranges = {sid: reader.index_range(sid, start_s, end_s) for sid in sensor_ids if sid in have}
        self.start_s, self.end_s = start_s, end_s
        self.block_s = block_s
        self.kinds = [GAP, SPEED, *([HEALTH] if include_health else [])]
        self.window_items, self.window_samples = window_items, window_samples
        self.order_entries = (reader.order_length() or 0) if block_s is None else 0
        self.as_recorded = self.order_entries > 0
        self._release = -math.inf
        self._feeds: list[_Feed] = []

    def _feed(self, kind: int) -> _Feed:
        feed = _Feed(self.reader, kind, RECORD_BATCH_ROWS)
        self._feeds.append(feed)
        return feed

    def last_sample_s(self) -> float:
        """Host time of the latest sample to replay (NaN if none): the end, for a progress display."""
        ends = [float(self.reader.sample_times(sid, i1 - 1, i1)[0]) for sid, (i0, i1) in self.ranges.items()
                if i1 > i0]
        finite = [t for t in ends if math.isfinite(t)]
        return max(finite) if finite else math.nan

    def windows(self) -> Generator[PlanWindow, None, None]:
        feeds = {k: self._feed(k) for k in self.kinds}
        try:
            if self.as_recorded:
                covered = yield from self._recorded(feeds)
                tail = 0
                for w in self._grid(DEFAULT_BLOCK_S, covered, feeds):
                    tail += len(w)
                    yield w
                if tail:
                    log.info("%s: %d items after the end of the order log were replayed on a %g s grid",
                             self.reader.path, tail, DEFAULT_BLOCK_S)
            else:
                if self.block_s is None and self.reader.sensor_ids:
                    log.info("%s: no usable order log; blocks are re-cut on a %g s grid", self.reader.path,
                             DEFAULT_BLOCK_S)
                yield from self._grid(self.block_s or DEFAULT_BLOCK_S, {}, feeds)
        finally:
            for feed in self._feeds:
                feed.close()
            self._feeds.clear()

    # -- records ---------------------------------------------------------------------------

    def _record_ok(self, kind: int, rec: Any) -> bool:
        if rec.sensor_id not in self.pos:
            return False
        lo, hi = (rec.start_s, rec.end_s) if kind == GAP else (rec.time_s, rec.time_s)
        return (self.start_s is None or hi >= self.start_s) and (self.end_s is None or lo < self.end_s)

    @staticmethod
    def _record_key(kind: int, rec: Any) -> float:
        return float(rec.end_s if kind == GAP else rec.time_s)

    def _window(self, rows: Rows, records: list[Any], chunks: dict[int, tuple[int, SampleBlock]]) -> PlanWindow:
        release = np.where(np.isnan(rows.key), -np.inf, rows.key)
        if len(release):
            release = np.maximum.accumulate(np.maximum(release, self._release))
            self._release = float(release[-1])
        return PlanWindow(release, rows.kind.astype(np.int8), rows.src.astype(np.int32), rows.a, rows.b,
                          records, chunks)

    # -- as recorded -----------------------------------------------------------------------

    def _recorded(self, feeds: dict[int, _Feed]) -> Generator[PlanWindow, None, dict[str, int]]:
        """Windows of the order log; returns how far it covers each stream (samples)."""
        numbers = self.reader.stream_numbers()
        totals: dict[int, int] = {}  # stream number -> samples the log has accounted for
        start = 0
        while start < self.order_entries:
            entries = self.reader.order(start, self.window_items)
            if entries is None or not len(entries):
                break
            kind = entries["kind"].astype(np.int8)
            stream = entries["stream"].astype(np.int64)
            count = entries["count"].astype(np.int64)
            samples = np.cumsum(np.where(kind == BLOCK, count, 0))
            n = min(len(kind), max(1, int(np.searchsorted(samples, self.window_samples, side="right"))))
            start += n
            yield self._recorded_window(kind[:n], stream[:n], count[:n], numbers, totals, feeds)
        covered = {}
        for number, total in totals.items():
            sid = numbers.get(number)
            if sid is not None:
                covered[sid] = min(total, self.reader.sample_count(sid))
        return covered

    def _recorded_window(self, kind: NDArray[np.int8], stream: NDArray[np.int64], count: NDArray[np.int64],
                         numbers: dict[int, str], totals: dict[int, int], feeds: dict[int, _Feed]) -> PlanWindow:
        n = len(kind)
        key = np.full(n, np.nan)
        src = np.full(n, -1, np.int32)
        a = np.zeros(n, np.int64)
        b = np.zeros(n, np.int64)
        keep = np.zeros(n, bool)
        records: list[Any] = [None] * n
        chunks: dict[int, tuple[int, SampleBlock]] = {}
        is_block = kind == BLOCK
        for number in np.unique(stream[is_block]).tolist():
            m = np.flatnonzero(is_block & (stream == number))
            stops = np.cumsum(count[m]) + totals.get(number, 0)
            starts = stops - count[m]
            totals[number] = int(stops[-1])
            sid = numbers.get(number)
            if sid is None or sid not in self.pos or sid not in self.ranges:
                continue
            i0, i1 = self.ranges[sid]
            lo, hi = np.clip(starts, i0, i1), np.clip(stops, i0, i1)
            ok = hi > lo
            if not ok.any():
                continue
            m, lo, hi = m[ok], lo[ok], hi[ok]
            c0 = int(lo[0])
            chunk = self.reader.block(sid, c0, int(hi[-1]))  # a stream's blocks are consecutive samples
            p = self.pos[sid]
            chunks[p] = (c0, chunk)
            a[m], b[m], src[m], keep[m] = lo, hi, p, True
            key[m] = chunk.time_s[hi - 1 - c0]
        for k, feed in feeds.items():
            m = np.flatnonzero(kind == k)
            if not len(m):
                continue
            first = feed.row
            recs = feed.take(len(m))  # entries beyond the table's end: rows torn off by a crash
            for j, (i, rec) in enumerate(zip(m.tolist(), recs, strict=False)):
                if self._record_ok(k, rec):
                    a[i], src[i], keep[i] = first + j, self.pos[rec.sensor_id], True
                    key[i], records[i] = self._record_key(k, rec), rec
        idx = np.flatnonzero(keep)
        rows = Rows(key, kind, src, a, b).take(idx)
        return self._window(rows, [records[i] for i in idx.tolist()], chunks)

    # -- on a grid -------------------------------------------------------------------------

    def _grid(self, block_s: float, first_sample: dict[str, int], feeds: dict[int, _Feed]) -> Iterator[PlanWindow]:
        """Samples from ``first_sample`` on and the feeds' remaining rows, in grid order."""
        gap_cuts, gap_ends = self._gap_cuts()
        sources: list[Any] = []
        for sid, p in self.pos.items():
            if sid in self.ranges:
                i0, i1 = self.ranges[sid]
                i0 = max(i0, first_sample.get(sid, 0))
                if i1 > i0:
                    sources.append(StreamBlocks(self.reader, sid, p, i0, i1, block_s,
                                                gap_cuts.get(sid, np.zeros(0)), self.window_samples,
                                                gap_ends.get(sid, np.zeros(0))))
        record_rows, fetch = self._record_rows(feeds)
        sources.append(SortedRows(record_rows, self.window_items))
        sids = list(self.pos)
        for rows in merge(sources):
            records = [None if k == BLOCK else fetch(k, r)
                       for k, r in zip(rows.kind.tolist(), rows.a.tolist(), strict=True)]
            chunks = {}
            for p in np.unique(rows.src[rows.kind == BLOCK]).tolist():
                m = (rows.src == p) & (rows.kind == BLOCK)
                c0 = int(rows.a[m][0])
                chunks[p] = (c0, self.reader.block(sids[p], c0, int(rows.b[m][-1])))
            yield self._window(rows, records, chunks)

    def _gap_cuts(self) -> tuple[dict[str, NDArray[np.float64]], dict[str, NDArray[np.float64]]]:
        """Per sensor, where every recorded gap cuts its samples, and where it ends.

        The cut is :func:`.grid.gap_cut_s`; no block after a gap is known before its end.
        """
        cuts: dict[str, list[float]] = {}
        ends: dict[str, list[float]] = {}
        if GAP in self.kinds:
            for batch in self.reader.iter_records(Gap, RECORD_BATCH_ROWS):
                for g in batch:
                    cuts.setdefault(g.sensor_id, []).append(gap_cut_s(g))
                    ends.setdefault(g.sensor_id, []).append(float(g.end_s))
        return ({sid: np.asarray(v, dtype=np.float64) for sid, v in cuts.items()},
                {sid: np.asarray(v, dtype=np.float64) for sid, v in ends.items()})

    def _record_rows(self, feeds: dict[int, _Feed]) -> tuple[Rows, Any]:
        """The feeds' remaining rows in grid order, and ``fetch(kind, row)`` for their records.

        Few rows (a crash's tail) keep their records; more are read again when replayed.
        """
        parts: list[Rows] = []
        kept: dict[tuple[int, int], Any] | None = {}
        starts = {k: feed.row for k, feed in feeds.items()}
        while True:
            progressed = False
            for k, feed in feeds.items():
                first = feed.row
                batch = feed.take(RECORD_BATCH_ROWS)
                if not batch:
                    continue
                progressed = True
                ok = [j for j, rec in enumerate(batch) if self._record_ok(k, rec)]
                parts.append(Rows(np.array([self._record_key(k, batch[j]) for j in ok], dtype=np.float64),
                                  np.full(len(ok), k, np.int8),
                                  np.array([self.pos[batch[j].sensor_id] for j in ok], dtype=np.int32),
                                  np.array([first + j for j in ok], dtype=np.int64), np.zeros(len(ok), np.int64)))
                if kept is not None:
                    kept.update(((k, first + j), batch[j]) for j in ok)
                    if len(kept) > self.window_items:
                        kept = None
            if not progressed:
                break
        rows = Rows.concat(parts)
        rows = rows.take(sort_order(rows))
        if kept is not None:
            records = kept
            return rows, lambda k, r: records.pop((k, r))
        fetchers = {}
        for k in feeds:
            feed = self._feed(k)
            while feed.row < starts[k] and feed.take(min(RECORD_BATCH_ROWS, starts[k] - feed.row)):
                pass
            fetchers[k] = _Fetcher(feed, np.sort(rows.a[rows.kind == k]), RECORD_BATCH_ROWS)
        return rows, lambda k, r: fetchers[k].get(r)
