"""Rigid segments from marker clusters: pose, gap filling, smoothing differentiators, frames.

A segment's pose at each frame is the least-squares rigid transform (Kabsch/Soederkvist) that
maps its markers in the standing (static) trial onto the same markers in the running trial:
``p_run = R(t) @ (p_static - c_static) + c(t)``. ``R(t)`` is therefore the segment's rotation
*relative to standing*, in the lab frame, which is exactly what a pod strapped to the segment
and calibrated while standing would see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.interpolate import CubicSpline
from scipy.signal import savgol_filter

from sensorkit.validation.rbds import MarkerTrial

F64 = NDArray[np.float64]

GRAVITY_MPS2 = 9.80665
UP_LAB = np.array([0.0, 1.0, 0.0])

BODY_FROM_LAB = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
"""Lab (X forward, Y up, Z right) to sensorkit body frame (x forward, y left, z up)."""


@dataclass(frozen=True, slots=True, eq=False)
class SegmentPose:
    """Pose of a rigid segment relative to standing; ``rot`` (n, 3, 3) lab-frame rotations.

    ``ref_point_m`` is the cluster centroid in the static trial; ``centre_m`` (n, 3) where that
    point is during the trial. ``markers`` lists the markers used.
    """

    rot: F64
    centre_m: F64
    ref_point_m: F64
    markers: tuple[str, ...]

    def point(self, static_point_m: F64) -> F64:
        """Trajectory (n, 3) of a point fixed to the segment, given where it was while standing."""
        return np.einsum("nij,j->ni", self.rot, static_point_m - self.ref_point_m) + self.centre_m


def fill_gaps(xyz: F64, max_gap: int) -> F64 | None:
    """Cubic-spline fill of NaN gaps up to ``max_gap`` samples; None if a longer gap remains.

    Gaps at either end are filled by holding the nearest value (a few samples at most).
    """
    missing = np.isnan(xyz[:, 0])
    if not missing.any():
        return xyz
    edges = np.diff(np.r_[0, missing.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if (ends - starts).max() > max_gap or missing.mean() > 0.5:
        return None
    idx = np.arange(xyz.shape[0])
    good = ~missing
    spline = CubicSpline(idx[good], xyz[good], axis=0, extrapolate=False)
    out = xyz.copy()
    out[missing] = spline(idx[missing])
    first, last = np.flatnonzero(good)[[0, -1]]
    out[:first] = out[first]
    out[last + 1:] = out[last]
    return out


def static_positions(static: MarkerTrial, names: Sequence[str]) -> dict[str, F64]:
    """Median standing position of each marker (robust to sway and single dropouts)."""
    return {n: np.nanmedian(static.marker(n), axis=0) for n in names}


def fit_segment(static: MarkerTrial, trial: MarkerTrial, candidates: Sequence[str],
                max_gap: int = 30) -> SegmentPose:
    """Rigid pose of the segment carrying ``candidates`` (markers with long gaps are dropped)."""
    used: list[str] = []
    run_xyz: list[F64] = []
    for name in candidates:
        if name not in static.markers or name not in trial.markers:
            continue
        if np.isnan(static.markers[name][:, 0]).all():
            continue
        filled = fill_gaps(trial.markers[name], max_gap)
        if filled is not None:
            used.append(name)
            run_xyz.append(filled)
    if len(used) < 3:
        raise ValueError(f"{trial.path.name}: fewer than 3 usable markers among {list(candidates)}")
    ref = static_positions(static, used)
    q = np.stack([ref[n] for n in used])  # (k, 3) static
    p = np.stack(run_xyz, axis=1)  # (n, k, 3) running
    q_c = q.mean(axis=0)
    p_c = p.mean(axis=1)
    h = np.einsum("kj,nki->nji", q - q_c, p - p_c[:, None, :])  # (n, 3, 3) = sum q p^T
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.einsum("nij,njk->nik", np.swapaxes(vt, 1, 2), np.swapaxes(u, 1, 2))))
    fix = np.zeros_like(h)
    fix[:, 0, 0] = 1.0
    fix[:, 1, 1] = 1.0
    fix[:, 2, 2] = d
    rot = np.swapaxes(vt, 1, 2) @ fix @ np.swapaxes(u, 1, 2)
    return SegmentPose(rot, p_c, q_c, tuple(used))


def sg_derivative(x: F64, rate_hz: float, deriv: int, window: int, polyorder: int = 3) -> F64:
    """Savitzky-Golay derivative along axis 0 (zero phase; edges by polynomial fit)."""
    return np.asarray(savgol_filter(x, window, polyorder, deriv=deriv, delta=1.0 / rate_hz, axis=0,
                                    mode="interp"), dtype=np.float64)


def angular_velocity_lab(rot: F64, rate_hz: float, window: int) -> F64:
    """Lab-frame angular velocity (rad/s) from rotations: ``[w]x = dR/dt @ R^T``."""
    r_s = sg_derivative(rot.reshape(-1, 9), rate_hz, 0, window).reshape(-1, 3, 3)
    r_dot = sg_derivative(rot.reshape(-1, 9), rate_hz, 1, window).reshape(-1, 3, 3)
    w = r_dot @ np.swapaxes(r_s, 1, 2)
    return 0.5 * np.stack([w[:, 2, 1] - w[:, 1, 2], w[:, 0, 2] - w[:, 2, 0], w[:, 1, 0] - w[:, 0, 1]], axis=1)


def orthonormalize(rot: F64) -> F64:
    """Nearest rotation matrices (polar decomposition) after interpolation or smoothing."""
    u, _, vt = np.linalg.svd(rot)
    d = np.sign(np.linalg.det(u @ vt))
    u[:, :, 2] *= d[:, None]
    return np.asarray(u @ vt, dtype=np.float64)


def rotation_xyz_deg(roll_deg: float, pitch_deg: float, yaw_deg: float) -> F64:
    """``Rz(yaw) @ Ry(pitch) @ Rx(roll)``, angles in degrees, right-handed."""
    a, b, c = np.radians([roll_deg, pitch_deg, yaw_deg])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return np.asarray(rz @ ry @ rx, dtype=np.float64)


def elevation_deg(vec_lab: F64) -> F64:
    """Angle of lab vectors above the horizontal plane (deg); positive = pointing up."""
    norm = np.linalg.norm(vec_lab, axis=-1)
    return np.asarray(np.degrees(np.arcsin(np.clip(vec_lab[..., 1] / norm, -1.0, 1.0))), dtype=np.float64)
