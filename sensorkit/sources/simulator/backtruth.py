"""Truth at the back pod: per-step impact peak, vertical oscillation and saturation.

The pod is not at the pelvis pivot: it sits ``back_pod_offset_m`` away and swings with the
pelvis, so its vertical specific force and height differ a little from the pivot's (about
+1-2 % on the peak). These truths are therefore measured on the model itself, on a fine grid
per step, and only when someone asks for the truth (generating samples never pays for it).
"""

from __future__ import annotations

import numpy as np

from sensorkit.sources.simulator.body import TrunkModel
from sensorkit.sources.simulator.profile import F64
from sensorkit.sources.simulator.schedule import G_MPS2, Schedule

GRID = 64
"""Grid points per step (about 5.5 ms at 170 steps/min; peaks refined by a parabola)."""
_BATCH = 256


def fill_back_truth(sched: Schedule, trunk: TrunkModel, mount: F64 | None, acc_range_g: float | None,
                    start: int, stop: int) -> None:
    """Fill ``pod_peak``, ``vo_cm`` and ``back_sat`` of steps ``start..stop`` where still unknown.

    ``mount`` (3x3, ``v_sf = mount @ v_bf``) and ``acc_range_g`` describe the back pod, or are
    None without one (then nothing saturates).
    """
    st = sched.steps
    todo = np.flatnonzero(np.isnan(st.col("pod_peak")[start:stop])) + start
    for lo in range(0, len(todo), _BATCH):
        idx = todo[lo:lo + _BATCH]
        ic, interval, contact = st.col("ic")[idx], st.col("interval")[idx], st.col("contact")[idx]
        u = np.linspace(0.0, 1.0, GRID + 1)
        tau = interval[:, None] * u[None, :]
        pivot_z, pod_z, height, acc = trunk.pod_vertical((ic[:, None] + tau).ravel())
        shape = (len(idx), GRID + 1)
        stance = tau < contact[:, None]
        st.put("pod_peak", idx, _peak(np.where(stance, pod_z.reshape(shape), -np.inf)))
        st.put("vo_cm", idx, _oscillation_cm(pivot_z.reshape(shape), height.reshape(shape), interval))
        if mount is None or acc_range_g is None:
            st.put("back_sat", idx, np.zeros(len(idx)))
        else:
            over = (np.abs(acc @ mount.T) > acc_range_g).any(axis=1).reshape(shape) & stance
            st.put("back_sat", idx, over.any(axis=1).astype(float))


def _peak(v: F64) -> F64:
    """Row maxima refined by a parabola through the best grid point and its neighbours."""
    k = np.clip(np.argmax(v, axis=1), 1, v.shape[1] - 2)
    rows = np.arange(v.shape[0])
    a, b, c = v[rows, k - 1], v[rows, k], v[rows, k + 1]
    with np.errstate(invalid="ignore"):
        curv = a - 2 * b + c
        off = np.where(np.isfinite(curv) & (curv < 0), 0.5 * (a - c) / curv, 0.0)
        refined = b - 0.25 * (a - c) * off
    return np.maximum(np.where(np.isfinite(refined), refined, b), v.max(axis=1))


def _oscillation_cm(pivot_z_g: F64, height_m: F64, interval_s: F64) -> F64:
    """Peak-to-peak height of the pod over each step.

    The pivot's periodic motion (double integral of its vertical acceleration, which averages
    exactly 1 g) plus the pod's swing about it.
    """
    acc = G_MPS2 * (pivot_z_g - 1.0)
    n = acc.shape[1]
    dt = (interval_s / (n - 1))[:, None]
    zero = np.zeros((acc.shape[0], 1))
    v = np.concatenate([zero, np.cumsum((acc[:, 1:] + acc[:, :-1]) * 0.5 * dt, axis=1)], axis=1)
    z = np.concatenate([zero, np.cumsum((v[:, 1:] + v[:, :-1]) * 0.5 * dt, axis=1)], axis=1)
    z = z - z[:, -1:] * np.linspace(0.0, 1.0, n)[None, :] + height_m
    return np.asarray((z.max(axis=1) - z.min(axis=1)) * 100.0)


__all__ = ["GRID", "fill_back_truth"]
