"""Shared pieces of every DSP stage: health flags, a sample history and time helpers.

Every stage follows one pattern (see ``docs/dsp.md``): a frozen settings dataclass with units
in its field names, a constructor taking the settings and ``sampling_rate_hz``, ``update(...)``
on numpy blocks returning results, ``gap()`` when samples are missing, ``reset()`` back to the
freshly constructed state, and a :class:`StageHealth`. Results depend only on the sample
stream, never on how it was cut into blocks: state is carried in filters (``zi``) and in a
:class:`History` of recent samples addressed by absolute sample index.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]


@dataclass(slots=True)
class StageHealth:
    """What a stage reports about itself; counters only grow until ``reset()``."""

    warming_up: bool = True
    """No results yet: filters settling, calibration pending or too little history."""
    saturated: int = 0
    """Samples (or steps) seen at the sensor's full-scale range."""
    rejected: int = 0
    """Candidates dropped by plausibility limits."""
    gaps: int = 0
    """Gaps (explicit or from timestamps) that restarted the stage."""

    def copy(self) -> StageHealth:
        return dataclasses.replace(self)


class History:
    """The most recent samples of several aligned float channels, addressed by absolute index.

    Index 0 is the first sample ever appended (since construction or ``clear``). Rows older
    than ``keep`` samples behind the newest may be discarded on the next append; callers ask
    only for what they declared in ``keep``.
    """

    def __init__(self, width: int, keep: int) -> None:
        self.width = width
        self.keep = max(int(keep), 1)
        self._set_buffer(np.empty((2 * self.keep + 64, width)))
        self._start = 0  # absolute index of _buf[0]
        self._n = 0

    def _set_buffer(self, buf: F64) -> None:
        self._buf = buf
        # Single values are read through a memoryview: a Python float straight from memory, a
        # third of the instructions of numpy's scalar indexing (detectors read a few per edge).
        self._mv = buf.data

    @property
    def end(self) -> int:
        """Absolute index one past the newest sample."""
        return self._start + self._n

    @property
    def start(self) -> int:
        """Absolute index of the oldest sample still held."""
        return self._start

    def clear(self, restart_at: int | None = None) -> None:
        """Forget everything; the next sample gets index ``restart_at`` (default: continue)."""
        self._start = self.end if restart_at is None else restart_at
        self._n = 0

    def append_parts(self, *parts: F64) -> None:
        """Append rows given as column pieces ((n,) or (n, k) arrays), without stacking first."""
        m = parts[0].shape[0]
        if m == 0:
            return
        if self._n + m > self._buf.shape[0]:
            self._make_room(m)
        c = 0
        rows = self._buf[self._n:self._n + m]
        for p in parts:
            if p.ndim == 1:
                rows[:, c] = p
                c += 1
            else:
                k = p.shape[1]
                rows[:, c:c + k] = p
                c += k
        self._n += m

    def _make_room(self, m: int) -> None:
        """Drop rows older than ``keep`` (or grow) so that ``m`` more fit; callers check first."""
        if self._n + m > self._buf.shape[0]:
            keep = min(self._n, self.keep)
            drop = self._n - keep
            if keep + m > self._buf.shape[0]:
                new = np.empty((2 * (keep + m), self.width))
                new[:keep] = self._buf[drop:self._n]
                self._set_buffer(new)
            else:
                self._buf[:keep] = self._buf[drop:self._n]
            self._start += drop
            self._n = keep

    def append(self, rows: F64) -> None:
        m = rows.shape[0]
        if m == 0:
            return
        if self._n + m > self._buf.shape[0]:
            self._make_room(m)
        self._buf[self._n:self._n + m] = rows
        self._n += m

    def value(self, i: int, col: int = 0) -> float:
        """One held value (row ``i`` absolute), without building a view."""
        return self._mv[i - self._start, col]

    def interp(self, pos: float, step_rate: float, col: int = 0) -> float:
        """Value at fractional row ``pos`` (absolute), linear between held rows.

        At the newest row it goes on with slope ``1 / step_rate`` per row (for a time column:
        the sampling rate, one nominal period per row).
        """
        i = int(pos)
        r = i - self._start
        mv = self._mv
        v0: float = mv[r, col]
        if r + 1 < self._n:
            return v0 + (pos - i) * (mv[r + 1, col] - v0)
        return v0 + (pos - i) / step_rate

    def view(self, lo: int, hi: int) -> F64:
        """Rows with absolute indices ``lo:hi`` (clipped to what is held); a view, do not keep."""
        # Conditional expressions, not max()/min() and the ``end`` property: detectors call this
        # several times a stance, and the builtin calls cost more than the slice.
        start = self._start
        lo = lo - start if lo > start else 0
        hi -= start
        n = self._n
        return self._buf[lo:(n if hi > n else hi) if hi > lo else lo]

    def column(self, lo: int, hi: int, col: int = 0) -> F64:
        """``view(lo, hi)[:, col]`` in one indexing step (each costs about a thousand instructions)."""
        start = self._start
        lo = lo - start if lo > start else 0
        hi -= start
        n = self._n
        return self._buf[lo:(n if hi > n else hi) if hi > lo else lo, col]


def rotate(v: F64, r: F64) -> F64:
    """``v @ r.T`` for rows of 3, elementwise so every row gets the same bits whatever ``n``.

    ``v`` is (n, 3), or (k, n, 3) to turn several blocks in one pass. A BLAS matrix product
    may pick a different kernel (and rounding) for 1 row than for 1000, which would break
    "chunked == batch" bit for bit. Both ways below compute each row as
    ``(r[i, 0] * x + r[i, 1] * y) + r[i, 2] * z`` with separate ufuncs (no fused multiply-add),
    so they give the same bits; which is cheaper depends on the number of rows.
    """
    n = v.shape[-2]
    if n >= _LONG_ROWS:
        return _rotate_long(v, r)
    return _rotate_short(v, r) if n <= _SHORT_ROWS else _rotate_broadcast(v, r)


_LONG_ROWS = 256
"""Blocks of this many rows or more are rotated by ``_rotate_long`` (the cheaper way from ~200)."""
_SHORT_ROWS = 32
"""Blocks of this many rows or fewer are rotated by ``_rotate_short`` (live blocks: 8 rows)."""


def _rotate_short(v: F64, r: F64) -> F64:
    """``rotate`` in three numpy calls: the fewest, for live blocks of a few rows.

    All nine products ``x_j * r[i, j]`` in one broadcast product, then summed over ``j`` in
    rotate's order (the products commute exactly): ~40 k instructions for 2 x 8 rows against
    ~60 k for ``_rotate_broadcast``, whose calls run along the samples and win from ~48 rows.
    """
    p = v[..., None, :] * r
    out = p[..., 0] + p[..., 1]
    out += p[..., 2]
    return out


def _rotate_broadcast(v: F64, r: F64) -> F64:
    """``rotate`` in a few broadcast products: the fewest numpy calls, for live blocks of a few rows."""
    # Built as (..., 3, n) so every inner loop runs along the n samples, then laid out as (..., n, 3).
    vt = v.swapaxes(-1, -2)
    out = r[:, 0:1] * vt[..., 0:1, :] + r[:, 1:2] * vt[..., 1:2, :] + r[:, 2:3] * vt[..., 2:3, :]
    return np.ascontiguousarray(out.swapaxes(-1, -2))


def _rotate_long(v: F64, r: F64) -> F64:
    """``rotate`` for long blocks (rows of 3, or stacked (k, n, 3)), the same bits.

    ``_rotate_broadcast``'s products and transposed copy cost ~150 instructions a row. Here the
    rows are copied once into contiguous x, y, z columns, each body axis is summed from
    scalar-times-column products in the same order, ``(r0 * x + r1 * y) + r2 * z``, and
    written straight into the (n, 3) result: ~50 a row, but ~100 k a call, more than
    ``_rotate_broadcast`` costs a live block.
    """
    x, y, z = np.ascontiguousarray(v.reshape(-1, 3).T)
    out = np.empty((x.shape[0], 3))
    out_cols = out.T
    for i, (r0, r1, r2) in enumerate(r.tolist()):
        s = x * r0
        s += y * r1
        np.add(s, z * r2, out=out_cols[i])
    return out.reshape(v.shape)


def split_at_gaps(t: F64, last_t: float | None, max_dt_s: float) -> list[int]:
    """Indices where a new run of samples starts because the time step exceeds ``max_dt_s``.

    Index 0 is included when the first sample is too far from ``last_t`` (the previous block's
    last sample). Non-increasing time is treated as a gap too: such data cannot be trusted.
    """
    if t.shape[0] == 0:
        return []
    d = t[1:] - t[:-1]
    if d.shape[0] and np.maximum.reduce(d) <= max_dt_s and np.minimum.reduce(d) > 0:
        cuts: list[int] = []  # the usual case: one clean run, no per-sample mask needed
    else:
        cuts = (np.flatnonzero((d > max_dt_s) | (d <= 0)) + 1).tolist()
    if last_t is not None:
        d0 = float(t[0]) - last_t
        if d0 > max_dt_s or d0 <= 0:
            cuts.insert(0, 0)
    return cuts
