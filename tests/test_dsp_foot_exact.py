"""The shoe detector's shortcuts give the bits of the plain computations they replace."""

import math

import numpy as np

from sensorkit.dsp.foot import FootStepDetector, FootStepSettings
from sensorkit.model import Placement, Side
from sensorkit.sources.simulator.profile import RunnerProfile
from tests.test_dsp_helpers import sim_run


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


class _FreshImpact(FootStepDetector):
    """The detector computing |acc| of every impact window afresh."""

    def _impact_acc_norm(self, lo: int, w: np.ndarray) -> np.ndarray:
        return np.sqrt(np.einsum("ij,ij->i", w[:, 1:4], w[:, 1:4]))


def test_impact_reuses_the_ic_searchs_acc_norm_with_the_same_result() -> None:
    for strike, block in ((12.0, 40), (-4.0, 200), (3.0, 7)):
        sim = sim_run((Placement.LEFT_FOOT,), 20.0, mount=(0.0, 0.0, 0.0),
                      runner=RunnerProfile(strike_angle_deg=strike))
        ch = sim.samples(Placement.LEFT_FOOT, 0.0, 20.0)
        outs = []
        for cls in (FootStepDetector, _FreshImpact):
            det = cls(FootStepSettings(), 200.0, Side.LEFT)
            outs.append([c for a in range(0, len(ch), block)
                         for c in det.update(ch.time_s[a:a + block], ch.acc_g[a:a + block],
                                             ch.gyr_dps[a:a + block])])
        assert len(outs[0]) >= 20 and all(c.impact_g is not None for c in outs[0])
        assert outs[0] == outs[1]


def test_one_einsum_over_acc_and_gyr_rows_gives_each_half_its_own_bits() -> None:
    """The IC search squares acc and gyro rows in one einsum: each row as a separate einsum would."""
    rng = np.random.default_rng(4)
    specials = [0.0, -0.0, 1e200, -1e-300, 3.0, np.nan, np.inf]
    with np.errstate(all="ignore"):
        for case in range(1500):
            buf = rng.normal(0, 300, (160, 7)) * 10.0 ** rng.integers(-4, 4, (160, 7))
            if case % 4 == 0:
                buf[rng.random(buf.shape) < 0.1] = rng.choice(specials)
            a = int(rng.integers(0, 60))
            w = buf[a:a + int(rng.integers(1, 60))]
            planes = w[:, 1:7].reshape(-1, 2, 3)
            both = np.einsum("ijk,ijk->ij", planes, planes)
            lo = int(rng.integers(0, w.shape[0]))
            for col, half in ((0, w[lo:, 1:4]), (1, w[lo:, 4:7])):
                assert both[lo:, col].tobytes() == np.einsum("ij,ij->i", half, half).tobytes()
