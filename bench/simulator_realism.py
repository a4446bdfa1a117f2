"""How the simulated back pod compares with real pelvis kinematics (Fukuchi et al. 2017).

    python -m bench.simulator_realism [--datasets ../shared/datasets]

Each RBDS treadmill trial becomes an error-free, untilted virtual sacrum pod; the simulator runs
a twin with the trial's cadence and contact time. Both are cut into strides from left IC (each
step time-normalised) and averaged. Prints, per trial and pooled: the correlation of the mean
cycles per body-frame axis, the stance means of acc_y and gyro_x (left / right), where in the
stance the vertical force peaks and braking turns into propulsion, and how far the mean
accelerometer direction reads the pelvis pitch off. Writes bench/results/simulator_realism.json.
Headline: the correlation of the pooled medio-lateral (acc_y) cycle.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from sensorkit.model import Placement, Side
from sensorkit.sources.simulator import RunnerProfile, SimulatedRun, SimulationConfig, default_pods
from sensorkit.validation import fukuchi
from sensorkit.validation.virtual_imu import ImuErrorModel, Mounting

RESULTS = Path(__file__).resolve().parent / "results" / "simulator_realism.json"
DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
BINS = 50
AXES = ("acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z", "pitch", "roll")


def cycles(t: np.ndarray, x: np.ndarray, ic: np.ndarray, left: np.ndarray) -> np.ndarray:
    """Mean stride (left IC -> right IC -> left IC) of the columns of ``x``, BINS per step."""
    u = (np.arange(BINS) + 0.5) / BINS
    out = []
    for k in range(len(ic) - 2):
        if left[k] and not left[k + 1] and left[k + 2]:
            times = np.concatenate([ic[k] + u * (ic[k + 1] - ic[k]), ic[k + 1] + u * (ic[k + 2] - ic[k + 1])])
            out.append(np.stack([np.interp(times, t, col) for col in x.T], axis=1))
    return np.asarray(np.mean(out, axis=0))


def features(cyc: np.ndarray, contact_fraction: float) -> dict[str, float]:
    u = (np.arange(BINS) + 0.5) / BINS
    st = u < contact_fraction
    left, right = cyc[:BINS], cyc[BINS:]
    ay, gx, ax, az = AXES.index("acc_y"), AXES.index("gyr_x"), AXES.index("acc_x"), AXES.index("acc_z")
    peak = float(np.mean([u[np.argmax(h[st, az])] for h in (left, right)]) / contact_fraction)
    turn = []
    for h in (left, right):
        k = np.flatnonzero((h[:-1, ax] < 0) & (h[1:, ax] >= 0) & (u[1:] > 0.05 * contact_fraction))
        turn.append(u[k[0] + 1] / contact_fraction if len(k) else np.nan)
    mean = cyc.mean(axis=0)
    lean_from_acc = float(np.degrees(np.arctan2(-mean[ax], mean[az])))
    return {"acc_y_left_stance_g": float(left[st, ay].mean()), "acc_y_right_stance_g": float(right[st, ay].mean()),
            "gyr_x_left_stance_dps": float(left[st, gx].mean()), "gyr_x_right_stance_dps": float(right[st, gx].mean()),
            "vertical_peak_at_contact_fraction": peak, "ap_turn_at_contact_fraction": float(np.nanmean(turn)),
            "acc_lean_minus_pitch_deg": lean_from_acc - float(mean[AXES.index("pitch")])}


@dataclasses.dataclass(frozen=True)
class Trial:
    real: np.ndarray
    sim: np.ndarray
    real_features: dict[str, float]
    sim_features: dict[str, float]
    r: dict[str, float]


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a - a.mean(), b - b.mean())[0, 1])


def compare(datasets: Path) -> dict[str, Trial]:
    settings = fukuchi.FukuchiSettings(errors=ImuErrorModel.ideal(), back_mount=Mounting(0.0, 0.0),
                                       placements=(Placement.LOWER_BACK,))
    out: dict[str, Trial] = {}
    for trial in fukuchi.discover_trials(datasets):
        s = fukuchi.load_session(trial, settings)
        sig = next(iter(s.signals.values()))
        w0, w1 = s.truth.run_window_s
        keep = (s.truth.steps.ic_s > w0 + 0.2) & (s.truth.steps.ic_s < w1 - 0.2)
        ic, tc = s.truth.steps.ic_s[keep], s.truth.steps.tc_s[keep]
        left = s.truth.steps.of_side(Side.LEFT)[keep]
        post = s.truth.posture
        assert post is not None
        angles = np.stack([np.interp(sig.time_s, post.time_s, post.lean_deg),
                           np.interp(sig.time_s, post.time_s, post.lateral_deg)], axis=1)  # lateral + = right down
        real = cycles(sig.time_s, np.hstack([sig.acc_g, sig.gyr_dps, angles]), ic, left)
        cf = float(np.mean((tc - ic)[:-1] / np.diff(ic)))
        cadence_spm, contact_ms = 60.0 / float(np.mean(np.diff(ic))), 1000 * float(np.mean(tc - ic))
        twin = SimulatedRun(SimulationConfig(
            RunnerProfile(cadence_spm=cadence_spm, contact_time_ms=contact_ms),
            tuple(dataclasses.replace(p, acc_noise_g=0.0, gyr_noise_dps=0.0) for p in default_pods(200.0)),
            duration_s=45.0, seed=1))
        st = twin.truth.steps.between(12.0, 42.0)
        t = np.arange(11.0, 44.0, 0.002)
        acc, gyr = twin.body_frame(Placement.LOWER_BACK, t)
        _, pitch, roll = twin.back_angles_deg(t)
        sim = cycles(t, np.hstack([acc, gyr, pitch[:, None], roll[:, None]]), st.ic_s, st.side == Side.LEFT)
        sim_cf = float(np.mean((st.tc_s - st.ic_s)[:-1] / np.diff(st.ic_s)))
        out[trial.trial_id] = Trial(real, sim, features(real, cf), features(sim, sim_cf),
                                    {a: corr(real[:, j], sim[:, j]) for j, a in enumerate(AXES)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=Path, default=DATASETS)
    args = ap.parse_args()
    t0 = time.perf_counter()
    res = compare(args.datasets)
    if not res:
        raise SystemExit(f"no Fukuchi trials under {args.datasets}")
    pooled_real = np.mean([v.real for v in res.values()], axis=0)
    pooled_sim = np.mean([v.sim for v in res.values()], axis=0)
    pooled_r = {a: corr(pooled_real[:, j], pooled_sim[:, j]) for j, a in enumerate(AXES)}
    print("\nsimulated back pod vs Fukuchi 2017 virtual sacrum pods (twin: same cadence and contact time)")
    print("correlation of the mean stride cycle per axis (pitch/roll: pelvis angles)")
    print(f"{'trial':14s} " + " ".join(f"{a:>6s}" for a in AXES))
    for tid, v in res.items():
        print(f"{tid:14s} " + " ".join(f"{v.r[a]:6.2f}" for a in AXES))
    print(f"{'mean':14s} " + " ".join(f"{np.mean([v.r[a] for v in res.values()]):6.2f}" for a in AXES))
    print(f"{'pooled cycle':14s} " + " ".join(f"{pooled_r[a]:6.2f}" for a in AXES))
    print("\nstance features, real | sim twin")
    for k in next(iter(res.values())).real_features:
        print(f"  {k:36s} " + "  ".join(f"{v.real_features[k]:+7.3f}|{v.sim_features[k]:+7.3f}" for v in res.values()))
    print(f"\nheadline: pooled ML (acc_y) cycle r = {pooled_r['acc_y']:.2f}, roll rate (gyr_x) r = "
          f"{pooled_r['gyr_x']:.2f} ({len(res)} trials, {time.perf_counter() - t0:.0f} s)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "headline_pooled_acc_y_r": pooled_r["acc_y"], "pooled_r": pooled_r,
        "trials": {tid: {"r": v.r, "real": v.real_features, "sim": v.sim_features} for tid, v in res.items()},
        "time_unix_s": time.time()}, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
