"""Per-step features computed for many steps at once on fixed-width padded rows.

Each step's samples are gathered into a row of a fixed width (zero-padded), so every row's
result depends only on that step's own samples: the same bits whichever other steps happen to
be computed in the same batch (which depends on block boundaries). One batch of numpy calls
replaces dozens of small calls per step. Reductions are called as ufunc methods
(``np.add.reduce``, not ``ndarray.sum``): the same computation without a Python wrapper, which
costs more than the work itself on the one-stance batches of live blocks.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from sensorkit.dsp.base import F64

G_MPS2 = 9.80665
I64 = NDArray[np.int64]


def masks(lengths: I64, width: int) -> NDArray[np.bool_]:
    return np.arange(width)[None, :] < np.minimum(lengths, width)[:, None]


def gather(x: F64, starts: I64, lengths: I64, width: int) -> tuple[F64, NDArray[np.bool_]]:
    """Rows ``x[starts[k]:starts[k]+lengths[k]]`` zero-padded to ``width``, and their mask."""
    col = np.arange(width)
    mask = col[None, :] < np.minimum(lengths, width)[:, None]
    idx = np.minimum(starts[:, None] + col[None, :], x.shape[0] - 1)
    return np.where(mask, x[idx], 0.0), mask


def row_means(rows: F64, lengths: I64) -> F64:
    return np.add.reduce(rows, axis=1) / np.maximum(lengths, 1)


def vertical_oscillation_cm(az_g: F64, mask: NDArray[np.bool_], lengths: I64, dt_s: F64) -> F64:
    """Peak-to-peak height over each step by double integration, drift-free per step.

    Acceleration minus its step mean, integrated; velocity minus its mean, integrated;
    the position's linear trend (start to end) removed: a step starts and ends at the same
    phase of a periodic motion. NaN for steps shorter than 4 samples.
    """
    n = np.maximum(lengths, 1)
    # Beyond the longest step everything is masked: only the row sums need the full width
    # (their bits depend on the row length), the rest runs on the columns in use.
    used = int(np.maximum.reduce(n))
    mask = mask[:, :used]
    # A mask is a prefix of its row, so a cumulative sum inside it never sees what lies outside:
    # only the sums need the outside zeroed.
    a = az_g[:, :used] - (np.add.reduce(az_g, axis=1) / n)[:, None]
    v = np.zeros(az_g.shape)
    v[:, :used] = np.where(mask, np.add.accumulate(a, axis=1), 0.0)
    p = np.add.accumulate(v[:, :used] - (np.add.reduce(v, axis=1) / n)[:, None], axis=1)
    last = p[np.arange(p.shape[0]), n - 1]
    slope = (last - p[:, 0]) / np.maximum(n - 1, 1)
    p = p - np.arange(p.shape[1])[None, :] * slope[:, None]
    hi = np.maximum.reduce(np.where(mask, p, -np.inf), axis=1)
    lo = np.minimum.reduce(np.where(mask, p, np.inf), axis=1)
    out = (hi - lo) * G_MPS2 * dt_s * dt_s * 100.0
    return np.where(lengths >= 4, out, np.nan)


def impact(z: F64, mask: NDArray[np.bool_], t: F64) -> tuple[F64, F64]:
    """Peak of each row and the 20-80 % loading rate of the rise from the row's first value.

    Returns ``(peak, rate)``; rate is NaN when the peak is within two samples of the start.
    """
    zm = np.where(mask, z, -np.inf)
    k = zm.argmax(axis=1)
    rows = np.arange(z.shape[0])
    peak = zm[rows, k]
    base = z[:, 0]
    lo = base + 0.2 * (peak - base)
    hi = base + 0.8 * (peak - base)
    col = np.arange(z.shape[1])[None, :]
    before = col <= k[:, None]
    t20, t80 = _first_crossing_times(z, t, before, np.array((lo, hi)))
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where((k >= 2) & (t80 > t20), (hi - lo) / (t80 - t20), np.nan)
    return peak, rate


def _first_crossing_times(z: F64, t: F64, allowed: NDArray[np.bool_], levels: F64) -> F64:
    """When each row of ``z`` first reaches each row of ``levels`` (shape (m, rows)).

    After the row's first sample, within ``allowed``, linear between samples; NaN if never.
    """
    above = (z >= levels[:, :, None]) & allowed  # (m, rows, width)
    above[:, :, 0] = False
    i = above.argmax(axis=2)
    r = np.arange(z.shape[0])
    ok = above[np.arange(levels.shape[0])[:, None], r, i]
    i = np.maximum(i, 1)
    z0, z1 = z[r, i - 1], z[r, i]
    t0, t1 = t[r, i - 1], t[r, i]
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(z1 != z0, (levels - z0) / (z1 - z0), 0.0)
    return np.where(ok, t0 + f * (t1 - t0), np.nan)


def saturated_rows(axes: list[F64], mask: NDArray[np.bool_], range_g: float | None) -> NDArray[np.bool_]:
    """Per row: any axis within 2 % of the range; range unknown: a flat top of >= 2 samples > 4 g."""
    m = np.abs(axes[0])
    for a in axes[1:]:
        m = np.maximum(m, np.abs(a))
    m = np.where(mask, m, 0.0)
    top = np.maximum.reduce(m, axis=1)
    if range_g is not None:
        return np.asarray(top >= 0.98 * range_g)
    flat = np.add.reduce(m >= top[:, None] - 1e-6, axis=1) >= 2
    return np.asarray((top > 4.0) & flat)
