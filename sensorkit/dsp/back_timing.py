"""Timing of one lower-back stance on a window of filtered vertical acceleration.

Pure functions; the detector (``back.py``) chooses fixed windows so block boundaries cannot
matter. ``pulse_contact``: IC and TC from the force pulse's centroid and width (the default,
see ``back.py``'s docstring). The crossings: IC and TC where an edge crosses a level between
the flight minimum and the stance peak (the fallback).
"""

from __future__ import annotations

import math

import numpy as np

from sensorkit.dsp.base import F64


def pulse_contact(x: F64, rise_k: int, fall_k: int, powers: F64, cap_g: float, sd_floor2: float,
                  sd_per_contact: float, centroid_fraction: float,
                  contact_n: tuple[float, float]) -> tuple[float, float] | None:
    """(IC position in ``x``, contact length), both in samples; None for an implausible width.

    The pulse is ``x`` between its minimum up to the rising edge ``rise_k`` and its minimum
    from the falling edge ``fall_k`` on, limited to 0..``cap_g``. ``powers`` holds rows 1, k,
    k^2 (its moments in one product); ``sd_floor2`` is the fixed smear squared (samples^2).
    """
    kb = int(x[: rise_k + 1].argmin())
    ka = fall_k + int(x[fall_k:].argmin())
    w = np.minimum(np.maximum(x[kb:ka + 1], 0.0), cap_g)
    if w.shape[0] > powers.shape[1]:  # longer than any plausible stance
        w = w[: powers.shape[1]]
    m0, m1, m2 = (powers[:, : w.shape[0]] @ w).tolist()  # sum of w, k w, k^2 w
    if m0 <= 0.0:
        return None
    c = m1 / m0
    cen = kb + c
    var = m2 / m0 - c * c
    n = math.sqrt(max(var - sd_floor2, 0.0)) / sd_per_contact
    if not (contact_n[0] <= n <= contact_n[1]):
        return None
    return min(max(cen - centroid_fraction * n, float(kb)), float(rise_k)), n


def walk_back_cross(x: list[float], k: int, level: float, up: bool) -> float | None:
    """Fractional position of the last crossing of ``level`` at or before sample ``k``."""
    i = min(k, len(x) - 1)
    if up:
        while i > 0 and not (x[i - 1] < level <= x[i]):
            i -= 1
    else:
        while i > 0 and not (x[i - 1] > level >= x[i]):
            i -= 1
    if i <= 0:
        return None
    a, b = x[i - 1], x[i]
    return i - 1 + (level - a) / (b - a) if b != a else float(i - 1)


def walk_fwd_cross(x: list[float], k: int, level: float, up: bool) -> float | None:
    """Fractional position of the first crossing of ``level`` after sample ``k``."""
    i = max(k, 0) + 1
    n = len(x)
    if up:
        while i < n and not (x[i - 1] < level <= x[i]):
            i += 1
    else:
        while i < n and not (x[i - 1] > level >= x[i]):
            i += 1
    if i >= n:
        return None
    a, b = x[i - 1], x[i]
    return i - 1 + (level - a) / (b - a) if b != a else float(i - 1)

