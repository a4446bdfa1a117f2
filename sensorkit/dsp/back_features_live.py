"""Lower-back stance features for the few stances of a live block, in few numpy calls.

On live blocks (a handful of samples) each update releases one stance, and numpy's fixed cost
per call (a few thousand instructions) is nearly all of the price: the row-wise batch code of
``back_features`` makes ~150 calls per batch. Here channels, masks and levels are stacked so
one call serves all of them, and the handful of operations per stance (never per sample) run
on Python floats after one ``tolist``: the same IEEE operations on the same fixed-width rows,
so the same bits as the batch code (checked against the plain definition in
``tests/test_dsp_back_features.py``). On big batches the per-stance Python costs more than the
calls it saves, so ``back_features`` keeps the row-wise code there.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.typing import NDArray

from sensorkit.dsp.base import F64, History

G_MPS2 = 9.80665
I64 = NDArray[np.int64]
Mask = NDArray[np.bool_]
# Channel offsets in a raw row (t, ax, ay, az, gx) of the planes gathered per step.
_GYRO = np.array([4, 4, 3])[:, None, None]  # gx (stance), gx (step), az
_NO_GYRO = np.array([2, 3])[:, None, None]  # ay (stance), az
_NEAR = np.array([3, 1, 2, 0])[:, None, None]  # az, ax, ay, t


@functools.lru_cache(maxsize=4)
def _prefix_masks(width: int) -> Mask:
    """Row ``n``: the first ``n`` of ``width`` columns (masks by row lookup, not a comparison per sample)."""
    return np.arange(width)[None, :] < np.arange(width + 1)[:, None]


def few_stance_features(raw: History, i0: list[int], i_tc: list[int], i1: list[int], cols: I64,
                        fs: float, side_acc_scale_g: float, side_gyr_scale_dps: float,
                        acc_range_g: float | None) -> tuple[list[int], list[float], list[float], list[float],
                                                        list[float], list[float], list[bool]]:
    """``back_features.stance_features`` for a few stances, as its fields in order (the same bits)."""
    k = len(i0)
    width = cols.shape[1]
    lo = min(i0)
    view = raw.view(lo, max(max(i1), max(i_tc)))
    size = view.shape[0]
    rel = [a - lo for a in i0]
    n_stance = [min(b - a, size - r) for a, b, r in zip(i0, i_tc, rel, strict=True)]
    n_step = [min(b - a, size - r) for a, b, r in zip(i0, i1, rel, strict=True)]
    n_imp = [max(3, (n + 1) // 2) for n in n_stance]
    narrow = min(max(n_imp), width)
    flat = view.ravel()  # rows of t, ax, ay, az, gx
    # Per step: time of its first and last sample, roll rate at its start (NaN: no gyro).
    ends = flat.take([min(r, size - 1) * 5 for r in rel]
                     + [min(r + max(n - 1, 0), size - 1) * 5 for r, n in zip(rel, n_step, strict=True)]
                     + [min(r, size - 1) * 5 + 4 for r in rel]).tolist()
    dt = [(last - first) / max(n - 1, 1) if n > 1 else 1.0 / fs
          for first, last, n in zip(ends[:k], ends[k:2 * k], n_step, strict=True)]
    gyro = not any(math.isnan(x) for x in ends[2 * k:])
    # Every channel needed, for every step row, in one gather: (channel, step, column); past
    # the end of what is held, the last sample. The first channels are summed under a mask (a
    # prefix of the row): the side channel over the stance (and the roll rate over the step),
    # az over the step; the last four (az, ax, ay, t) feed the impact on the first columns.
    full, lens = (_GYRO, [n_stance, n_step, n_step, n_imp]) if gyro else (_NO_GYRO, [n_stance, n_step, n_imp])
    idx = np.minimum(np.array(rel)[:, None] + cols, size - 1) * 5
    rows = flat[idx + full]
    masks = _prefix_masks(width)[np.array([min(max(n, 0), width) for x in lens for n in x]).reshape(len(lens), k)]
    masked = np.where(masks[:-1], rows, 0.0)
    sums = np.add.reduce(masked, axis=2)
    side = sums[:2].tolist()
    if gyro:  # roll rate: its stance mean is below its step mean in a left stance
        cue_st = [-(s / max(n, 1)) / side_gyr_scale_dps for s, n in zip(side[0], n_stance, strict=True)]
        cue = [c + (s / max(n, 1)) / side_gyr_scale_dps for c, s, n in zip(cue_st, side[1], n_step, strict=True)]
    else:  # no gyro: obliquity through gravity (weaker)
        # The plain stance mean (+ on every left step on the simulator and Fukuchi): a
        # constant offset from calibration cancels in the alternating vote.
        cue_st = [(s / max(n, 1)) / side_acc_scale_g for s, n in zip(side[0], n_stance, strict=True)]
        cue = cue_st
    vo = _vertical_oscillation_cm(masked[-1], sums[-1], masks[-2], n_step, dt, cols)
    m_imp = masks[-1][:, :narrow]
    near = flat[idx[:, :narrow] + _NEAR]  # az, ax, ay, t
    peak, rate = _impact(near[0], near[3], m_imp, cols[:, :narrow])
    sat = _saturated_rows(near[:3], m_imp, acc_range_g)
    return n_stance, cue, cue_st, peak, rate, vo, sat


def _vertical_oscillation_cm(az_g: F64, az_sum: F64, mask: Mask, lengths: list[int], dt_s: list[float],
                            cols: I64) -> list[float]:
    """Peak-to-peak height over each step by double integration, drift-free per step.

    ``az_g`` holds the steps' rows, zero past each step (``mask``, a prefix of its row),
    ``az_sum`` their sums. Acceleration minus its step mean, integrated; velocity minus its
    mean, integrated; the position's linear trend (start to end) removed: a step starts and
    ends at the same phase of a periodic motion. NaN for steps shorter than 4 samples.
    """
    n = [max(x, 1) for x in lengths]
    n_col = np.array(n)
    # A mask is a prefix of its row, so a cumulative sum inside it never sees what lies outside:
    # only the sums need the outside zeroed.
    v = np.where(mask, np.add.accumulate(az_g - (az_sum / n_col)[:, None], axis=1), 0.0)
    p = np.add.accumulate(v - (np.add.reduce(v, axis=1) / n_col)[:, None], axis=1)
    width = p.shape[1]
    k = len(n)
    ends = p.take([r * width for r in range(k)] + [r * width + m - 1 for r, m in enumerate(n)]).tolist()
    slope = [[(last - first) / max(m - 1, 1)] for first, last, m in zip(ends[:k], ends[k:], n, strict=True)]
    p = p - cols * np.array(slope)
    # Outside the step, repeat its first value: the extremes are those of the step alone.
    p = np.where(mask, p, p[:, :1])
    hi, lo = np.maximum.reduce(p, axis=1).tolist(), np.minimum.reduce(p, axis=1).tolist()
    return [(h - low) * G_MPS2 * dt * dt * 100.0 if m >= 4 else math.nan
            for h, low, dt, m in zip(hi, lo, dt_s, lengths, strict=True)]


def _impact(z: F64, t: F64, mask: Mask, cols: I64) -> tuple[list[float], list[float]]:
    """Peak of each row (within ``mask``) and the 20-80 % loading rate of the rise from its first value.

    ``z`` and ``t`` are contiguous rows of the same width, ``cols`` that width's column
    numbers. Returns ``(peak, rate)``; rate is NaN when the peak is within two samples of the
    start.
    """
    zm = np.where(mask, z, -np.inf)
    top = zm.argmax(axis=1)
    k, width = z.shape
    top_k = top.tolist()
    pb = zm.take([r * width + c for r, c in enumerate(top_k)] + [r * width for r in range(k)]).tolist()
    peak, base = pb[:k], pb[k:]
    levels = [[b + 0.2 * (p - b) for p, b in zip(peak, base, strict=True)],
              [b + 0.8 * (p - b) for p, b in zip(peak, base, strict=True)]]
    t20, t80 = _first_crossing_times(z, t, top, levels, cols)
    rate = [(hi - lo) / (b - a) if c >= 2 and b > a else math.nan
            for lo, hi, a, b, c in zip(levels[0], levels[1], t20, t80, top_k, strict=True)]
    return peak, rate


def _first_crossing_times(z: F64, t: F64, top: I64, levels: list[list[float]],
                          cols: I64) -> list[list[float]]:
    """When each row of ``z`` first reaches each of ``levels`` (one list per level, one value per row).

    After the row's first sample, up to its column ``top``, linear between samples; NaN if never.
    """
    zz = np.where(cols <= top[:, None], z, -np.inf)
    zz[:, 0] = -np.inf  # a crossing needs a sample before it
    first = (zz >= np.array(levels)[:, :, None]).argmax(axis=2).tolist()  # 0: never
    k, width = z.shape
    flat = [r * width + i for row in first for r, i in enumerate(row)]
    before = [x - 1 for x in flat]
    zi, ti = z.take(before + flat).tolist(), t.take(before + flat).tolist()
    n = len(flat)
    out = []
    for m, row in enumerate(first):
        times = []
        for r, i in enumerate(row):
            if i == 0:
                times.append(math.nan)
                continue
            j = m * k + r
            z0, z1, t0, t1 = zi[j], zi[n + j], ti[j], ti[n + j]
            f = (levels[m][r] - z0) / (z1 - z0) if z1 != z0 else 0.0
            times.append(t0 + f * (t1 - t0))
        out.append(times)
    return out


def _saturated_rows(axes: F64, mask: Mask, range_g: float | None) -> list[bool]:
    """Per row: any axis within 2 % of the range; range unknown: a flat top of >= 2 samples > 4 g.

    ``axes`` is (axis, row, column).
    """
    m = np.where(mask, np.maximum.reduce(np.abs(axes), axis=0), 0.0)
    top = np.maximum.reduce(m, axis=1)
    top_g = top.tolist()
    if range_g is not None:
        return [x >= 0.98 * range_g for x in top_g]
    if not any(x > 4.0 for x in top_g):  # the usual case: no row can have a flat top
        return [False] * len(top_g)
    flat = (np.add.reduce(m >= top[:, None] - 1e-6, axis=1) >= 2).tolist()
    return [x > 4.0 and f for x, f in zip(top_g, flat, strict=True)]
