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
    n = len(t)
    if len(ic0) == 0 or n == 0:
        return np.zeros(n), np.zeros(n)
    g = np.searchsorted(ic0, t, side="right") - 1
    if g[0] == g[-1] >= 0 and t[0] >= ic0[g[0]] + ENVELOPE_S and t[-1] <= end[g[0]] - ENVELOPE_S:
        return np.ones(n), np.zeros(n)  # the common case: mid-run
    ok = g >= 0
    gi = np.maximum(g, 0)
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

    def _evaluate(self, t: F64, with_force: bool) -> tuple[F64, ...]:
        """Euler angles and rates (deg, deg/s) and, if asked, the world specific force (g).

        Trigonometry runs in float32 (8x faster in numpy, errors ~1e-7, far below sensor noise).
        """
        s, r = self._s, self._r
        n = len(t)
        ic = s.steps.col("ic")
        env, denv = envelope(s, t)
        if len(ic) == 0:
            z = np.zeros(n)
            force = np.zeros((n, 3))
            force[:, 2] = 1.0
            return (z, z, z, z, z, z, force) if with_force else (z, z, z, z, z, z)
        i = np.searchsorted(ic, t, side="right") - 1
        np.maximum(i, 0, out=i)
        tau = t - ic.take(i)
        T = s.steps.col("interval").take(i)
        in_step = (tau >= 0) & (tau < T)
        tau *= in_step
        inv_t = 1.0 / T
        ph = tau * inv_t  # phase within the step, 0 at IC
        tc_frac = s.steps.col("contact").take(i) * inv_t
        side = s.steps.col("side").take(i)
        sgn = (1.0 - 2.0 * side) * in_step  # +1 left, -1 right, 0 outside steps
        # pitch
        if self._wear in _LIMB_SWING:
            off, amp, ph0 = _LIMB_SWING[self._wear]
            arg = (2 * math.pi) * ((ph + side) * 0.5 - ph0)  # stride phase, 0 at left IC
            base = off + amp * _cos(arg)
            dbase = (-amp * math.pi) * _sin(arg) * inv_t
        else:
            fat = r.fatigue
            base = np.full(n, float(r.trunk_lean_deg))
            dbase = np.zeros(n)
            if fat is not None and t[-1] > fat.onset_s:
                base += fat.trunk_lean_deg * fat.level(t)
                dbase += fat.trunk_lean_deg * fat.level_rate(t)
            if s.wander is not None and r.wander_lean_deg:
                w, dw = s.lean_offset_deg(t)
                base += w
                dbase += dw
            arg = (2 * math.pi) * (ph - 0.5 * tc_frac)
            a = r.lean_oscillation_deg * in_step
            base += a * _cos(arg)
            dbase -= (2 * math.pi) * a * _sin(arg) * inv_t
        pitch = env * base
        dpitch = denv * base + env * dbase
        # roll (pelvic obliquity) and the ML sway share the mid-flight zero crossing
        ml_arg = math.pi * (ph + 0.5 - 0.5 * tc_frac)
        s_ml, c_ml = _sin(ml_arg), _cos(ml_arg)
        roll0 = (sgn * r.pelvis_roll_deg) * s_ml
        droll0 = (sgn * (r.pelvis_roll_deg * math.pi)) * c_ml * inv_t
        yaw_arg = math.pi * ph
        yaw0 = (sgn * -r.pelvis_yaw_deg) * _cos(yaw_arg)
        dyaw0 = (sgn * (r.pelvis_yaw_deg * math.pi)) * _sin(yaw_arg) * inv_t
        out = (env * yaw0, pitch, env * roll0, denv * yaw0 + env * dyaw0, dpitch, denv * roll0 + env * droll0)
        if not with_force:
            return out
        force = np.empty((n, 3))
        us = np.minimum(tau / s.steps.col("contact").take(i), 1.0)
        stance = in_step & (us < 1.0)
        s_st = np.maximum(_sin(math.pi * us), 0.0)  # float32 sin(pi) is a hair below 0
        c_st = _cos(math.pi * us)
        p = s.steps.col("shape_p").take(i).astype(np.float32)
        force[:, 2] = np.where(stance, s.steps.col("impact_back").take(i) * s_st ** p, np.where(in_step, 0.0, 1.0))
        force[:, 0] = (-2.0 * s.steps.col("braking").take(i) * stance) * s_st * c_st  # -B sin(2 pi u)
        force[:, 1] = (-r.sway_g * sgn) * s_ml
        return (*out, force)

    def angles(self, t: F64) -> tuple[F64, F64, F64, F64, F64, F64]:
        """``(yaw, pitch, roll, yaw', pitch', roll')`` in degrees and deg/s."""
        return self._evaluate(t, with_force=False)  # type: ignore[return-value]

    def lean_deg(self, t: F64) -> F64:
        """Instantaneous trunk pitch (forward +) relative to upright standing."""
        return self.angles(t)[1]

    def body(self, t: F64) -> tuple[F64, F64]:
        """Specific force (g) and angular rate (deg/s), both (n, 3) in the body frame."""
        yaw, pitch, roll, dyaw, dpitch, droll, force = self._evaluate(t, with_force=True)
        ry, rp, rr = np.radians(yaw), np.radians(pitch), np.radians(roll)
        cy, sy, cp, sp, cr, sr = _cos(ry), _sin(ry), _cos(rp), _sin(rp), _cos(rr), _sin(rr)
        return (rotate_into_body(force, cy, sy, cp, sp, cr, sr),
                body_rate_dps(cp, sp, cr, sr, dyaw, dpitch, droll))


def _sin(x: F64) -> F64:
    return np.sin(x.astype(np.float32))


def _cos(x: F64) -> F64:
    return np.cos(x.astype(np.float32))


def rotate_into_body(f_w: F64, cy: F64, sy: F64, cp: F64, sp: F64, cr: F64, sr: F64) -> F64:
    """``R^T f`` for ``R = Rz(yaw) Ry(pitch) Rx(roll)`` given the angles' cosines and sines."""
    x = cy * f_w[:, 0] + sy * f_w[:, 1]
    y = cy * f_w[:, 1] - sy * f_w[:, 0]
    z = f_w[:, 2]
    x, z = cp * x - sp * z, sp * x + cp * z
    out = np.empty_like(f_w)
    out[:, 0] = x
    out[:, 1] = cr * y + sr * z
    out[:, 2] = cr * z - sr * y
    return out


def body_rate_dps(cp: F64, sp: F64, cr: F64, sr: F64, dyaw: F64, dpitch: F64, droll: F64) -> F64:
    """Body-frame angular rate from z-y-x Euler rates (any angular unit) and the angles' cos/sin."""
    out = np.empty((len(dyaw), 3))
    out[:, 0] = droll - dyaw * sp
    out[:, 1] = dpitch * cr + dyaw * sr * cp
    out[:, 2] = dyaw * cr * cp - dpitch * sr
    return out
