"""Lower back (and phone) kinematics: specific force and angular rate in the body frame.

The pelvis point follows a spring-mass-like model per step ``[ic, ic + interval)``:

* vertical specific force ``A * sin(pi u)**p`` in stance (``u`` = fraction of contact), 0 g in
  flight, 1 g standing; ``p`` is solved per step so the mean is exactly 1 g, which makes the
  vertical oscillation in the truth consistent with the acceleration;
* anterior-posterior: braking then propulsion, ``-B sin(2 pi u)`` in stance (zero net);
* medio-lateral: the ground pushes the pelvis toward the midline, so the ML (``y``, left)
  acceleration is negative through a left stance and positive through a right one; the sign
  changes in mid-flight, so at each IC it already has the sign of the landing side.

Orientation ``R = Rz(yaw) Ry(pitch) Rx(roll)`` of the body frame in the world (x heading,
z up): pitch = trunk lean (+ forward) with a small per-step oscillation, roll = pelvic
obliquity (+ toward the runner's right), yaw = pelvis rotation (left hip forward at left IC).
All angles fade in and out over ``ENVELOPE_S`` when running starts/stops, and angular rates
are the exact derivatives, so an AHRS integrating the gyro recovers the orientation.
"""

from __future__ import annotations

import math

import numpy as np

from sensorkit.model import PhoneWear
from sensorkit.sources.simulator.profile import F64, RunnerProfile
from sensorkit.sources.simulator.schedule import ENVELOPE_S, Schedule

_LIMB_SWING: dict[PhoneWear, tuple[float, float, float]] = {
    # (pitch offset deg, swing amplitude deg, stride phase of max forward swing)
    PhoneWear.POCKET: (10.0, 30.0, 0.45),   # right thigh: most flexed just before right IC
    PhoneWear.ARMBAND: (5.0, 25.0, 0.5),    # left upper arm swings forward with the right leg
    PhoneWear.HAND: (60.0, 30.0, 0.5),      # left forearm held ~60 deg flexed
}


def _smooth(x: F64) -> tuple[F64, F64]:
    """Quintic smoothstep on [0, 1] and its derivative (zero slope and curvature at the ends)."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * x * (x * (6 * x - 15) + 10), 30 * x * x * (1 - x) * (1 - x)


def envelope(sched: Schedule, t: F64) -> tuple[F64, F64]:
    """0 while standing, 1 while running, smooth in between; and its rate (1/s)."""
    ic0 = sched.segments.col("ic0")
    end = sched.segments.col("back_end")
    g = np.searchsorted(ic0, t, side="right") - 1
    ok = g >= 0
    gi = np.maximum(g, 0)
    if len(ic0) == 0:
        z = np.zeros_like(t)
        return z, z
    up, dup = _smooth((t - ic0[gi]) / ENVELOPE_S)
    down, ddown = _smooth((end[gi] - t) / ENVELOPE_S)
    env = np.where(ok, up * down, 0.0)
    rate = np.where(ok, (dup * down - up * ddown) / ENVELOPE_S, 0.0)
    return env, rate


class TrunkModel:
    """Evaluates the lower back (``wear=None``) or a phone at given true times."""

    def __init__(self, sched: Schedule, runner: RunnerProfile, wear: PhoneWear | None = None) -> None:
        self._s = sched
        self._r = runner
        self._wear = wear

    def angles(self, t: F64) -> tuple[F64, F64, F64, F64, F64, F64, F64]:
        """``(in_step index mask..., yaw, pitch, roll, yaw', pitch', roll')`` in degrees and deg/s.

        The first element is the step index per sample (-1 when not in a step).
        """
        s, r = self._s, self._r
        ic = s.steps.col("ic")
        interval = s.steps.col("interval")
        i = np.searchsorted(ic, t, side="right") - 1
        ii = np.maximum(i, 0)
        tau = t - ic[ii] if len(ic) else np.zeros_like(t)
        in_step = (i >= 0) & (tau < interval[ii]) if len(ic) else np.zeros(t.shape, dtype=bool)
        step = np.where(in_step, i, -1)
        tau = np.where(in_step, tau, 0.0)
        T = interval[ii] if len(ic) else np.ones_like(t)
        Tc = s.steps.col("contact")[ii] if len(ic) else np.ones_like(t)
        side = s.steps.col("side")[ii] if len(ic) else np.zeros_like(t)
        sgn = np.where(in_step, 1.0 - 2.0 * side, 0.0)  # +1 left, -1 right, 0 outside steps
        env, denv = envelope(s, t)
        w = 2 * math.pi / T
        # pitch
        if self._wear in _LIMB_SWING:
            off, amp, ph0 = _LIMB_SWING[self._wear]
            sp = (tau / T + side) / 2  # stride phase, 0 at left IC
            arg = 2 * math.pi * (sp - ph0)
            base = off + amp * np.cos(arg)
            dbase = -amp * np.sin(arg) * math.pi / T
        else:
            fat = r.fatigue
            d_lean = 0.0 if fat is None else fat.trunk_lean_deg
            lean = r.trunk_lean_deg + d_lean * s.fatigue_level(t)
            dlean = d_lean * (np.zeros_like(t) if fat is None else fat.level_rate(t))
            arg = w * (tau - Tc / 2)
            osc = np.where(in_step, r.lean_oscillation_deg * np.cos(arg), 0.0)
            dosc = np.where(in_step, -r.lean_oscillation_deg * np.sin(arg) * w, 0.0)
            base = lean + osc
            dbase = dlean + dosc
        pitch = env * base
        dpitch = denv * base + env * dbase
        # roll (pelvic obliquity) and ML phase share the mid-flight zero crossing
        ml_arg = math.pi * (tau + (T - Tc) / 2) / T
        roll0 = sgn * r.pelvis_roll_deg * np.sin(ml_arg)
        droll0 = sgn * r.pelvis_roll_deg * np.cos(ml_arg) * math.pi / T
        yaw_arg = math.pi * tau / T
        yaw0 = -sgn * r.pelvis_yaw_deg * np.cos(yaw_arg)
        dyaw0 = sgn * r.pelvis_yaw_deg * np.sin(yaw_arg) * math.pi / T
        return (step.astype(np.float64), env * yaw0, pitch, env * roll0,
                denv * yaw0 + env * dyaw0, dpitch, denv * roll0 + env * droll0)

    def lean_deg(self, t: F64) -> F64:
        """Instantaneous trunk pitch (forward +) relative to upright standing."""
        return self.angles(t)[2]

    def world_specific_force(self, t: F64, step: F64) -> F64:
        """(n, 3) specific force in the world frame (x heading, y left, z up), in g."""
        s, r = self._s, self._r
        out = np.zeros((len(t), 3))
        out[:, 2] = 1.0
        idx = np.flatnonzero(step >= 0)
        if len(idx) == 0:
            return out
        i = step[idx].astype(np.intp)
        tau = t[idx] - s.steps.col("ic")[i]
        T = s.steps.col("interval")[i]
        Tc = s.steps.col("contact")[i]
        sgn = 1.0 - 2.0 * s.steps.col("side")[i]
        u = tau / Tc
        stance = u < 1.0
        us = np.minimum(u, 1.0)
        peak = s.steps.col("impact_back")[i]
        p = s.steps.col("shape_p")[i]
        out[idx, 2] = np.where(stance, peak * np.sin(np.pi * us) ** p, 0.0)
        out[idx, 0] = np.where(stance, -s.steps.col("braking")[i] * np.sin(2 * np.pi * us), 0.0)
        out[idx, 1] = -sgn * r.sway_g * np.sin(np.pi * (tau + (T - Tc) / 2) / T)
        return out

    def body(self, t: F64) -> tuple[F64, F64]:
        """Specific force (g) and angular rate (deg/s), both (n, 3) in the body frame."""
        step, yaw, pitch, roll, dyaw, dpitch, droll = self.angles(t)
        f = self.world_specific_force(t, step)
        return rotate_into_body(f, yaw, pitch, roll), body_rate_dps(yaw, pitch, roll, dyaw, dpitch, droll)


def rotate_into_body(f_w: F64, yaw_deg: F64, pitch_deg: F64, roll_deg: F64) -> F64:
    """``R^T f`` for ``R = Rz(yaw) Ry(pitch) Rx(roll)``, vectorised without 3x3 matrices."""
    cy, sy = np.cos(np.radians(yaw_deg)), np.sin(np.radians(yaw_deg))
    cp, sp = np.cos(np.radians(pitch_deg)), np.sin(np.radians(pitch_deg))
    cr, sr = np.cos(np.radians(roll_deg)), np.sin(np.radians(roll_deg))
    x = cy * f_w[:, 0] + sy * f_w[:, 1]
    y = -sy * f_w[:, 0] + cy * f_w[:, 1]
    z = f_w[:, 2]
    x, z = cp * x - sp * z, sp * x + cp * z
    y, z = cr * y + sr * z, -sr * y + cr * z
    return np.stack([x, y, z], axis=1)


def body_rate_dps(yaw: F64, pitch: F64, roll: F64, dyaw: F64, dpitch: F64, droll: F64) -> F64:
    """Body-frame angular rate from z-y-x Euler angles and their rates (same angular unit)."""
    cp, sp = np.cos(np.radians(pitch)), np.sin(np.radians(pitch))
    cr, sr = np.cos(np.radians(roll)), np.sin(np.radians(roll))
    wx = droll - dyaw * sp
    wy = dpitch * cr + dyaw * sr * cp
    wz = -dpitch * sr + dyaw * cr * cp
    return np.stack([wx, wy, wz], axis=1)
