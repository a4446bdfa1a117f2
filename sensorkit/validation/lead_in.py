"""Join a standing trial and a running trial into one smooth pose trajectory.

A pod session needs quiet standing first (mounting calibration, the strike-angle and lean
references), but the RBDS standing and running trials are separate recordings. To avoid a jump
that no real pod would ever see, the standing poses are mirror-tiled to ``standing_s``, then
blended over ``lead_in_s`` into the running motion: the running trajectory is extended
backwards by whole strides (it is periodic to within millimetres) and the blend weight follows a
quintic smoothstep, so position, velocity and acceleration stay continuous.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.transform import Rotation

F64 = NDArray[np.float64]


def stride_samples(height_m: F64, rate_hz: float, min_s: float = 0.5, max_s: float = 1.4) -> int:
    """Stride period in samples: first strong autocorrelation peak of a foot's height.

    The first local maximum within 80 % of the highest one, so that a two-stride peak at
    slightly higher correlation is not taken.
    """
    x = height_m - height_m.mean()
    n = x.shape[0]
    lo, hi = int(min_s * rate_hz), min(int(max_s * rate_hz), n // 2)
    ac = np.array([np.dot(x[:-k], x[k:]) / (n - k) for k in range(lo - 1, hi + 1)])
    peaks = np.flatnonzero((ac[1:-1] >= ac[:-2]) & (ac[1:-1] >= ac[2:]))
    if peaks.size == 0:
        return lo + int(np.argmax(ac[1:-1]))
    strong = peaks[ac[1:-1][peaks] >= 0.8 * ac[1:-1][peaks].max()]
    return lo + int(strong[0])


def _mirror_tile(a: F64, n: int) -> F64:
    """``n`` samples of ``a`` played forward, backward, forward ... (continuous at the turns)."""
    if a.shape[0] == 1:
        return np.repeat(a, n, axis=0)
    period = np.concatenate([a, a[-2:0:-1]])
    reps = -(-n // period.shape[0])
    return np.concatenate([period] * reps)[:n]


def smoothstep5(u: F64) -> F64:
    """Quintic 0 -> 1 with zero first and second derivatives at both ends."""
    return np.asarray(u**3 * (10.0 - 15.0 * u + 6.0 * u * u), dtype=np.float64)


def standing_then_running(static_pos: F64, static_rot: F64, run_pos: F64, run_rot: F64,
                          rate_hz: float, standing_s: float, lead_in_s: float,
                          stride: int) -> tuple[F64, F64]:
    """Pose trajectory: standing (``standing_s``), blend (``lead_in_s``), then the run.

    Positions (n, 3) m and rotations (n, 3, 3), all at ``rate_hz``; the run keeps its own
    samples unchanged at the end of the result.
    """
    n_stand = round(standing_s * rate_hz)
    n_lead = round(lead_in_s * rate_hz)
    if n_stand == 0 and n_lead == 0:
        return run_pos, run_rot
    # backward periodic extension of the run over the lead-in: B[i] for i in [0, n_lead)
    j = max(1, -(-n_lead // stride)) * stride
    if j >= run_pos.shape[0]:
        raise ValueError("running trial shorter than the lead-in")
    src = np.arange(j - n_lead, j)
    corr_rot = run_rot[0] @ run_rot[j].T
    b_pos = run_pos[src] + (run_pos[0] - run_pos[j])
    b_rot = np.einsum("ij,njk->nik", corr_rot, run_rot[src])
    stand_pos = _mirror_tile(static_pos, max(n_stand, 1))
    stand_rot = _mirror_tile(static_rot, max(n_stand, 1))
    start_pos = b_pos[0] if n_lead else run_pos[0]
    stand_pos = stand_pos + (start_pos - stand_pos[-1])
    if n_lead == 0:
        return (np.concatenate([stand_pos[:n_stand], run_pos]),
                np.concatenate([stand_rot[:n_stand], run_rot]))
    w = smoothstep5(np.arange(n_lead) / n_lead)
    rest_pos, rest_rot = stand_pos[-1], stand_rot[-1]
    lead_pos = (1.0 - w)[:, None] * rest_pos + w[:, None] * b_pos
    rel = Rotation.from_matrix(np.einsum("ji,njk->nik", rest_rot, b_rot)).as_rotvec()
    lead_rot = np.einsum("ij,njk->nik", rest_rot, Rotation.from_rotvec(rel * w[:, None]).as_matrix())
    return (np.concatenate([stand_pos[:n_stand], lead_pos, run_pos]),
            np.concatenate([stand_rot[:n_stand], lead_rot, run_rot]))
