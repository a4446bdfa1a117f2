"""The simulated back pod against real pelvis kinematics (Fukuchi et al. 2017, PeerJ 5:e3298).

Each RBDS treadmill trial becomes an error-free, untilted virtual sacrum pod
(``sensorkit.validation.fukuchi``); the simulator runs a "twin" with the trial's cadence and
contact time. Both are cut into strides from left IC (time-normalised per step: 0-0.5 is the
left step, 0.5-1 the right one) and averaged. The simulator's medio-lateral cycle (acc_y, and the
roll rate gyro_x) must look like the real one, and share its physical signs.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
import pytest

from sensorkit.model import Placement, Side
from sensorkit.sources.simulator import RunnerProfile, SimulatedRun, SimulationConfig, default_pods
from sensorkit.validation import fukuchi
from sensorkit.validation.virtual_imu import ImuErrorModel, Mounting

pytestmark = pytest.mark.datasets

BINS = 50
"""Bins per step."""


def stride_cycle(t: np.ndarray, x: np.ndarray, ic: np.ndarray, left: np.ndarray) -> np.ndarray:
    """Mean over strides (left IC, right IC, next left IC) of ``x`` at ``BINS`` points per step."""
    u = (np.arange(BINS) + 0.5) / BINS
    strides = []
    for k in range(len(ic) - 2):
        if left[k] and not left[k + 1] and left[k + 2]:
            times = np.concatenate([ic[k] + u * (ic[k + 1] - ic[k]), ic[k + 1] + u * (ic[k + 2] - ic[k + 1])])
            strides.append(np.interp(times, t, x))
    return np.mean(strides, axis=0)


def stance_mean(cycle: np.ndarray, contact_fraction: float) -> tuple[float, float]:
    """Mean of a cycle over the left and the right stance."""
    u = (np.arange(BINS) + 0.5) / BINS
    return float(cycle[:BINS][u < contact_fraction].mean()), float(cycle[BINS:][u < contact_fraction].mean())


@pytest.fixture
def cycles(datasets_dir: Path) -> dict[str, dict[str, np.ndarray | float]]:
    return _cycles(str(datasets_dir))


@functools.lru_cache(maxsize=1)
def _cycles(datasets_dir: str) -> dict[str, dict[str, np.ndarray | float]]:
    """Per trial: real and twin stride cycles (loaded once per test session, ~3 s)."""
    settings = fukuchi.FukuchiSettings(errors=ImuErrorModel.ideal(), back_mount=Mounting(0.0, 0.0),
                                       placements=(Placement.LOWER_BACK,))
    out: dict[str, dict[str, np.ndarray | float]] = {}
    for trial in fukuchi.discover_trials(datasets_dir):
        session = fukuchi.load_session(trial, settings)
        sig = next(iter(session.signals.values()))
        steps = session.truth.steps
        w0, w1 = session.truth.run_window_s
        keep = (steps.ic_s > w0 + 0.2) & (steps.ic_s < w1 - 0.2)
        ic, tc = steps.ic_s[keep], steps.tc_s[keep]
        left = steps.of_side(Side.LEFT)[keep]
        cadence = 60.0 / float(np.mean(np.diff(ic)))
        contact_ms = 1000.0 * float(np.mean(tc - ic))
        twin = SimulatedRun(SimulationConfig(
            RunnerProfile(cadence_spm=cadence, contact_time_ms=contact_ms),
            tuple(dataclasses.replace(p, acc_noise_g=0.0, gyr_noise_dps=0.0) for p in default_pods(200.0)),
            duration_s=45.0, seed=1))
        st = twin.truth.steps.between(12.0, 42.0)
        t = np.arange(11.0, 44.0, 0.002)
        acc, gyr = twin.body_frame(Placement.LOWER_BACK, t)
        sim_left = st.side == Side.LEFT
        out[trial.trial_id] = {
            "real_ay": stride_cycle(sig.time_s, sig.acc_g[:, 1], ic, left),
            "real_gx": stride_cycle(sig.time_s, sig.gyr_dps[:, 0], ic, left),
            "sim_ay": stride_cycle(t, acc[:, 1], st.ic_s, sim_left),
            "sim_gx": stride_cycle(t, gyr[:, 0], st.ic_s, sim_left),
            "contact_fraction": float(np.mean((tc - ic)[:-1] / np.diff(ic))),
        }
    assert len(out) >= 3, "expected the 5 RBDS trials of the subset"
    return out


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a - a.mean(), b - b.mean())[0, 1])


def test_the_simulated_ml_cycle_looks_like_the_real_one(cycles: dict[str, dict[str, np.ndarray | float]]) -> None:
    """Pooled over trials, the twins' acc_y and gyro_x cycles correlate with the real ones.

    Measured: acc_y r = 0.57, gyro_x r = 0.92 (the simulator before the pelvis fix: -0.11 and
    0.09). Real trials agree with each other only moderately on acc_y (r ~0.4 between trials):
    the real cycle has a sharp soft-tissue transient ~40 ms after each IC that is not modelled.
    """
    real_ay = np.mean([c["real_ay"] for c in cycles.values()], axis=0)
    sim_ay = np.mean([c["sim_ay"] for c in cycles.values()], axis=0)
    real_gx = np.mean([c["real_gx"] for c in cycles.values()], axis=0)
    sim_gx = np.mean([c["sim_gx"] for c in cycles.values()], axis=0)
    assert corr(sim_ay, real_ay) > 0.45
    assert corr(sim_gx, real_gx) > 0.8
    per_trial = [corr(c["sim_gx"], c["real_gx"]) for c in cycles.values()]  # type: ignore[arg-type]
    assert np.median(per_trial) > 0.7
    # the same size: the simulated swing is neither a caricature nor flat
    assert 0.5 < np.std(sim_ay) / np.std(real_ay) < 2.0
    assert 0.5 < np.std(sim_gx) / np.std(real_gx) < 2.0


def test_real_and_simulated_stances_share_the_ml_signs(cycles: dict[str, dict[str, np.ndarray | float]]) -> None:
    """acc_y averages + over a left stance and - over a right one; the roll rate the opposite."""
    for name in ("real", "sim"):
        ay = [stance_mean(c[f"{name}_ay"], c["contact_fraction"]) for c in cycles.values()]  # type: ignore[arg-type]
        gx = [stance_mean(c[f"{name}_gx"], c["contact_fraction"]) for c in cycles.values()]  # type: ignore[arg-type]
        left_minus_right = [a - b for a, b in ay]
        assert np.mean(left_minus_right) > 0.02, (name, ay)
        assert sum(d > 0 for d in left_minus_right) >= len(ay) - 1, (name, ay)
        assert all(a < 0 < b for a, b in gx), (name, gx)
