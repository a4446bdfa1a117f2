"""The shoe detector's pitch integral gives the bits of its plain numpy formula, short or long."""

import math

import numpy as np

from sensorkit.dsp.foot import FootStepDetector, FootStepSettings
from sensorkit.model import Side


def _reference(det: FootStepDetector, a: float, b: float) -> float:
    """Trapezoids over [a, samples between, b] of the pitch rate, built and summed in numpy."""
    if b < a:
        return -_reference(det, b, a)
    i0, i1 = int(a), int(b)
    w = det._raw.view(i0, i1 + 2)
    if w.shape[0] < 2:
        return 0.0
    t, g = w[:, 0], w[:, 4:6] @ det._pitch_axis
    fa, fb = a - i0, b - i1
    j = min(i1 - i0, w.shape[0] - 2)
    ta, ga = t[0] + fa * (t[1] - t[0]), g[0] + fa * (g[1] - g[0])
    tb, gb = t[j] + fb * (t[j + 1] - t[j]), g[j] + fb * (g[j + 1] - g[j])
    tt = np.concatenate([[ta], t[1:j + 1], [tb]])
    gg = np.concatenate([[ga], g[1:j + 1], [gb]])
    return float(np.sum(0.5 * (gg[1:] + gg[:-1]) * np.diff(tt)))


def test_rotation_equals_the_numpy_formula_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    for side in (Side.LEFT, Side.RIGHT):
        det = FootStepDetector(FootStepSettings(), 200.0, side)
        n = 400
        t = np.arange(n) / 200.0 + rng.normal(0, 1e-4, n)
        acc = rng.normal(0, 2, (n, 3))
        gyr = rng.normal(0, 300, (n, 3))
        gyr[17, 1] = -0.0
        det.update(t, acc, gyr)
        for _ in range(3000):
            a = float(rng.uniform(0, n))
            b = a + float(rng.choice([0.0, rng.uniform(0, 1), rng.uniform(0, 8), rng.uniform(0, 40)]))
            b = min(b, n - 0.25)  # up to the newest sample: the view is clipped there
            got, want = det._rotation(a, b), _reference(det, a, b)
            assert math.copysign(1.0, got) == math.copysign(1.0, want) and got == want, (a, b)
            assert det._rotation(b, a) == -want
