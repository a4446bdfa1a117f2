"""Fukuchi RBDS trials as virtual-pod sessions: parsing, physics of the virtual IMUs, truth.

These read ../shared/datasets (skipped with a reason when absent). Each session is built once
per module (about 0.4 s each).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from sensorkit.errors import InputFileError
from sensorkit.model import Placement, SampleBlock, Side, StrikeClass
from sensorkit.validation import forceplate
from sensorkit.validation.fukuchi import (
    FOLDER,
    FukuchiSession,
    FukuchiSettings,
    RbdsTrial,
    discover_trials,
    foot_pitch_deg,
    load_session,
    repair_labels,
)
from sensorkit.validation.rbds import read_forces, read_info, read_markers
from sensorkit.validation.scoring import match_events
from sensorkit.validation.virtual_imu import ImuErrorModel, Mounting

pytestmark = pytest.mark.datasets

IDEAL = FukuchiSettings(errors=ImuErrorModel.ideal(), back_mount=Mounting(0.0, 0.0),
                        foot_mount=Mounting(0.0, 0.0))


@cache
def _session(markers_path: Path, settings: FukuchiSettings) -> FukuchiSession:
    trial = next(t for t in discover_trials(markers_path.parents[1]) if t.markers_path == markers_path)
    return load_session(trial, settings)


def session(trial: RbdsTrial, settings: FukuchiSettings = IDEAL) -> FukuchiSession:
    return _session(trial.markers_path, settings)


@pytest.fixture
def trials(datasets_dir: Path) -> list[RbdsTrial]:
    found = discover_trials(datasets_dir)
    assert found, f"no RBDS trials in {datasets_dir / FOLDER}"
    return found


@pytest.fixture
def force_trials(trials: list[RbdsTrial]) -> list[RbdsTrial]:
    return [t for t in trials if t.forces_path is not None]


def test_every_file_parses(datasets_dir: Path, trials: list[RbdsTrial]):
    folder = datasets_dir / FOLDER
    assert {t.trial_id for t in trials} == {"RBDS001_T25", "RBDS004_T25", "RBDS004_T35", "RBDS004_T45",
                                            "RBDS032_T35"}
    for path in sorted(folder.glob("RBDS*.txt")):
        if path.name == "RBDSinfo.txt":
            continue
        if path.name.endswith("forces.txt"):
            f = read_forces(path)
            assert f.sampling_rate_hz == 300.0 and len(f) == 9000
            assert f.time_s[-1] == pytest.approx(8999 / 300)
            assert 1000.0 < f.vertical_n.max() < 3000.0  # running peaks: 2-3.5 body weights
        else:
            m = read_markers(path)
            assert len(m) in (150, 1500, 4500)
            heel = m.marker("R.Heel.Bottom")
            assert np.isfinite(heel).mean() > 0.99
            assert 0.0 < np.nanmedian(heel[:, 1]) < 0.3  # metres above the lab floor
    info = read_info(folder / "RBDSinfo.txt")
    assert len(info) == 28
    assert info[1].strike_label(Side.LEFT, 2.5) is StrikeClass.FOREFOOT
    assert info[4].strike_label(Side.RIGHT, 3.5) is StrikeClass.REARFOOT
    assert info[4].strike_label(Side.RIGHT, 4.5) is StrikeClass.MIDFOOT
    assert info[4].mass_kg == pytest.approx(57.05)


def test_malformed_file_error_names_file_line_and_column(tmp_path: Path):
    bad = tmp_path / "bad.txt"
    bad.write_text("Time\tA.X\tA.Y\tA.Z\n0\t1\t2\t3\n0.007\t1\tx2\t3\n")
    with pytest.raises(InputFileError, match=r"bad\.txt, line 3, column 'A\.Y'"):
        read_markers(bad)
    short = tmp_path / "short.txt"
    short.write_text("Time\tA.X\tA.Y\tA.Z\n0\t1\t2\n")
    with pytest.raises(InputFileError, match="line 2"):
        read_markers(short)


def test_swapped_metatarsal_labels_are_repaired(trials: list[RbdsTrial]):
    s1 = next(t for t in trials if t.subject == 1)
    raw = read_markers(s1.markers_path)
    fixed, notes = repair_labels(raw)
    assert notes == ["RBDS001runT25markers.txt: R.MT1/R.MT5 labels swapped back"]
    lateral = fixed.marker("R.MT5")[:, 2] - fixed.marker("R.MT1")[:, 2]  # lab Z points right
    assert np.nanmean(lateral > 0) > 0.99


def test_session_is_what_a_live_source_would_deliver(trials: list[RbdsTrial]):
    s = session(trials[0], FukuchiSettings())
    assert [x.placement for x in s.info.sensors] == [Placement.LOWER_BACK, Placement.LEFT_FOOT,
                                                     Placement.RIGHT_FOOT]
    assert all(x.sampling_rate_hz == 200.0 and x.has_gyro for x in s.info.sensors)
    ends = [b.end_s for b in s.items]
    assert ends == sorted(ends)
    for sensor in s.info.sensors:
        blocks = [b for b in s.items if b.sensor_id == sensor.sensor_id]
        joined = SampleBlock.concat(blocks)
        sig = s.signals[sensor.sensor_id]
        np.testing.assert_array_equal(joined.acc_g, sig.acc_g)
        assert np.allclose(np.diff(joined.time_s), 1 / 200.0)
        assert joined.end_s > s.truth.run_window_s[1] - 0.01
        assert np.abs(joined.acc_g).max() < 16.0 and np.abs(joined.gyr_dps).max() < 2000.0  # no clipping


def test_same_seed_same_signals_other_seed_other_noise(trials: list[RbdsTrial]):
    a = session(trials[0], FukuchiSettings())
    b = load_session(trials[0], FukuchiSettings())
    c = load_session(trials[0], FukuchiSettings(seed=1))
    sid = a.info.sensors[0].sensor_id
    np.testing.assert_array_equal(a.signals[sid].acc_g, b.signals[sid].acc_g)
    assert not np.array_equal(a.signals[sid].acc_g[:100], c.signals[sid].acc_g[:100])


def test_standing_reads_one_g_on_the_vertical_axis(trials: list[RbdsTrial]):
    for trial in trials:
        s = session(trial)
        t0, t1 = s.truth.standing_window_s
        for sid, sig in s.signals.items():
            acc = sig.acc_g[(sig.time_s > t0) & (sig.time_s < t1)]
            assert np.linalg.norm(acc, axis=1).mean() == pytest.approx(1.0, abs=0.005), sid
            np.testing.assert_allclose(acc.mean(axis=0), [0.0, 0.0, 1.0], atol=0.01, err_msg=sid)


def test_mounting_tilt_is_recorded_as_truth(trials: list[RbdsTrial]):
    s = session(trials[1], FukuchiSettings(errors=ImuErrorModel.ideal(), back_mount=Mounting(25.0, 90.0)))
    t0, t1 = s.truth.standing_window_s
    for sid, sig in s.signals.items():
        acc = sig.acc_g[(sig.time_s > t0) & (sig.time_s < t1)].mean(axis=0)
        up = s.truth.sf_to_mount[sid] @ acc
        np.testing.assert_allclose(up, [0.0, 0.0, 1.0], atol=0.01, err_msg=sid)
    back = s.info.sensors[0].sensor_id
    tilt = np.degrees(np.arccos(s.truth.sf_to_mount[back][2, 2]))
    assert tilt == pytest.approx(25.0, abs=0.01)


def test_pelvis_step_frequency_matches_force_plate_cadence(force_trials: list[RbdsTrial]):
    for trial in force_trials:
        s = session(trial)
        sig = s.signals[f"rbds{trial.subject:03d}/lower_back"]
        a, b = s.truth.run_window_s
        sel = (sig.time_s > a) & (sig.time_s < b)
        vertical = sig.acc_g[sel, 2] - sig.acc_g[sel, 2].mean()
        spectrum = np.abs(np.fft.rfft(vertical * np.hanning(vertical.size), 16 * vertical.size))
        freq = np.fft.rfftfreq(16 * vertical.size, 1 / 200.0)
        band = (freq > 2.0) & (freq < 4.0)
        step_hz = freq[band][np.argmax(spectrum[band])]
        assert 60 * step_hz == pytest.approx(s.truth.steps.cadence_spm(), abs=1.0), trial.trial_id


def test_foot_gyro_integrates_back_to_the_marker_foot_pitch(trials: list[RbdsTrial]):
    for trial in trials[:2]:
        s = session(trial)
        static, _ = repair_labels(read_markers(trial.static_path))
        run, _ = repair_labels(read_markers(trial.markers_path))
        for side, place in ((Side.LEFT, "left_foot"), (Side.RIGHT, "right_foot")):
            sig = s.signals[f"rbds{trial.subject:03d}/{place}"]
            steps = Rotation.from_rotvec(np.radians(sig.gyr_dps) / 200.0)
            attitude = Rotation.identity()
            x_up = np.empty(len(steps))
            for k in range(len(steps)):  # exact composition of the sampled rotations
                x_up[k] = attitude.apply([1.0, 0.0, 0.0])[2]
                attitude = attitude * steps[k]
            gyro_pitch = np.degrees(np.arcsin(x_up))
            marker_pitch = foot_pitch_deg(run, side) - np.nanmedian(foot_pitch_deg(static, side))
            a, b = s.truth.run_window_s
            sel = (sig.time_s > a) & (sig.time_s < b - 0.01)
            err = gyro_pitch[sel] - np.interp(sig.time_s[sel] - a, run.time_s, marker_pitch)
            assert abs(err.mean()) < 1.0, (trial.trial_id, side)
            assert err.std() < 2.0, (trial.trial_id, side)
            assert abs(err[-2000:].mean()) < 1.5, "drift over the 30-s run"


def test_force_plate_contacts_are_plausible_and_alternate(force_trials: list[RbdsTrial]):
    for trial in force_trials:
        steps = session(trial).truth.steps
        assert steps.source == "forceplate"
        assert 70 <= len(steps) <= 90  # 30 s at ~155-160 steps/min
        assert np.all((steps.contact_time_ms > 150) & (steps.contact_time_ms < 350))
        assert all(a is not b for a, b in zip(steps.side, steps.side[1:], strict=False)), "sides alternate"
        assert np.all(np.diff(steps.ic_s) > 0.25)


def test_contact_sides_agree_with_the_centre_of_pressure(force_trials: list[RbdsTrial]):
    for trial in force_trials:
        run = read_markers(trial.markers_path)
        force = read_forces(trial.forces_path)  # type: ignore[arg-type]
        c = forceplate.detect_contacts(force)
        by_markers = forceplate.contact_sides(run, c.ic_s, c.tc_s)
        by_cop = forceplate.cop_sides(run, force, c.ic_s, c.tc_s)
        assert by_markers == by_cop


def test_marker_and_force_clocks_are_offset_by_a_few_ms(force_trials: list[RbdsTrial]):
    for trial in force_trials:
        lag_s, corr = forceplate.marker_force_lag_s(read_markers(trial.markers_path),
                                                    read_forces(trial.forces_path))  # type: ignore[arg-type]
        assert corr > 0.95
        assert 0.0 <= lag_s <= 0.010, "markers lag forces by 5-7.5 ms in this subset"


def test_strike_angle_sign_agrees_with_the_lab_labels(trials: list[RbdsTrial]):
    checked = 0
    for trial in trials:
        truth = session(trial).truth
        for side in (Side.LEFT, Side.RIGHT):
            label = truth.strike_label[side]
            angle = float(np.median(truth.steps.strike_angle_deg[truth.steps.of_side(side)]))
            if label is StrikeClass.REARFOOT:
                assert angle > 7.4, (trial.trial_id, side)
                checked += 1
            elif label is StrikeClass.FOREFOOT:
                assert angle < 0.0, (trial.trial_id, side)
                checked += 1
    assert checked >= 6


def test_marker_events_agree_with_the_force_plate(force_trials: list[RbdsTrial]):
    for trial in force_trials:
        truth = session(trial).truth
        assert truth.marker_steps is not None
        ic = match_events(truth.marker_steps.ic_s, truth.steps.ic_s, 0.03)
        tc = match_events(truth.marker_steps.tc_s, truth.steps.tc_s, 0.03)
        assert ic.f1 == 1.0 and tc.f1 == 1.0
        assert abs(ic.mean_bias_ms) < 10.0 and ic.sd_error_ms < 5.0
        assert abs(tc.mean_bias_ms) < 10.0 and tc.sd_error_ms < 10.0  # toe-off is less sharp in markers


def test_marker_only_trials_get_marker_truth(trials: list[RbdsTrial]):
    for trial in trials:
        if trial.forces_path is None:
            steps = session(trial).truth.steps
            assert steps.source == "markers"
            assert np.all((steps.contact_time_ms > 150) & (steps.contact_time_ms < 400))
            assert all(a is not b for a, b in zip(steps.side, steps.side[1:], strict=False))


def test_pelvis_posture_truth_is_near_upright(trials: list[RbdsTrial]):
    posture = session(trials[0]).truth.posture
    assert posture is not None
    assert -5.0 < float(np.mean(posture.lean_deg)) < 20.0
    assert float(np.std(posture.lateral_deg)) < 5.0
