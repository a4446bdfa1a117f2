"""impact_of picks peak and crossings in Python floats: held to the numpy formulation bit for bit."""

from __future__ import annotations

import numpy as np

from sensorkit.dsp.impact import Impact, impact_of, saturated


def _numpy_impact(t: np.ndarray, acc: np.ndarray, z: np.ndarray, range_g: float | None) -> Impact | None:
    """The definition on numpy arrays and scalars (impact_of's earlier, numpy-only body)."""
    if z.shape[0] < 3:
        return None
    k = int(z.argmax())
    peak, base = float(z[k]), float(z[0])
    rate = None
    if k >= 2 and peak > base:
        rise = z[: k + 1]
        lo, hi = base + 0.2 * (peak - base), base + 0.8 * (peak - base)

        def cross(i: int, level: float) -> float:
            if i == 0:
                return float(t[0])
            a, b = float(rise[i - 1]), float(rise[i])
            f = 0.0 if b == a else (level - a) / (b - a)
            return float(t[i - 1] + f * (t[i] - t[i - 1]))

        t20, t80 = cross(int((rise >= lo).argmax()), lo), cross(int((rise >= hi).argmax()), hi)
        if t80 > t20:
            rate = (hi - lo) / (t80 - t20)
    return Impact(peak, rate, saturated(acc, range_g))


def test_impact_of_equals_the_numpy_formulation_exactly() -> None:
    rng = np.random.default_rng(11)
    for case in range(1500):
        n = int(rng.integers(1, 16))
        t = 100.0 + np.cumsum(rng.uniform(0.004, 0.006, n))
        acc = rng.normal(0.0, 3.0, (n, 3))
        if case % 3 == 0:
            z = np.round(rng.uniform(0.5, 8.0, n), 1)  # ties and plateaus
        elif case % 3 == 1:
            z = np.sort(rng.uniform(0.0, 10.0, n)) * rng.uniform(1e-3, 1e3)  # one rising edge
        else:
            z = np.sqrt(np.einsum("ij,ij->i", acc, acc))  # the shoe detector's |acc|
        window = np.column_stack([t, acc, z])  # strided columns, as the detector's views
        got = impact_of(window[:, 0], window[:, 1:4], window[:, 4], None if case % 2 else 16.0)
        want = _numpy_impact(t, acc, z, None if case % 2 else 16.0)
        assert repr(got) == repr(want)
