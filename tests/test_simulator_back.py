"""The simulated lower-back (sacrum) pod: the pelvis physics a back-pod DSP relies on.

The pelvis is a rigid body whose pivot (hip-joint centre) carries the body's centre of mass;
the pod sits behind and above it. The facts below were measured on real pelvis kinematics
(Fukuchi et al. 2017 treadmill running, virtual sacrum pods; tests/test_simulator_fukuchi.py
compares the cycles directly) and the simulator must show them exactly, noise-free.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import butter, sosfilt
from scipy.spatial.transform import Rotation

from sensorkit.model import Placement, Side
from sensorkit.sources.simulator import FatigueProfile, SimulatedRun, default_pods, rotation_from_rpy_deg
from tests.test_simulator import quiet_pods, run_of

G = 9.80665


def upright_back(**runner: object) -> SimulatedRun:
    """No lean or pelvis rotation: the back's body frame is the world frame."""
    kw: dict[str, object] = dict(trunk_lean_deg=0.0, lean_oscillation_deg=0.0, pelvis_roll_deg=0.0,
                                 pelvis_yaw_deg=0.0)
    kw.update(runner)
    return run_of(duration_s=40.0, **kw)


def world_vertical_g(run: SimulatedRun, t: np.ndarray) -> np.ndarray:
    """The pod's specific force along the world vertical (g), from its body-frame samples."""
    acc, _ = run.body_frame(Placement.LOWER_BACK, t)
    yaw, pitch, roll = run.back_angles_deg(t)
    up = np.stack([rotation_from_rpy_deg(r, p, y)[2] for r, p, y in zip(roll, pitch, yaw, strict=True)])
    return np.einsum("ij,ij->i", up, acc)


def stance_means(run: SimulatedRun, t0: float, t1: float, axis: int, gyro: bool = False) -> tuple[np.ndarray, ...]:
    """Mean of one body-frame axis over each stance (1 kHz, noise-free): (left means, right means)."""
    st = run.truth.steps.between(t0, t1)
    t = np.arange(t0 - 0.5, t1 + 0.5, 0.001)
    acc, gyr = run.body_frame(Placement.LOWER_BACK, t)
    x = (gyr if gyro else acc)[:, axis]
    means = np.array([x[(t >= a) & (t < b)].mean() for a, b in zip(st.ic_s, st.tc_s, strict=True)])
    return means[st.side == Side.LEFT], means[st.side == Side.RIGHT]


# -- vertical and anterior-posterior ----------------------------------------------------------
def test_back_vertical_peaks_and_mean_of_one_g_per_step() -> None:
    run = upright_back(impact_back_g=2.8)
    st = run.truth.steps.between(10.0, 30.0)
    back = run.samples(Placement.LOWER_BACK, 9.0, 31.0)
    for k in range(len(st) - 1):
        sel = (back.true_time_s >= st.ic_s[k]) & (back.true_time_s < st.ic_s[k + 1])
        vert = back.acc_g[sel, 2]
        assert vert.max() == pytest.approx(st.impact_back_g[k], rel=0.01)
        assert vert.mean() == pytest.approx(1.0, abs=0.03)
        flight = back.true_time_s[sel] > st.tc_s[k]
        np.testing.assert_allclose(vert[flight], 0.0, atol=1e-9)
    assert st.impact_back_g.mean() == pytest.approx(2.8, rel=0.03)


def test_pelvis_force_peaks_at_a_third_of_contact_where_braking_turns_into_propulsion() -> None:
    """Pelvis markers (Fukuchi 2017): vertical peak and AP sign change at 25-33 % of contact."""
    run = upright_back()
    st = run.truth.steps.between(10.0, 30.0)
    t = np.arange(9.0, 31.0, 0.0005)
    acc, _ = run.body_frame(Placement.LOWER_BACK, t)
    for ic, tc in zip(st.ic_s, st.tc_s, strict=True):
        sel = (t >= ic) & (t < tc)
        u = (t[sel] - ic) / (tc - ic)
        assert u[np.argmax(acc[sel, 2])] == pytest.approx(1 / 3, abs=0.01)
        ap = acc[sel, 0]
        assert ap[u < 0.32].max() <= 1e-9 and ap[u > 0.35].min() >= -1e-9, "braking, then propulsion"
        assert abs(ap.mean()) < 0.002 * np.abs(ap).max(), "no net AP impulse: constant speed"


def test_vertical_oscillation_truth_is_the_double_integral_of_vertical_acc() -> None:
    for run in (upright_back(), run_of(duration_s=40.0, trunk_lean_deg=8.0)):  # upright; swinging pelvis
        st = run.truth.steps.between(10.0, 30.0)
        rate = 1000.0
        for k in range(0, len(st) - 1, 5):
            t = np.arange(st.ic_s[k], st.ic_s[k + 1], 1 / rate)
            a = (world_vertical_g(run, t) - 1.0) * G
            v = np.concatenate([[0.0], np.cumsum((a[1:] + a[:-1]) / 2 / rate)])
            z = np.concatenate([[0.0], np.cumsum((v[1:] + v[:-1]) / 2 / rate)])
            z -= np.linspace(0, 1, len(z)) * z[-1]  # periodic: the back returns to the same height
            assert (z.max() - z.min()) * 100 == pytest.approx(st.vertical_oscillation_cm[k], abs=0.2)
        assert 5.0 < st.vertical_oscillation_cm.mean() < 12.0


def test_impact_truth_is_the_pods_own_vertical_peak() -> None:
    """With the pelvis swinging, the pod's peak differs a little from the configured pivot peak."""
    run = run_of(duration_s=40.0, impact_back_g=2.6)
    st = run.truth.steps.between(10.0, 30.0)
    t = np.arange(9.0, 31.0, 0.0005)
    vert = world_vertical_g(run, t)
    peaks = np.array([vert[(t >= a) & (t < b)].max() for a, b in zip(st.ic_s, st.tc_s, strict=True)])
    np.testing.assert_allclose(peaks, st.impact_back_g, rtol=1e-3)
    assert 1.0 < np.mean(st.impact_back_g) / 2.6 < 1.05


def test_back_saturation_is_flagged_where_the_pod_clips() -> None:
    pods = quiet_pods(acc_range_g=2.0)
    run = run_of(duration_s=30.0, pods=pods, impact_back_g=2.6)
    st = run.truth.steps.between(10.0, 25.0)
    assert st.back_saturated.all()
    back = run.samples(Placement.LOWER_BACK, 10.0, 25.0)
    assert np.abs(back.acc_g).max() == 2.0
    soft = run_of(duration_s=30.0, impact_back_g=2.6).truth.steps
    assert not soft.back_saturated.any()


# -- medio-lateral: gravity through the pelvis roll ------------------------------------------
@pytest.mark.parametrize("runner", [
    {},
    {"cadence_spm": 160.0, "contact_time_ms": 290.0, "trunk_lean_deg": 3.0},
    {"cadence_spm": 186.0, "contact_time_ms": 205.0, "trunk_lean_deg": 12.0, "impact_back_g": 3.0},
])
def test_ml_specific_force_over_a_stance_points_to_the_stance_side(runner: dict[str, float]) -> None:
    """Body-frame acc_y (left +) averages POSITIVE over a left stance and negative over a right one.

    Real pelvis data: +0.01..+0.12 g over left stances (Fukuchi 2017). The swing side drops, so
    gravity (2-3 g of it in mid-stance) tilts toward the stance side in the pod's frame, and the
    sacrum's lever swings with the pelvis; both outweigh the ground's medial push on the body.
    """
    run = run_of(duration_s=40.0, **runner)
    left, right = stance_means(run, 10.0, 30.0, axis=1)
    assert len(left) > 20 and len(right) > 20
    assert np.all(left > 0.0) and np.all(right < 0.0)
    assert 0.005 < left.mean() < 0.15 and -0.15 < right.mean() < -0.005
    # what a side rule can use: stance mean minus the whole step's mean, and the roll rate
    roll_left, roll_right = stance_means(run, 10.0, 30.0, axis=0, gyro=True)
    assert np.all(roll_left < 0.0) and np.all(roll_right > 0.0), "stance side drops through the stance"


def test_without_pelvis_roll_only_the_grounds_medial_push_remains() -> None:
    """A level pelvis and a pod at the pivot leave the centre of mass's ML force: opposite sign, small."""
    run = run_of(duration_s=40.0, pelvis_roll_deg=0.0, pelvis_yaw_deg=0.0, back_pod_offset_m=(0.0, 0.0, 0.0),
                 sway_g=0.05)
    left, right = stance_means(run, 10.0, 30.0, axis=1)
    assert np.all(left < 0.0) and np.all(right > 0.0), "the stance foot pushes the body toward the midline"
    assert left.mean() == pytest.approx(-0.05 * 2 / math.pi, rel=0.2)
    st = run.truth.steps.between(10.0, 30.0)
    flight = np.concatenate([np.arange(a, b, 0.002) for a, b in zip(st.tc_s[:-1], st.ic_s[1:], strict=True)])
    acc, _ = run.body_frame(Placement.LOWER_BACK, flight)
    assert np.abs(acc[:, 1]).max() < 0.01 * 0.05 + 1e-6, "no ML force in the air"


def test_pelvis_angles_follow_the_real_running_pattern() -> None:
    """Roll + = right side down, yaw + = turned left (right hip forward), pitch + = forward."""
    run = run_of(duration_s=40.0, trunk_lean_deg=8.0)
    st = run.truth.steps.between(10.0, 30.0)
    left = st.select(st.side == Side.LEFT)
    contact = left.contact_time_ms / 1000
    yaw, pitch, roll = (np.array(a) for a in run.back_angles_deg(left.ic_s + 0.3 * contact))
    assert np.all(roll > 1.0), "early left stance: the swing (right) side drops"
    assert np.all(yaw > 1.0), "left stance: the swing-side (right) hip is forward"
    assert np.all(pitch < 8.0 - 1.0), "early stance: the pelvis tilts back"
    _, pitch_tc, roll_tc = run.back_angles_deg(left.tc_s)
    assert np.all(roll_tc < -2.0), "around toe-off the stance (left) side is low"
    assert np.all(pitch_tc > 8.0), "forward tilt around toe-off"
    _, pitch_all, roll_all = run.back_angles_deg(np.arange(10.0, 30.0, 0.001))
    assert np.abs(roll_all).max() == pytest.approx(4.0, rel=0.02), "pelvis_roll_deg is the peak obliquity"
    assert pitch_all.mean() == pytest.approx(8.0, abs=0.05)
    assert np.abs(pitch_all - 8.0).max() == pytest.approx(3.0, rel=0.03), "lean_oscillation_deg is the peak tilt"


def test_pod_acceleration_includes_the_pelvis_lever_exactly() -> None:
    """A pod offset r from the pivot feels d2(R r)/dt2 on top of the pivot's specific force.

    (Within each step: at an IC the stride phase rate changes with the step time by ~2 %, a kink
    in the angle rates that the finite difference would see as an impulse.)
    """
    r_m = np.array([-0.07, 0.0, 0.065])
    on = run_of(duration_s=30.0, trunk_lean_deg=8.0, back_pod_offset_m=tuple(r_m))
    at_pivot = run_of(duration_s=30.0, trunk_lean_deg=8.0, back_pod_offset_m=(0.0, 0.0, 0.0))
    t = np.arange(12.0, 14.0, 0.01)
    ic = on.truth.steps.ic_s
    t = t[np.abs(t[:, None] - ic[None, :]).min(axis=1) > 0.005]
    extra = on.body_frame(Placement.LOWER_BACK, t)[0] - at_pivot.body_frame(Placement.LOWER_BACK, t)[0]

    def rot(times: np.ndarray) -> np.ndarray:
        yaw, pitch, roll = on.back_angles_deg(times)
        return np.stack([rotation_from_rpy_deg(r, p, y) for r, p, y in zip(roll, pitch, yaw, strict=True)])

    h = 0.002
    d2 = (rot(t + h) - 2 * rot(t) + rot(t - h)) / h**2 @ r_m  # world frame, m/s^2
    expected = np.einsum("nji,nj->ni", rot(t), d2) / G  # into the body frame, g
    assert np.abs(extra).max() > 0.05
    np.testing.assert_allclose(extra, expected, atol=0.003)


# -- orientation ------------------------------------------------------------------------------
def test_gravity_direction_averaged_over_strides_reads_the_lean_low() -> None:
    """The pelvis tilts back while the vertical force is high, so the mean accelerometer direction
    under-reads the mean pitch (real pelvis data: by 2.0-3.5 deg)."""
    run = run_of(duration_s=60.0, trunk_lean_deg=9.0)
    back = run.samples(Placement.LOWER_BACK, 20.0, 50.0)
    mean = back.acc_g.mean(axis=0)
    assert 9.0 - 3.0 < math.degrees(math.atan2(-mean[0], mean[2])) < 9.0 - 1.0
    st = run.truth.steps.between(20.0, 50.0)
    np.testing.assert_allclose(st.trunk_lean_deg, 9.0)
    _, lean = run.truth.lean_series(20.0, 50.0, 50.0)
    assert lean.mean() == pytest.approx(9.0, abs=0.2)
    assert 1.5 < lean.std() < 3.0, "per-step pelvis tilt oscillation"


def test_back_gyro_integrates_to_the_true_orientation() -> None:
    """Integrating the body rates from upright standing reproduces yaw, pitch and roll (AHRS-ready)."""
    run = run_of(duration_s=40.0, trunk_lean_deg=10.0, initial_standing_s=3.0, wander_lean_deg=3.0)
    back = run.samples(Placement.LOWER_BACK, 2.0, 20.0)
    dt = 1 / 200.0
    r = Rotation.identity()
    euler = np.empty((len(back), 3))
    for k in range(len(back)):  # midpoint rule on the sample rates
        w = back.gyr_dps[k] if k == 0 else (back.gyr_dps[k] + back.gyr_dps[k - 1]) / 2
        if k:
            r = r * Rotation.from_rotvec(np.radians(w) * dt)
        euler[k] = r.as_euler("ZYX", degrees=True)
    truth = np.stack(run.back_angles_deg(back.true_time_s), axis=1)
    assert np.abs(euler - truth).max() < 0.5
    assert truth[-1, 1] > 3.0


def test_an_ahrs_fed_low_passed_acceleration_recovers_the_lean_and_its_fatigue_increase() -> None:
    """imufusion (revised Madgwick, gain 0.5) on the back pod, accelerometer low-passed at 1 Hz.

    Raw accelerometer input misleads it by tens of degrees, on this simulator as on real pelvis
    kinematics (+33..+40 deg on Fukuchi's virtual sacrum pods): in flight the specific force is
    near zero and its direction is the pelvis's swing, not gravity.
    """
    imufusion = pytest.importorskip("imufusion")
    fatigue = FatigueProfile(onset_s=40.0, ramp_s=20.0, trunk_lean_deg=4.0)
    run = run_of(duration_s=100.0, pods=default_pods(200.0), trunk_lean_deg=10, fatigue=fatigue, seed=2)
    back = run.samples(Placement.LOWER_BACK, 0.0, 100.0)
    acc = sosfilt(butter(2, 1.0, fs=200.0, output="sos"), back.acc_g - back.acc_g[0], axis=0) + back.acc_g[0]
    ahrs = imufusion.Ahrs()
    ahrs.set_settings(imufusion.AhrsSettings(sample_rate=200.0, convention=imufusion.CONVENTION_NWU, gain=0.5,
                                             gyroscope_range=2000.0, acceleration_rejection=10.0))
    ahrs.set_sample_period(1 / 200.0)
    pitch = np.empty(len(back))
    for k in range(len(back)):
        ahrs.update_no_magnetometer(back.gyr_dps[k], acc[k])
        pitch[k] = imufusion.quaternion_to_euler(ahrs.get_quaternion())[1]
    truth = run.lean_deg(back.true_time_s)

    def mean(x: np.ndarray, t0: float, t1: float) -> float:
        return float(x[(back.true_time_s >= t0) & (back.true_time_s < t1)].mean())

    assert mean(pitch, 20.0, 38.0) == pytest.approx(mean(truth, 20.0, 38.0), abs=3.0)
    assert mean(pitch, 65.0, 95.0) == pytest.approx(mean(truth, 65.0, 95.0), abs=3.0)
    assert mean(pitch, 65.0, 95.0) - mean(pitch, 20.0, 38.0) == pytest.approx(4.0, abs=0.5)
