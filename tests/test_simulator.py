"""The simulated runner: its signals agree with its own ground truth.

These tests are the simulator's specification: whatever the DSP is scored against must be
physically consistent with the samples it is given.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import sensorkit.sources.simulator.feed as feed_module
from sensorkit.errors import ConfigError
from sensorkit.model import PhoneWear, Placement, Side
from sensorkit.sources.simulator import (
    FatigueProfile,
    PodConfig,
    RunnerProfile,
    SimulatedRun,
    SimulationConfig,
    default_pods,
    rotation_from_rpy_deg,
    steady_config,
)
from sensorkit.sources.simulator.feed import ItemFeed
from sensorkit.sources.simulator.packets import PodStream


def quiet_pods(rate: float = 200.0, **kw: object) -> tuple[PodConfig, ...]:
    """Noise-free pods so identities hold to numerical precision."""
    return tuple(dataclasses.replace(p, acc_noise_g=0.0, gyr_noise_dps=0.0, **kw)  # type: ignore[arg-type]
                 for p in default_pods(rate))


def run_of(duration_s: float = 60.0, seed: int = 1, pods: tuple[PodConfig, ...] | None = None,
           **runner: object) -> SimulatedRun:
    return SimulatedRun(SimulationConfig(RunnerProfile(**runner), pods or quiet_pods(), duration_s, seed))  # type: ignore[arg-type]


# -- standing ---------------------------------------------------------------------------------
def test_standing_reads_one_g_and_no_rotation_on_every_pod() -> None:
    run = run_of(duration_s=20.0, initial_standing_s=4.0)
    t0, t1 = run.truth.standing_s[0]
    assert t0 == 0.0 and t1 > 3.5
    for placement in ("lower_back", "left_foot", "right_foot"):
        ch = run.samples(placement, t0, t1)
        assert len(ch) > 600
        np.testing.assert_allclose(np.linalg.norm(ch.acc_g, axis=1), 1.0, atol=1e-9)
        np.testing.assert_allclose(ch.gyr_dps, 0.0, atol=1e-9)


def test_no_steps_during_standing_pauses() -> None:
    run = run_of(duration_s=90.0, pauses=((40.0, 10.0),))
    steps = run.truth.steps
    assert len(steps.between(39.9, 50.0)) == 0
    assert len(steps.between(20.0, 39.0)) > 40 and len(steps.between(52.0, 80.0)) > 40
    pause = [s for s in run.truth.standing_s if s[0] < 50.0 < s[1] or s[0] < 45.0 < s[1]]
    assert pause, run.truth.standing_s
    a, b = pause[0]
    assert 38.5 < a <= 40.0 and 49.5 < b <= 50.0
    back = run.samples("lower_back", a, b)
    np.testing.assert_allclose(np.linalg.norm(back.acc_g, axis=1), 1.0, atol=1e-9)


def test_runs_too_short_to_run_are_all_standing() -> None:
    run = run_of(duration_s=4.0, initial_standing_s=5.0)
    assert len(run.truth.steps) == 0 and run.truth.standing_s == ((0.0, 4.0),) and run.truth.running_s == ()
    np.testing.assert_allclose(np.linalg.norm(run.samples("right_foot", 0.0, 4.0).acc_g, axis=1), 1.0)
    no_room = run_of(duration_s=12.0, initial_standing_s=5.0, pauses=((5.5, 6.0),))
    assert len(no_room.truth.steps) == 0 and len(no_room.truth.standing_s) == 1


# -- timing truth -----------------------------------------------------------------------------
def test_step_times_are_consistent_with_ic_and_tc() -> None:
    st = run_of(duration_s=120.0).truth.steps
    assert len(st) > 300
    np.testing.assert_allclose(st.tc_s - st.ic_s, st.contact_time_ms / 1000, atol=1e-12)
    np.testing.assert_allclose(st.ic_s[1:] - st.tc_s[:-1], st.flight_time_ms[:-1] / 1000, atol=1e-12)
    np.testing.assert_allclose(st.step_time_s[1:], np.diff(st.ic_s), atol=1e-12)
    assert math.isnan(st.step_time_s[0])
    assert np.all(st.flight_time_ms > 0)
    assert list(st.side[:4]) == [Side.LEFT, Side.RIGHT, Side.LEFT, Side.RIGHT]
    assert np.all(st.side[1:] != st.side[:-1])


def test_cadence_and_contact_time_match_the_profile() -> None:
    st = run_of(duration_s=180.0, cadence_spm=176.0, contact_time_ms=230.0).truth.steps
    assert np.nanmean(st.cadence_spm) == pytest.approx(176.0, rel=0.01)
    assert 60 * len(st.between(20, 140)) / 120 == pytest.approx(176.0, rel=0.015)
    assert np.mean(st.contact_time_ms) == pytest.approx(230.0, rel=0.01)
    cv = np.nanstd(st.step_time_s) / np.nanmean(st.step_time_s)
    assert 0.005 < cv < 0.05, "natural step-to-step variability of a few percent"


def test_asymmetry_lengthens_left_contact_and_step_time() -> None:
    st = run_of(duration_s=120.0, contact_asymmetry_pct=10.0, step_asymmetry_pct=6.0).truth.steps
    left, right = st.side == Side.LEFT, st.side == Side.RIGHT
    ct_ratio = st.contact_time_ms[left].mean() / st.contact_time_ms[right].mean()
    assert ct_ratio == pytest.approx(1.05 / 0.95, rel=0.02)
    st_ratio = np.nanmean(st.step_time_s[left]) / np.nanmean(st.step_time_s[right])
    assert st_ratio == pytest.approx(1.03 / 0.97, rel=0.01)


# -- shoe -------------------------------------------------------------------------------------
@pytest.mark.parametrize("strike_deg", [15.0, 3.0, -8.0])
def test_integrating_shoe_pitch_rate_through_swing_gives_the_strike_angle(strike_deg: float) -> None:
    """Foot flat in mid-stance is pitch 0; -gyro_y integrated from there to IC is the FSA."""
    run = SimulatedRun(SimulationConfig(RunnerProfile(strike_angle_deg=strike_deg), default_pods(200.0),
                                        60.0, seed=3))
    st = run.truth.steps.between(15.0, 45.0)
    left = st.select(st.side == Side.LEFT)
    shoe = run.samples(Placement.LEFT_FOOT, 14.0, 46.0)
    errors = []
    for k in range(1, len(left)):
        flat = left.ic_s[k - 1] + 0.45 * left.contact_time_ms[k - 1] / 1000  # mid-stance, foot flat
        sel = (shoe.true_time_s >= flat) & (shoe.true_time_s <= left.ic_s[k])
        t = shoe.true_time_s[sel]
        pitch_at_ic = -np.trapezoid(shoe.gyr_dps[sel, 1], t)
        errors.append(pitch_at_ic - left.strike_angle_deg[k])
    assert len(errors) > 40
    assert np.max(np.abs(errors)) < 2.0
    assert abs(np.mean(errors)) < 1.0


def test_foot_pitch_truth_is_the_strike_angle_at_ic_and_flat_in_mid_stance() -> None:
    run = run_of(duration_s=30.0)
    st = run.truth.steps.between(10.0, 25.0)
    right = st.select(st.side == Side.RIGHT)
    np.testing.assert_allclose(run.foot_pitch_deg("right_foot", right.ic_s), right.strike_angle_deg, atol=1e-9)
    mid = right.ic_s + 0.4 * right.contact_time_ms / 1000
    np.testing.assert_allclose(run.foot_pitch_deg("right_foot", mid), 0.0, atol=1e-9)
    assert np.all(run.foot_pitch_deg("right_foot", right.tc_s) < -30.0), "plantarflexed at toe-off"


def test_shoe_gyro_sign_after_ic_tells_heel_from_forefoot_strike() -> None:
    for strike, sign in ((15.0, +1), (-8.0, -1)):
        run = run_of(duration_s=30.0, strike_angle_deg=strike)
        st = run.truth.steps.between(10.0, 25.0)
        left = st.select(st.side == Side.LEFT)
        shoe = run.samples(Placement.LEFT_FOOT, 10.0, 26.0)
        for ic in left.ic_s:
            after = (shoe.true_time_s > ic) & (shoe.true_time_s < ic + 0.03)
            assert np.sign(shoe.gyr_dps[after, 1].mean()) == sign


def test_shoe_impact_peak_matches_truth_and_gravity_sits_on_foot_z_when_flat() -> None:
    run = run_of(duration_s=40.0, impact_shoe_g=10.0)
    st = run.truth.steps.between(10.0, 30.0)
    right = st.select(st.side == Side.RIGHT)
    shoe = run.samples(Placement.RIGHT_FOOT, 10.0, 31.0)
    norm = np.linalg.norm(shoe.acc_g, axis=1)
    for ic, peak, contact in zip(right.ic_s, right.impact_shoe_g, right.contact_time_ms, strict=True):
        near = (shoe.true_time_s >= ic) & (shoe.true_time_s < ic + 0.03)
        assert 0.85 * peak < norm[near].max() <= peak + 1e-9
        flat = (shoe.true_time_s > ic + 0.3 * contact / 1000) & (shoe.true_time_s < ic + 0.5 * contact / 1000)
        np.testing.assert_allclose(shoe.acc_g[flat], [[0.0, 0.0, 1.0]] * int(flat.sum()), atol=1e-9)
    assert 8.0 < right.impact_shoe_g.mean() < 12.0


def test_saturation_clips_at_the_range_and_is_flagged() -> None:
    pods = quiet_pods(acc_range_g=16.0)
    hard = run_of(duration_s=30.0, pods=pods, impact_shoe_g=24.0)
    st = hard.truth.steps.between(10.0, 25.0)
    assert st.shoe_saturated.all()
    shoe = hard.samples(Placement.LEFT_FOOT, 10.0, 25.0)
    assert np.abs(shoe.acc_g).max() == 16.0
    clipped = np.abs(shoe.acc_g).max(axis=1) == 16.0
    left_ics = st.ic_s[st.side == Side.LEFT]
    for ic in left_ics:
        assert clipped[(shoe.true_time_s >= ic) & (shoe.true_time_s < ic + 0.03)].any()
    soft = run_of(duration_s=30.0, pods=quiet_pods(acc_range_g=32.0), impact_shoe_g=24.0)
    assert not soft.truth.steps.shoe_saturated.any()
    assert np.abs(soft.samples(Placement.LEFT_FOOT, 10.0, 25.0).acc_g).max() > 16.0


# -- lower back: tests/test_simulator_back.py; Fukuchi comparison: tests/test_simulator_fukuchi.py


def test_integer_parameters_are_fine() -> None:
    """Hand-written profiles use ints (``trunk_lean_deg=8``); numpy scalars come from scripts."""
    fatigue = FatigueProfile(onset_s=np.int64(20), ramp_s=10, trunk_lean_deg=4, cadence_pct=-4, impact_pct=20)
    runner = RunnerProfile(cadence_spm=176, contact_time_ms=240, trunk_lean_deg=10, impact_back_g=3,
                           impact_shoe_g=np.int32(9), strike_angle_deg=10, speed_mps=4, lean_oscillation_deg=2,
                           pelvis_roll_deg=3, pelvis_yaw_deg=4, braking_g=1, sway_g=0, wander_pct=1,
                           wander_lean_deg=1, fatigue=fatigue, initial_standing_s=3, pauses=((25, 4),),
                           back_pod_offset_m=(0, 0, 0))
    for f in dataclasses.fields(runner):
        value = getattr(runner, f.name)
        if "float" in str(f.type) and not isinstance(value, tuple):
            assert type(value) is float, f.name
    assert runner.pauses == ((25.0, 4.0),) and type(runner.fatigue.onset_s) is float  # type: ignore[union-attr]
    pods = (PodConfig(Placement.LOWER_BACK, 200, acc_range_g=16, gyr_range_dps=2000, acc_bias_g=(0, 0, 0),
                      mount_rpy_deg=(10, 0, 90), clock_drift_ppm=20),
            PodConfig(Placement.LEFT_FOOT, 200, mount_matrix=(1, 0, 0, 0, 1, 0, 0, 0, 1)),
            PodConfig(Placement.PHONE, 100, phone_wear=PhoneWear.POCKET))
    run = SimulatedRun(SimulationConfig(runner, pods, duration_s=40, seed=np.int64(3), speed_output_hz=1, chunk_s=5))
    back = run.samples("lower_back", 0.0, 40.0)
    assert back.acc_g.dtype == np.float64 and abs(len(back) - 8000) <= 1  # 20 ppm fast clock
    assert len(run.truth.steps) > 40 and np.isfinite(run.truth.steps.impact_back_g).all()
    assert len(run.samples("phone", 0.0, 40.0)) == 4000
    with pytest.raises(ConfigError, match="trunk_lean_deg = '8': expected a number"):
        RunnerProfile(trunk_lean_deg="8")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="expected a number"):
        PodConfig(Placement.LOWER_BACK, sampling_rate_hz=True)


# -- mounting, noise, determinism -------------------------------------------------------------
def test_mounting_rotation_preserves_norms_and_is_recoverable() -> None:
    mount = (20.0, -70.0, 95.0)
    ideal = run_of(duration_s=20.0)
    pods = tuple(dataclasses.replace(p, mount_rpy_deg=mount) for p in quiet_pods())
    rotated = run_of(duration_s=20.0, pods=pods)
    m = rotation_from_rpy_deg(*mount)
    for placement in ("lower_back", "left_foot"):
        a = ideal.samples(placement, 0.0, 15.0)
        b = rotated.samples(placement, 0.0, 15.0)
        norm_a, norm_b = np.linalg.norm(a.acc_g, axis=1), np.linalg.norm(b.acc_g, axis=1)
        np.testing.assert_allclose(norm_b, norm_a, atol=1e-9)
        # orthogonal Procrustes: the rotation taking body-frame to sensor-frame samples
        u, _, vt = np.linalg.svd(b.gyr_dps.T @ a.gyr_dps + b.acc_g.T @ a.acc_g)
        np.testing.assert_allclose(u @ vt, m, atol=1e-9)
        sf_to_bf = np.array(rotated.truth.sf_to_bf[f"runner1/{placement}"]).reshape(3, 3)
        np.testing.assert_allclose(b.acc_g @ sf_to_bf.T, a.acc_g, atol=1e-9)


def test_noise_and_bias_have_the_configured_size() -> None:
    pods = tuple(dataclasses.replace(p, acc_noise_g=0.01, gyr_noise_dps=0.5, acc_bias_g=(0.02, 0.0, -0.01),
                                     gyr_bias_dps=(1.0, -2.0, 0.5)) for p in default_pods())
    run = run_of(duration_s=6.0, pods=pods, initial_standing_s=5.0)
    ch = run.samples(Placement.LOWER_BACK, 0.0, 4.5)
    four_sigma = 4 / math.sqrt(len(ch))  # of a mean of unit-variance noise
    np.testing.assert_allclose(ch.acc_g.mean(axis=0), [0.02, 0.0, 0.99], atol=0.01 * four_sigma)
    np.testing.assert_allclose(ch.gyr_dps.mean(axis=0), [1.0, -2.0, 0.5], atol=0.5 * four_sigma)
    np.testing.assert_allclose(ch.acc_g.std(axis=0), 0.01, rtol=0.1)
    np.testing.assert_allclose(ch.gyr_dps.std(axis=0), 0.5, rtol=0.1)


def test_same_seed_same_samples_other_seed_other_samples() -> None:
    cfg = SimulationConfig(RunnerProfile(), default_pods(), 30.0, seed=7)
    a = SimulatedRun(cfg).samples(Placement.RIGHT_FOOT, 5.0, 25.0)
    b = SimulatedRun(cfg).samples(Placement.RIGHT_FOOT, 5.0, 25.0)
    c = SimulatedRun(dataclasses.replace(cfg, seed=8)).samples(Placement.RIGHT_FOOT, 5.0, 25.0)
    np.testing.assert_array_equal(a.acc_g, b.acc_g)
    np.testing.assert_array_equal(a.gyr_dps, b.gyr_dps)
    assert not np.allclose(a.acc_g, c.acc_g)


def test_samples_do_not_depend_on_how_far_ahead_anyone_looked() -> None:
    cfg = SimulationConfig(RunnerProfile(pauses=((30.0, 5.0),)), default_pods(), 80.0, seed=2)
    late_first = SimulatedRun(cfg)
    late_first.truth_between(60.0, 80.0)
    direct = SimulatedRun(cfg)
    np.testing.assert_array_equal(late_first.samples("lower_back", 25.0, 40.0).acc_g,
                                  direct.samples("lower_back", 25.0, 40.0).acc_g)
    np.testing.assert_array_equal(late_first.truth.steps.ic_s, direct.truth.steps.ic_s)


def test_clock_drift_shows_in_the_stamps_but_not_in_the_truth() -> None:
    pods = (PodConfig(Placement.LOWER_BACK, 200.0, clock_drift_ppm=500.0),
            PodConfig(Placement.LEFT_FOOT, 200.0, clock_drift_ppm=-500.0))
    run = run_of(duration_s=100.0, pods=pods)
    fast = run.samples(Placement.LOWER_BACK, 0.0, 100.0)
    slow = run.samples(Placement.LEFT_FOOT, 0.0, 100.0)
    assert len(fast) == pytest.approx(200 * 100 * 1.0005, abs=1)
    assert len(slow) == pytest.approx(200 * 100 * 0.9995, abs=1)
    assert fast.time_s[-1] - fast.true_time_s[-1] == pytest.approx(0.05, abs=0.002)
    assert slow.time_s[-1] - slow.true_time_s[-1] == pytest.approx(-0.05, abs=0.002)
    np.testing.assert_allclose(np.diff(fast.time_s), 1 / 200.0)


# -- fatigue ----------------------------------------------------------------------------------
def test_fatigue_changes_the_configured_quantities_after_onset_and_not_before() -> None:
    fatigue = FatigueProfile(onset_s=100.0, ramp_s=40.0)
    run = run_of(duration_s=260.0, fatigue=fatigue, seed=5)
    truth = run.truth
    assert truth.fatigue_onset_s == 100.0 and truth.fatigue_full_s == 140.0
    fresh, tired = truth.steps.between(10.0, 100.0), truth.steps.between(140.0, 260.0)
    r = RunnerProfile()
    assert np.nanmean(fresh.cadence_spm) == pytest.approx(r.cadence_spm, rel=0.005)
    assert np.mean(fresh.contact_time_ms) == pytest.approx(r.contact_time_ms, rel=0.01)
    # the pod swings with the pelvis: its peak is a few % above the configured (pivot) impact
    assert np.mean(fresh.impact_back_g) == pytest.approx(r.impact_back_g, rel=0.05)
    np.testing.assert_allclose(fresh.trunk_lean_deg, r.trunk_lean_deg)
    assert np.nanmean(tired.cadence_spm) / np.nanmean(fresh.cadence_spm) == pytest.approx(0.96, abs=0.005)
    assert np.mean(tired.contact_time_ms) / np.mean(fresh.contact_time_ms) == pytest.approx(1.08, abs=0.01)
    assert np.mean(tired.impact_shoe_g) / np.mean(fresh.impact_shoe_g) == pytest.approx(1.20, abs=0.03)
    assert np.mean(tired.impact_back_g) / np.mean(fresh.impact_back_g) == pytest.approx(1.20, abs=0.03)
    np.testing.assert_allclose(tired.trunk_lean_deg, r.trunk_lean_deg + 4.0)
    # and the back pod's signal shows it, not just the truth table
    def accel_lean(t0: float, t1: float) -> float:
        m = run.samples(Placement.LOWER_BACK, t0, t1).acc_g.mean(axis=0)
        return math.degrees(math.atan2(-m[0], m[2]))
    assert accel_lean(150.0, 250.0) - accel_lean(10.0, 95.0) == pytest.approx(4.0, abs=0.5)


def test_a_steady_runner_wanders_slowly_but_does_not_fatigue() -> None:
    from sensorkit.sources.simulator import steady_config

    run = SimulatedRun(steady_config(duration_s=3600.0, seed=9))
    st = run.truth.steps
    minute = (st.ic_s // 60).astype(int)
    per_min = np.array([np.nanmean(st.cadence_spm[minute == m]) for m in range(1, 60)])
    rel = per_min / per_min.mean() - 1
    assert 0.005 < rel.std() < 0.02, "about 1 % wander"
    assert np.corrcoef(rel[:-1], rel[1:])[0, 1] > 0.3, "slow: neighbouring minutes are alike"
    assert abs(rel[:10].mean() - rel[-10:].mean()) < 0.015, "no trend"
    lean = np.array([st.trunk_lean_deg[minute == m].mean() for m in range(1, 60)])
    assert 0.2 < lean.std() < 1.0
    assert run.truth.fatigue_onset_s is None


# -- phone and configuration ------------------------------------------------------------------
@pytest.mark.parametrize("wear", list(PhoneWear))
def test_phone_reads_one_g_standing_and_moves_with_the_stride(wear: PhoneWear) -> None:
    pods = (PodConfig(Placement.PHONE, 100.0, acc_range_g=8.0, acc_noise_g=0.0, gyr_noise_dps=0.0,
                      phone_wear=wear),)
    run = run_of(duration_s=30.0, pods=pods)
    stand = run.samples(Placement.PHONE, 0.0, 4.0)
    np.testing.assert_allclose(np.linalg.norm(stand.acc_g, axis=1), 1.0, atol=1e-9)
    moving = run.samples(Placement.PHONE, 15.0, 25.0)
    assert len(moving) == 1000
    assert np.abs(moving.gyr_dps).max() > 20.0
    assert np.abs(moving.acc_g).max() <= 8.0


def test_bad_configuration_names_the_key_and_value() -> None:
    with pytest.raises(ConfigError, match="contact_time_ms = 400"):
        RunnerProfile(cadence_spm=180.0, contact_time_ms=400.0)
    with pytest.raises(ConfigError, match="phone_wear"):
        PodConfig(Placement.PHONE)
    with pytest.raises(ConfigError, match="one pod per placement"):
        SimulationConfig(pods=(PodConfig(Placement.LOWER_BACK), PodConfig(Placement.LOWER_BACK)))


def test_endless_run_has_truth_between_but_no_complete_truth() -> None:
    run = SimulatedRun(SimulationConfig(duration_s=math.inf))
    assert len(run.truth_between(3600.0, 3660.0)) == pytest.approx(170, abs=3)
    with pytest.raises(ValueError, match="endless"):
        _ = run.truth


def test_pods_synthesise_their_next_chunk_at_spread_moments_and_read_the_same_samples() -> None:
    """A chunk is synthesised whole: were every pod to do it at the same data time, a paced
    session of many runners would stall every ``chunk_s``, as real pods never make it."""
    fetched_at: list[int] = []
    for seed in range(12):
        run = SimulatedRun(steady_config(duration_s=25.0, seed=seed))
        for pod in range(len(run.config.pods)):
            stream = PodStream(run, pod, 8)
            parts, k1 = [], 0
            while k1 < stream.total:
                k0, k1 = k1, min(k1 + 8, int(stream.total))
                before = stream._next_chunk
                parts.append(stream.take(k0, k1)[1])
                if before <= 1 < stream._next_chunk:  # the second chunk was made for this packet
                    fetched_at.append(k1)
            np.testing.assert_array_equal(np.concatenate(parts), np.concatenate([c.acc_g for c in run.chunks(pod)]))
    chunk_samples = SimulatedRun(steady_config(duration_s=25.0)).chunk_samples(0)
    assert len(fetched_at) == 36
    assert max(fetched_at) - min(fetched_at) > chunk_samples / 2  # spread over the first chunk
    assert len(set(fetched_at)) > 30


def _feed_items(cfg: SimulationConfig) -> list[tuple[float, object]]:
    return [x for w in ItemFeed(SimulatedRun(cfg)).windows() for x in w]


def _same_item(a: object, b: object) -> bool:
    if type(a) is not type(b):
        return False
    fields = [f.name for f in dataclasses.fields(a)]  # type: ignore[arg-type]
    return all(np.array_equal(getattr(a, f), getattr(b, f)) if isinstance(getattr(a, f), np.ndarray)
               else getattr(a, f) == getattr(b, f) for f in fields)


def test_a_runners_items_do_not_depend_on_where_its_windows_end(monkeypatch: pytest.MonkeyPatch) -> None:
    lossy = tuple(dataclasses.replace(p, loss_fraction=0.02, clock_drift_ppm=40.0) for p in default_pods())
    cfg = SimulationConfig(RunnerProfile(), lossy, 12.0, seed=5, speed_output_hz=1.0)
    short = _feed_items(cfg)
    monkeypatch.setattr(feed_module, "WINDOW_S", 0.7)
    long = _feed_items(cfg)
    assert len(short) == len(long) > 900
    assert any(type(x).__name__ == "Gap" for _, x in short)
    for (ta, a), (tb, b) in zip(short, long, strict=True):
        assert ta == tb and _same_item(a, b)


def test_runners_prepare_their_next_window_at_different_moments() -> None:
    """Paced runners all preparing a window on the same tick would be a burst real pods never make.

    A runner prepares its next window when it has delivered the last packet of the current one.
    """
    ends = {next(w for w in ItemFeed(SimulatedRun(steady_config(duration_s=5.0, seed=s))).windows() if w)[-1][0]
            for s in range(10)}
    assert len(ends) >= 4  # of the five 40-ms packet ticks in a 0.2-s window
