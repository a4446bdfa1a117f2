"""Each DSP stage on signals whose answer is known."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from sensorkit.dsp.back import BackStepDetector, BackStepSettings
from sensorkit.dsp.base import History, rotate, split_at_gaps
from sensorkit.dsp.calibration import CalibrationSettings, MountingCalibration
from sensorkit.dsp.filters import BlockMean, FirLowpass, SosFilter
from sensorkit.dsp.foot import FootStepDetector, FootStepSettings
from sensorkit.dsp.impact import impact_of
from sensorkit.dsp.phone import PhoneStepDetector, PhoneStepSettings
from sensorkit.dsp.posture import PostureSettings, TrunkPosture
from sensorkit.dsp.strike import FOREFOOT_BELOW_DEG, REARFOOT_ABOVE_DEG, classify_strike
from sensorkit.model import Placement, Side, StrikeClass
from sensorkit.sources.simulator.profile import RunnerProfile, rotation_from_rpy_deg
from tests.test_dsp_helpers import match, sim_run

FS = 200.0


# --------------------------------------------------------------------------- building blocks
def test_fir_delay_is_exactly_half_its_length_and_dc_passes() -> None:
    fir = FirLowpass(15.0, FS, 0.06)
    x = np.zeros(100)
    x[40] = 1.0
    fir(np.zeros(1))  # start from rest
    y = np.concatenate([fir(x[:33]), fir(x[33:])])
    assert int(np.argmax(y)) == 40 + fir.delay_samples
    assert np.allclose(FirLowpass(15.0, FS)(np.full(50, 2.5)), 2.5)


def test_iir_starts_in_steady_state_so_a_restart_does_not_ring() -> None:
    assert np.allclose(SosFilter(2, 5.0, FS, channels=3)(np.tile([0.1, -0.2, 1.0], (40, 1))), [0.1, -0.2, 1.0])


def test_block_mean_groups_are_counted_across_blocks() -> None:
    bm = BlockMean(4, 1)
    x = np.arange(10.0)[:, None]
    out = np.concatenate([bm(x[:3]), bm(x[3:9]), bm(x[9:])])
    assert out[:, 0].tolist() == [1.5, 5.5]


def test_history_keeps_absolute_indices_across_trimming() -> None:
    h = History(1, 10)
    for k in range(0, 100, 7):
        h.append(np.arange(k, min(k + 7, 100), dtype=float)[:, None])
    assert h.end == 100 and h.view(95, 100)[:, 0].tolist() == [95, 96, 97, 98, 99]
    assert h.value(99) == 99.0


def test_rotation_is_elementwise_and_equals_the_matrix_product() -> None:
    r = rotation_from_rpy_deg(10, -20, 30)
    v = np.random.default_rng(1).standard_normal((50, 3))
    assert np.allclose(rotate(v, r), v @ r.T)
    # Several blocks turned in one pass, or a block cut in pieces: the same bits row by row.
    both = rotate(np.stack([v, 2.0 * v]), r)
    assert both.tobytes() == np.concatenate([rotate(v, r), rotate(2.0 * v, r)]).tobytes()
    assert rotate(v, r).tobytes() == np.concatenate([rotate(v[:7], r), rotate(v[7:], r)]).tobytes()


def test_time_jumps_and_reversals_are_gaps() -> None:
    t = np.array([0.0, 0.005, 0.010, 0.1, 0.105, 0.104])
    assert split_at_gaps(t, None, 0.0125) == [3, 5]
    assert split_at_gaps(t, -1.0, 0.0125) == [0, 3, 5]


def test_impact_peak_and_loading_rate_of_a_ramp() -> None:
    t = np.arange(12) / FS
    z = np.minimum(t / 0.05, 1.0) * 8.0  # 0 -> 8 g in 50 ms, then flat
    acc = np.column_stack([np.zeros(12), np.zeros(12), z])
    imp = impact_of(t, acc, z, 16.0)
    assert imp is not None and imp.peak_g == pytest.approx(8.0)
    assert imp.loading_rate_gps == pytest.approx(160.0, rel=1e-6)  # 8 g / 0.05 s
    assert not imp.saturated
    assert impact_of(t, acc, z, 8.0).saturated  # type: ignore[union-attr]


def test_strike_classes_follow_the_mo_2021_cut_offs() -> None:
    assert (REARFOOT_ABOVE_DEG, FOREFOOT_BELOW_DEG) == (7.4, -0.8)
    assert classify_strike(15.0) is StrikeClass.REARFOOT
    assert classify_strike(7.4) is StrikeClass.MIDFOOT
    assert classify_strike(0.0) is StrikeClass.MIDFOOT
    assert classify_strike(-0.81) is StrikeClass.FOREFOOT
    assert classify_strike(None) is StrikeClass.UNKNOWN


# --------------------------------------------------------------------------- calibration
@pytest.mark.parametrize("placement", [Placement.LOWER_BACK, Placement.LEFT_FOOT])
@pytest.mark.parametrize("mount", [(0.0, 0.0, 0.0), (30.0, -40.0, 120.0), (180.0, 0.0, 70.0)])
def test_mounting_calibration_finds_the_body_frame_of_a_crooked_pod(placement: Placement, mount: tuple) -> None:
    sim = sim_run((placement,), 16.0, mount=mount)
    ch = sim.samples(placement, 0.0, 16.0)
    cal = MountingCalibration(CalibrationSettings(), placement, FS)
    cals = [c for seg in cal.update(ch.time_s, ch.acc_g, ch.gyr_dps) for c in seg.calibrations]
    assert len(cals) == 1 and cals[0].method == "standing"
    truth = np.asarray(sim.truth.sf_to_bf[sim.sensors[0].sensor_id]).reshape(3, 3)
    err = cals[0].sf_to_bf @ truth.T
    angle = math.degrees(math.acos(min(1.0, (np.trace(err) - 1) / 2)))
    assert angle < 3.0, f"calibration off by {angle:.1f} deg"


def test_a_re_clipped_pod_is_calibrated_again() -> None:
    sim = sim_run((Placement.LOWER_BACK,), 40.0, mount=(0.0, 0.0, 0.0))
    ch = sim.samples(Placement.LOWER_BACK, 0.0, 40.0)
    acc, gyr = ch.acc_g.copy(), ch.gyr_dps.copy()
    clip = rotation_from_rpy_deg(0.0, 60.0, 90.0)  # from 20 s on the pod sits turned and tilted
    later = ch.time_s >= 20.0
    acc[later], gyr[later] = acc[later] @ clip.T, gyr[later] @ clip.T
    cal = MountingCalibration(CalibrationSettings(), Placement.LOWER_BACK, FS)
    segs = cal.update(ch.time_s, acc, gyr)
    cals = [c for s in segs for c in s.calibrations]
    assert len(cals) == 2 and cals[1].time_s > 20.0
    assert any(s.restarted for s in segs)
    # the second calibration undoes the new mounting: up is up again
    up_bf = cals[1].sf_to_bf @ (clip @ np.array([0.0, 0.0, 1.0]))
    assert up_bf[2] > math.cos(math.radians(15))


# --------------------------------------------------------------------------- step detectors
def _synthetic_back(n_steps: int = 40, step_s: float = 0.35, contact_s: float = 0.24):
    """Pelvis with known contacts: half-sine stance force, flight at -0.3 g, roll rate by side."""
    t = np.arange(int((n_steps + 2) * step_s * FS)) / FS
    az = np.full(t.shape, -0.3)
    gx = np.zeros(t.shape)
    ic = 0.3 + step_s * np.arange(n_steps)
    for k, t0 in enumerate(ic):
        u = (t - t0) / contact_s
        st = (u >= 0) & (u < 1)
        az[st] = -0.3 + 3.3 * np.sin(np.pi * u[st])
        w = (t >= t0) & (t < t0 + step_s)
        gx[w] = (-8.0 if k % 2 == 0 else 8.0) * np.sin(np.pi * (t[w] - t0) / contact_s) * (u[w] < 1)
    acc = np.column_stack([np.zeros_like(t), np.zeros_like(t), az])
    gyr = np.column_stack([gx, np.zeros_like(t), np.zeros_like(t)])
    return t, acc, gyr, ic, ic + contact_s


def test_back_detector_finds_every_contact_its_edge_timing_and_alternating_sides() -> None:
    t, acc, gyr, ic, tc = _synthetic_back()
    det = BackStepDetector(BackStepSettings(contact_from_moments=False), FS)
    out = [c for a in range(0, len(t), 50) for c in det.update(t[a:a + 50], acc[a:a + 50], gyr[a:a + 50])]
    out += det.gap()
    ti, di = match(ic, np.array([c.ic_s for c in out]), 0.05)
    assert len(ti) == len(out) >= len(ic) - 2
    ic_err = np.array([out[d].ic_s - ic[i] for i, d in zip(ti, di, strict=True)])
    tc_err = np.array([out[d].tc_s - tc[i] for i, d in zip(ti, di, strict=True)])  # type: ignore[operator]
    assert np.abs(ic_err).max() < 0.010 and np.abs(tc_err).max() < 0.010
    sides = [out[d].side for d in di]
    truth = [Side.LEFT if i % 2 == 0 else Side.RIGHT for i in ti]  # left stances roll negative
    assert sum(s == tr for s, tr in zip(sides, truth, strict=True)) >= len(truth) - 2
    assert all(c.impact_g == pytest.approx(3.0, abs=0.05) for c in out)


def test_back_contact_times_from_the_force_pulse_shape_at_short_and_long_contacts() -> None:
    # The pulse's width is not proportional to contact time (a fixed smear adds to it): a
    # 300-ms and a 205-ms contact both come out right, and so does the IC.
    for spm, contact_ms, speed in ((156.0, 300.0, 2.5), (186.0, 205.0, 4.2)):
        runner = RunnerProfile(cadence_spm=spm, contact_time_ms=contact_ms, speed_mps=speed)
        sim = sim_run((Placement.LOWER_BACK,), 30.0, mount=(0.0, 0.0, 0.0), runner=runner)
        ch = sim.samples(Placement.LOWER_BACK, 0.0, 30.0)
        det = BackStepDetector(BackStepSettings(), FS)
        out = [c for a in range(0, len(ch), 40)
               for c in det.update(ch.time_s[a:a + 40], ch.acc_g[a:a + 40], ch.gyr_dps[a:a + 40])]
        truth = sim.truth.steps
        ti, di = match(truth.ic_s, np.array([c.ic_s for c in out]), 0.05)
        assert len(di) >= 60
        ic_err = np.array([out[d].ic_s - truth.ic_s[i] for i, d in zip(ti, di, strict=True)])
        ct_err = np.array([out[d].tc_s - out[d].ic_s - (truth.tc_s[i] - truth.ic_s[i])  # type: ignore[operator]
                           for i, d in zip(ti, di, strict=True)])
        assert np.median(np.abs(ic_err)) < 0.010, contact_ms
        assert np.sqrt(np.mean(ct_err ** 2)) < 0.020, contact_ms  # the target


def test_back_detector_ignores_standing_and_walking_level_signals() -> None:
    t = np.arange(2000) / FS
    acc = np.column_stack([np.zeros_like(t), np.zeros_like(t), 1.0 + 0.2 * np.sin(2 * np.pi * 1.8 * t)])
    det = BackStepDetector(BackStepSettings(), FS)
    assert det.update(t, acc, None) == [] and det.gap() == []


def left_shoe_on_the_simulator(runner: RunnerProfile) -> tuple[list[Any], Any, Any, Any]:
    """30 s of a simulated left shoe through the detector in 40-sample blocks: its contacts, the
    true left steps, and the indices matching them (every contact matches a true step)."""
    sim = sim_run((Placement.LEFT_FOOT,), 30.0, mount=(0.0, 0.0, 0.0), runner=runner)
    ch = sim.samples(Placement.LEFT_FOOT, 0.0, 30.0)
    det = FootStepDetector(FootStepSettings(), FS, Side.LEFT)
    out = [c for a in range(0, len(ch), 40)
           for c in det.update(ch.time_s[a:a + 40], ch.acc_g[a:a + 40], ch.gyr_dps[a:a + 40])]
    steps = sim.truth.steps
    left = steps.select(steps.side == "left")
    ti, di = match(left.ic_s, np.array([c.ic_s for c in out]), 0.05)
    assert len(di) == len(out) >= 30
    return out, left, ti, di


def test_shoe_detector_times_touchdown_and_measures_strike_angle_on_the_simulator() -> None:
    for strike in (15.0, 3.0, -8.0):
        runner = RunnerProfile(strike_angle_deg=strike, strike_variability_deg=0.5)
        out, left, ti, di = left_shoe_on_the_simulator(runner)
        ic_err = np.array([out[d].ic_s - left.ic_s[i] for i, d in zip(ti, di, strict=True)])
        fsa_err = np.array([out[d].strike_angle_deg - left.strike_angle_deg[i]  # type: ignore[operator]
                            for i, d in zip(ti, di, strict=True)])
        assert np.median(np.abs(ic_err)) < 0.005, strike
        assert np.sqrt(np.mean(fsa_err ** 2)) < 2.0, strike
        assert all(c.side is Side.LEFT and c.tc_s is not None and c.tc_s > c.ic_s for c in out)


def test_shoe_terminal_contact_is_where_the_foot_reaches_its_toe_off_pitch_at_any_speed() -> None:
    # The toes leave the ground at a nearly fixed foot pitch (44-54 deg on the Fukuchi feet),
    # whatever the speed; the whole push-off rotation after it grows with speed.
    for speed, spm, contact_ms in ((2.5, 160.0, 300.0), (4.5, 186.0, 200.0)):
        runner = RunnerProfile(speed_mps=speed, cadence_spm=spm, contact_time_ms=contact_ms,
                               toe_off_pitch_deg=-FootStepSettings().toe_off_pitch_deg)
        out, left, ti, di = left_shoe_on_the_simulator(runner)
        tc_err = np.array([out[d].tc_s - left.tc_s[i] for i, d in zip(ti, di, strict=True)])  # type: ignore[operator]
        assert abs(np.mean(tc_err)) < 0.004 and np.std(tc_err) < 0.004, speed


def test_phone_steps_follow_the_step_frequency() -> None:
    f = 2.8  # 168 steps/min
    t = np.arange(int(30 * FS)) / FS
    rng = np.random.default_rng(3)
    a = 1.0 + 0.6 * np.sin(2 * np.pi * f * t) + 0.3 * np.sin(np.pi * f * t) + 0.02 * rng.standard_normal(t.shape)
    acc = np.column_stack([0.3 * np.ones_like(t), np.zeros_like(t), a])
    det = PhoneStepDetector(PhoneStepSettings(), FS)
    out = [c for k in range(0, len(t), 64) for c in det.update(t[k:k + 64], acc[k:k + 64])]
    iv = np.diff([c.ic_s for c in out])
    assert len(out) == pytest.approx(30 * f, abs=3)
    assert 60.0 / np.mean(iv[5:]) == pytest.approx(60 * f, abs=0.5)
    assert all(c.side is Side.UNKNOWN and c.tc_s is None for c in out)


# --------------------------------------------------------------------------- posture
@pytest.mark.parametrize(("pitch", "roll"), [(12.0, 0.0), (-5.0, 0.0), (0.0, 8.0), (20.0, -6.0)])
def test_static_lean_is_the_tilt_of_gravity(pitch: float, roll: float) -> None:
    r = rotation_from_rpy_deg(roll, pitch, 0.0)  # body frame in the world
    g_body = r.T @ np.array([0.0, 0.0, 1.0])
    n = int(6 * FS)
    t = np.arange(n) / FS
    post = TrunkPosture(PostureSettings(), FS)
    out = post.update(t, np.tile(g_body, (n, 1)), np.zeros((n, 3)))
    assert out.lean_deg[-1] == pytest.approx(pitch, abs=0.3)
    assert out.lateral_deg[-1] == pytest.approx(roll, abs=0.3)
    assert not post.health.warming_up


def test_lean_follows_a_slow_forward_bend_through_the_gyro() -> None:
    n = int(12 * FS)
    t = np.arange(n) / FS
    pitch = np.where(t < 4, 0.0, np.minimum((t - 4) * 5.0, 15.0))  # 0 -> 15 deg at 5 deg/s
    rate = np.gradient(pitch, t)
    acc = np.column_stack([-np.sin(np.radians(pitch)), np.zeros(n), np.cos(np.radians(pitch))])
    gyr = np.column_stack([np.zeros(n), rate, np.zeros(n)])
    out = TrunkPosture(PostureSettings(), FS).update(t, acc, gyr)
    truth = np.interp(out.time_s, t, pitch)
    assert np.abs(out.lean_deg - truth)[out.time_s > 3].max() < 1.0
