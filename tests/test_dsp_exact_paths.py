"""The cheaper paths of the calibration and posture stages give the plain definitions' bits.

Each fast path (long-block rotation, channel-major window statistics, the AHRS loop's carried
rotation) is checked against the straightforward formula it replaces, byte for byte.
"""

from __future__ import annotations

import numpy as np

from sensorkit.dsp.base import _LONG_ROWS, _SHORT_ROWS, _rotate_broadcast, _rotate_long, _rotate_short, rotate
from sensorkit.dsp.calibration import CalibrationSettings, MountingCalibration
from sensorkit.dsp.filters import BlockMean
from sensorkit.dsp.posture import PostureSettings, TrunkPosture, _rotation
from sensorkit.model import Placement
from sensorkit.sources.simulator.profile import rotation_from_rpy_deg
from tests.test_dsp_helpers import sim_run

FS = 200.0


def test_long_blocks_are_rotated_to_the_bits_of_the_broadcast_rotation() -> None:
    rng = np.random.default_rng(3)
    r = rotation_from_rpy_deg(10.0, -20.0, 40.0)
    for n in (_LONG_ROWS, 1000, 4001):
        v = rng.normal(size=(n, 3)) * rng.choice([1e-3, 1.0, 300.0], size=(n, 1))
        assert _rotate_long(v, r).tobytes() == _rotate_broadcast(v, r).tobytes()
        both = np.stack([v, 2.0 * v])
        assert _rotate_long(both, r).tobytes() == _rotate_broadcast(both, r).tobytes()
        held = np.column_stack([np.arange(n), v, -v])  # t, acc, gyr rows as the calibration holds them
        rows = held[:, 1:7].reshape(n, 2, 3).swapaxes(0, 1)
        assert _rotate_long(rows, r).tobytes() == _rotate_broadcast(np.stack([v, -v]), r).tobytes()


def test_short_blocks_are_rotated_to_the_bits_of_the_broadcast_rotation() -> None:
    rng = np.random.default_rng(6)
    r = rotation_from_rpy_deg(-30.0, 5.0, 100.0)
    for n in (1, 2, 7, 8, 13, _SHORT_ROWS):
        v = rng.normal(size=(n, 3)) * rng.choice([1e-3, 1.0, 300.0], size=(n, 1))
        v[0] = 0.0  # signed zeros: the products' signs must come out as in the plain order
        both = np.stack([v, -2.0 * v])
        for x in (v, both):
            out = _rotate_short(x, r)
            assert out.flags.c_contiguous and out.shape == x.shape
            assert out.tobytes() == _rotate_broadcast(x, r).tobytes()
            assert rotate(x, r).tobytes() == out.tobytes()


def test_live_blocks_of_a_calibrated_pod_fill_the_window_with_the_same_rows() -> None:
    """Rows of live blocks join the re-clip window in one copy per window: the same window means."""
    rng = np.random.default_rng(7)
    win = int(CalibrationSettings().window_s * FS)
    n = 3 * win + 5
    acc = np.array([0.1, -0.2, 0.97]) + rng.normal(scale=0.6, size=(n, 3))  # running: std of |acc| high
    gyr = rng.normal(scale=50.0, size=(n, 3))
    for size in (8, 7, 1, n):
        cal = MountingCalibration(CalibrationSettings(), Placement.LOWER_BACK, FS)
        cal.rotation = rotation_from_rpy_deg(10.0, -20.0, 40.0)  # calibrated: live blocks take the short way
        seen: list[bytes] = []
        classify = cal._classify

        def recorded(classify=classify, seen=seen):
            cls, mean_acc = classify()
            seen.append(mean_acc.tobytes())
            return cls, mean_acc

        cal._classify = recorded  # type: ignore[method-assign]
        for k in range(0, n, size):
            cal.update(np.arange(k, min(k + size, n)) / FS, acc[k:k + size], gyr[k:k + size])
        plain = [acc[w * win:(w + 1) * win].mean(axis=0).tobytes() for w in range(3)]
        assert seen == plain, size


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


def test_lean_is_the_tilt_of_the_third_row_of_the_estimates_rotation() -> None:
    """One AHRS step a block: after each, the carried rotation and the lean are the plain formulas'."""
    sim = sim_run((Placement.LOWER_BACK,), 4.0)
    ch = sim.samples(Placement.LOWER_BACK, 0.0, 4.0)
    post = TrunkPosture(PostureSettings(), FS)
    f = post.factor
    for k in range(0, len(ch.time_s) - f + 1, f):
        out = post.update(ch.time_s[k:k + f], ch.acc_g[k:k + f], ch.gyr_dps[k:k + f])
        rot = _rotation(*post._ahrs.get_quaternion().tolist())
        assert post._rot == rot
        g = np.array(rot[6:9])
        assert out.lean_deg.tobytes() == np.degrees(np.arctan2(-g[:1], np.hypot(g[1:2], g[2:3]))).tobytes()
        assert out.lateral_deg.tobytes() == np.degrees(np.arctan2(g[1:2], g[2:3])).tobytes()


def test_block_means_are_the_plain_group_means_at_any_block_size() -> None:
    rng = np.random.default_rng(5)
    rows = rng.normal(size=(8 * 700 + 5, 7)) * rng.choice([1e-3, 1.0, 300.0], size=(1, 7))
    plain = rows[:8 * 700].reshape(-1, 8, 7).mean(axis=1)
    for size in (1, 7, 8, 13, 16, 8 * 64, 1000, len(rows)):  # one group, a few, many (strided adds)
        bm = BlockMean(8, 7)
        out = np.concatenate([bm(rows[k:k + size, :1], rows[k:k + size, 1:])
                              for k in range(0, len(rows), size)])
        assert out.tobytes() == plain.tobytes(), size
