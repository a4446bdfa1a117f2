"""The cheaper paths of the calibration and posture stages give the plain definitions' bits.

Each fast path (long-block rotation, channel-major window statistics, the AHRS loop's carried
rotation) is checked against the straightforward formula it replaces, byte for byte.
"""

from __future__ import annotations

import numpy as np

from sensorkit.dsp.base import rotate
from sensorkit.dsp.calibration import _LONG_ROWS, CalibrationSettings, MountingCalibration, _rotate_long
from sensorkit.model import Placement
from sensorkit.sources.simulator.profile import rotation_from_rpy_deg

FS = 200.0


def test_long_blocks_are_rotated_to_the_bits_of_rotate() -> None:
    rng = np.random.default_rng(3)
    r = rotation_from_rpy_deg(10.0, -20.0, 40.0)
    for n in (_LONG_ROWS, 1000, 4001):
        v = rng.normal(size=(n, 3)) * rng.choice([1e-3, 1.0, 300.0], size=(n, 1))
        assert _rotate_long(v, r).tobytes() == rotate(v, r).tobytes()
        both = np.stack([v, 2.0 * v])
        assert _rotate_long(both, r).tobytes() == rotate(both, r).tobytes()
        held = np.column_stack([np.arange(n), v, -v])  # t, acc, gyr rows as the calibration holds them
        rows = held[:, 1:7].reshape(n, 2, 3).swapaxes(0, 1)
        assert _rotate_long(rows, r).tobytes() == rotate(np.stack([v, -v]), r).tobytes()


def test_the_standing_reference_is_the_row_mean_of_a_still_window() -> None:
    rng = np.random.default_rng(4)
    n = int(CalibrationSettings().window_s * FS)
    acc = np.array([0.1, -0.2, 0.97]) + rng.normal(scale=0.002, size=(n, 3))
    gyr = rng.normal(scale=0.5, size=(n, 3))
    cal = MountingCalibration(CalibrationSettings(), Placement.LOWER_BACK, FS)
    for k in range(0, n, 7):  # cut anyhow: the window is summed once it is complete
        cal.update(np.arange(k, min(k + 7, n)) / FS, acc[k:k + 7], gyr[k:k + 7])
    assert cal._standing_g is not None
    assert cal._standing_g.tobytes() == acc.mean(axis=0).tobytes()
