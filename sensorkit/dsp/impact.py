"""Impact peak, loading rate and saturation of one touchdown (pure functions on a window)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensorkit.dsp.base import F64


@dataclass(slots=True)
class Impact:
    """One touchdown's impact (not frozen: a frozen dataclass's fields cost ~1.6 k instructions each)."""

    peak_g: float
    loading_rate_gps: float | None
    saturated: bool


def impact_of(t: F64, acc_g: F64, signal_g: F64, range_g: float | None) -> Impact | None:
    """Impact of a touchdown from the samples ``t``/``signal_g`` between IC and the search end.

    ``signal_g`` is the quantity whose peak is reported (the resultant for shoes, vertical for
    the lower back); ``acc_g`` (n, 3) is only used to detect saturation. The loading rate is
    the slope between 20 % and 80 % of the rise from the value at IC to the peak.
    Saturation: any axis within 2 % of the configured range, or (range unknown) a flat top of
    at least two samples at the window maximum above 4 g, a typical clipping signature.
    """
    n = signal_g.shape[0]
    if n < 3:
        return None
    # A window is a dozen samples: past the peak search, the handful of picks and crossings run
    # on Python floats (the same IEEE operations as numpy's scalars, a tenth of the calls).
    k = int(signal_g.argmax())
    sig = signal_g.tolist()
    peak = sig[k]
    base = sig[0]
    rate: float | None = None
    if k >= 2 and peak > base:
        lo = base + 0.2 * (peak - base)
        hi = base + 0.8 * (peak - base)
        tl = t.tolist()
        t20 = _cross_time(tl, sig, _first_at_least(sig, k, lo), lo)
        t80 = _cross_time(tl, sig, _first_at_least(sig, k, hi), hi)
        if t80 > t20:
            rate = (hi - lo) / (t80 - t20)
    return Impact(peak, rate, saturated(acc_g, range_g))


def saturated(acc_g: F64, range_g: float | None) -> bool:
    """Any axis within 2 % of the range; range unknown: a flat top of >= 2 samples above 4 g."""
    absmax = np.abs(acc_g)
    top = float(np.maximum.reduce(absmax, axis=None))  # ndarray.max without its Python wrapper
    if range_g is not None:
        return top >= 0.98 * range_g
    return top > 4.0 and int(np.count_nonzero(absmax >= top - 1e-6)) >= 2


def _first_at_least(x: list[float], k: int, level: float) -> int:
    """``int((x[:k + 1] >= level).argmax())``: the first index up to ``k`` reaching ``level``, else 0."""
    for i in range(k + 1):
        if x[i] >= level:
            return i
    return 0


def _cross_time(t: list[float], x: list[float], i: int, level: float) -> float:
    if i == 0:
        return t[0]
    a, b = x[i - 1], x[i]
    f = 0.0 if b == a else (level - a) / (b - a)
    return t[i - 1] + f * (t[i] - t[i - 1])
