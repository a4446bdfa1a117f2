"""Lower-back stance features: the batched fast code against the plain definition.

``stance_features`` computes small batches (live blocks) with few numpy calls and per-stance
Python arithmetic, big ones row-wise; here each stance is computed alone with plain numpy on its
zero-padded row, the way the features are defined, and both paths must agree with it bit for
bit (whatever the batch, so block boundaries cannot matter).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sensorkit.dsp.back_features import FEW_STANCES, stance_features
from sensorkit.dsp.base import History

WIDTH = 60
FS = 200.0


def _plain(raw: History, i0: int, i_tc: int, i1: int, range_g: float | None) -> tuple:
    """One stance by the definitions (rows of ``WIDTH`` columns, zero past the step)."""
    x = raw.view(i0, max(i1, i_tc))
    t, ax, ay, az, gx = x.T
    n_st, n_sp = min(i_tc - i0, len(t)), min(i1 - i0, len(t))

    def row(v: np.ndarray, n: int) -> np.ndarray:
        out = np.zeros(WIDTH)
        out[:n] = v[:n]
        return out

    def mean(v: np.ndarray, n: int) -> float:
        return float(np.add.reduce(row(v, n)[None, :], axis=1)[0]) / max(n, 1)

    if math.isnan(gx[0]):
        cue_st = mean(ay, n_st) / 0.05
        cue = cue_st
    else:
        cue_st = -mean(gx, n_st) / 5.0
        cue = cue_st + mean(gx, n_sp) / 5.0
    # Vertical oscillation: double integration of az minus its mean, detrended, peak to peak.
    n = max(n_sp, 1)
    a = az[:n] - mean(az, n_sp)
    v = np.add.accumulate(a)
    p = np.add.accumulate(v - float(np.add.reduce(row(v, n)[None, :], axis=1)[0]) / n)
    p = p - np.arange(n) * ((p[-1] - p[0]) / max(n - 1, 1))
    dt = (t[n_sp - 1] - t[0]) / max(n_sp - 1, 1) if n_sp > 1 else 1.0 / FS
    vo = (p.max() - p.min()) * 9.80665 * dt * dt * 100.0 if n_sp >= 4 else math.nan
    # Impact: peak within the first half of the stance, 20-80 % rise from the first sample.
    m = max(3, (n_st + 1) // 2)
    z, tz = az[:m], t[:m]
    k = int(z.argmax())
    peak, base = float(z[k]), float(z[0])
    times = []
    for level in (base + 0.2 * (peak - base), base + 0.8 * (peak - base)):
        hits = np.flatnonzero(z[1:k + 1] >= level)
        if not hits.size:
            times.append(math.nan)
            continue
        i = int(hits[0]) + 1
        f = (level - z[i - 1]) / (z[i] - z[i - 1]) if z[i] != z[i - 1] else 0.0
        times.append(tz[i - 1] + f * (tz[i] - tz[i - 1]))
    lo, hi = base + 0.2 * (peak - base), base + 0.8 * (peak - base)
    rate = (hi - lo) / (times[1] - times[0]) if k >= 2 and times[1] > times[0] else math.nan
    top_axes = np.maximum(np.maximum(np.abs(ax[:m]), np.abs(ay[:m])), np.abs(az[:m]))
    top = float(top_axes.max())
    sat = top >= 0.98 * range_g if range_g is not None else top > 4.0 and int((top_axes >= top - 1e-6).sum()) >= 2
    return n_st, cue, cue_st, peak, rate, vo, sat


def _bits(values: tuple) -> list[str]:
    """Exact representation (floats by their hex digits, NaN included)."""
    return [float(v).hex() if not isinstance(v, (bool, np.bool_)) else str(bool(v)) for v in values]


def _history(seed: int, gyro: bool, scale: float) -> History:
    rng = np.random.default_rng(seed)
    n = 400
    raw = History(5, n)
    t = np.arange(n) / FS + 0.001 * rng.standard_normal(n)
    acc = scale * (1.0 + np.sin(np.arange(n) / 7.0)[:, None] + 0.3 * rng.standard_normal((n, 3)))
    if scale > 2:  # a sensor clipping at 5 g: flat tops
        acc = np.clip(acc, -5.0, 5.0)
    gx = 20.0 * rng.standard_normal(n) if gyro else np.full(n, np.nan)
    raw.append_parts(t, acc, gx)
    return raw


@pytest.mark.parametrize(("gyro", "scale", "range_g"), [(True, 1.0, None), (False, 1.0, None),
                                                        (True, 3.0, None), (False, 2.0, 4.0)])
def test_batched_stance_features_equal_each_stance_by_its_definition(gyro: bool, scale: float,
                                                                     range_g: float | None) -> None:
    raw = _history(7, gyro, scale)
    rng = np.random.default_rng(1)
    i0 = sorted(int(x) for x in rng.choice(np.arange(20, 300), 6, replace=False))
    i_tc = [a + int(rng.integers(2, 30)) for a in i0]
    i1 = [b + int(rng.integers(0, 25)) for b in i_tc]
    cols = np.arange(WIDTH)[None, :]
    # Batches of 1 and FEW_STANCES take the live path, the batch of 6 the row-wise one.
    for size in (1, FEW_STANCES, len(i0)):
        got: list[tuple] = []
        for a in range(0, len(i0), size):
            f = stance_features(raw, i0[a:a + size], i_tc[a:a + size], i1[a:a + size], cols, FS, 0.05, 5.0, range_g)
            got += zip(f.n_stance, f.cue, f.cue_stance, f.impact_g, f.loading_rate_gps,
                       f.vertical_oscillation_cm, f.saturated, strict=True)
        for k in range(len(i0)):
            assert _bits(got[k]) == _bits(_plain(raw, i0[k], i_tc[k], i1[k], range_g)), (size, k)
