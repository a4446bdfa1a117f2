"""Lower back (and phone) kinematics: specific force and angular rate in the body frame.

The pelvis is a rigid body. Its pivot (the hip-joint centre) follows a spring-mass-like model
per step ``[ic, ic + interval)``; ``u`` = fraction of contact, ``w(u)`` = the skewed stance
phase of :func:`~.schedule.stance_warp` (``w = 1/2`` at ``u = 1/3``):

* vertical specific force ``A * sin(pi w)**p`` in stance, 0 g in flight, 1 g standing; ``p``
  is solved per step so the mean is exactly 1 g (the pelvis neither rises nor sinks). It peaks
  at 1/3 of contact, as the real pelvis does (the whole body's force plate peaks later);
* anterior-posterior: braking then propulsion, ``-B w' sin(2 pi w)`` in stance (zero net);
* medio-lateral: the stance foot pushes the pelvis toward the midline, ``-S sin(pi w)`` (y, left)
  in a left stance and ``+S sin(pi w)`` in a right one, zero in flight (no force in the air).
  It is small (~0.05 g): the sacrum's ML signal is NOT dominated by it (see below).

The pelvis rotates ``R = Rz(yaw) Ry(pitch) Rx(roll)`` (x heading, z up): pitch = trunk lean
(+ forward) plus an oscillation, roll = obliquity (+ = right side down), yaw (+ = turned left,
right hip forward). The oscillations are stride-periodic Fourier series fitted to the mean
pelvis angles of five treadmill trials (Fukuchi et al. 2017, virtual sacrum pods):

* roll: the swing side drops in early stance, then rises through late stance so that at toe-off
  the stance side is low (largest excursion), back to level around each IC;
* yaw: the swing-side hip is forward through stance (+ in a left stance);
* pitch: tilted back in early stance, forward around toe-off and in flight.

The pod sits ``back_pod_offset_m`` from the pivot (behind and above it on the sacrum), so it
also feels the pelvis's angular and centripetal accelerations ``alpha x r + w x (w x r)``. That
lever is what makes the sacrum's ML acceleration follow roll'' and yaw''; together with
gravity projected through the roll it makes ``acc_y`` (left +) POSITIVE on average through a
left stance and negative through a right one, as on real pelvis kinematics.

All angles fade in and out over ``ENVELOPE_S`` when running starts and stops. Angular rates
are the exact derivatives of the orientation (an AHRS integrating the gyro recovers it); the
lever uses the exact angular acceleration of the same angles (second derivatives of the slow
lean wander and fatigue ramp, below 1e-3 deg/s^2, are left out).
"""

from __future__ import annotations

import math

import numpy as np

from sensorkit.model import PhoneWear
from sensorkit.sources.simulator.profile import F64, RunnerProfile
from sensorkit.sources.simulator.schedule import ENVELOPE_S, G_MPS2, Schedule, stance_warp

_LIMB_SWING: dict[PhoneWear, tuple[float, float, float]] = {
    # (pitch offset deg, swing amplitude deg, stride phase of max forward swing)
    PhoneWear.POCKET: (10.0, 30.0, 0.45),   # right thigh: most flexed just before right IC
    PhoneWear.ARMBAND: (5.0, 25.0, 0.5),    # left upper arm swings forward with the right leg
    PhoneWear.HAND: (60.0, 30.0, 0.5),      # left forearm held ~60 deg flexed
}

# Pelvis oscillations over the stride (phase 0 = left IC, 0.5 = right IC): (harmonic, cos, sin)
# of the mean over 5 Fukuchi 2017 trials (roll/yaw: left-right antisymmetric part; pitch:
# symmetric part), scaled below to a unit peak.
_ROLL_FIT = ((1, 0.672, 0.033), (3, -0.593, -0.042), (5, -0.013, 0.052))
_YAW_FIT = ((1, 0.940, 0.336), (3, -0.194, -0.060))
_PITCH_FIT = ((2, 0.244, -0.876), (4, -0.038, -0.099))


def _unit_weights(fits: tuple[tuple[tuple[int, float, float], ...], ...]) -> np.ndarray:
    """Rows (value, d/dphi, d2/dphi2) per series over the basis (cos k, sin k), k = 1..5."""
    grid = np.linspace(0.0, 1.0, 4001)
    w = np.zeros((3 * len(fits), 10))
    for row, fit in enumerate(fits):
        peak = np.abs(sum(a * np.cos(2 * math.pi * k * grid) + b * np.sin(2 * math.pi * k * grid)
                          for k, a, b in fit)).max()
        for k, a, b in fit:
            a, b, om = a / peak, b / peak, 2 * math.pi * k
            c, s = 2 * (k - 1), 2 * (k - 1) + 1
            w[3 * row, [c, s]] = a, b
            w[3 * row + 1, [c, s]] = om * b, -om * a
            w[3 * row + 2, [c, s]] = -om * om * a, -om * om * b
    return w.astype(np.float32)


_W = _unit_weights((_ROLL_FIT, _YAW_FIT, _PITCH_FIT))


def _basis(phi: F64) -> np.ndarray:
    """``cos(2 pi k phi), sin(2 pi k phi)`` for k = 1..5 as (10, n) float32 (angle addition)."""
    x = (2 * math.pi) * phi.astype(np.float32)
    out = np.empty((10, len(phi)), dtype=np.float32)
    c1, s1 = np.cos(x), np.sin(x)
    out[0], out[1] = c1, s1
    for k in range(1, 5):
        c, s = out[2 * k - 2], out[2 * k - 1]
        out[2 * k] = c * c1 - s * s1
        out[2 * k + 1] = s * c1 + c * s1
    return out


def _smooth(x: F64) -> tuple[F64, F64, F64]:
    """Quintic smoothstep on [0, 1] and its first two derivatives (zero slope and curvature at the ends)."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * x * (x * (6 * x - 15) + 10), 30 * x * x * (1 - x) * (1 - x), 60 * x * (1 - x) * (1 - 2 * x)


def envelope(sched: Schedule, t: F64) -> tuple[F64, F64, F64] | None:
    """0 while standing, 1 while running, smooth in between; its rate (1/s) and its rate's rate (1/s^2).

    None means 1 everywhere (the common case: mid-run), so callers can skip the products.
    """
    ic0 = sched.segments.col("ic0")
    end = sched.segments.col("back_end")
    n = len(t)
    if len(ic0) == 0 or n == 0:
        return np.zeros(n), np.zeros(n), np.zeros(n)
    g = np.searchsorted(ic0, t, side="right") - 1
    if g[0] == g[-1] >= 0 and t[0] >= ic0[g[0]] + ENVELOPE_S and t[-1] <= end[g[0]] - ENVELOPE_S:
        return None
    ok = g >= 0
    gi = np.maximum(g, 0)
    up, dup, ddup = _smooth((t - ic0[gi]) / ENVELOPE_S)
    down, ddown, dddown = _smooth((end[gi] - t) / ENVELOPE_S)
    env = np.where(ok, up * down, 0.0)
    rate = np.where(ok, (dup * down - up * ddown) / ENVELOPE_S, 0.0)
    acc = np.where(ok, (ddup * down - 2 * dup * ddown + up * dddown) / ENVELOPE_S ** 2, 0.0)
    return env, rate, acc


def _faded(env: tuple[F64, F64, F64] | None, f: F64, df: F64) -> tuple[F64, F64]:
    """``env * f`` and its time derivative."""
    if env is None:
        return f, df
    e, de, _ = env
    return e * f, de * f + e * df


def _faded2(env: tuple[F64, F64, F64] | None, f: F64, df: F64, ddf: F64) -> F64:
    """Second time derivative of ``env * f``."""
    if env is None:
        return ddf
    e, de, dde = env
    return dde * f + 2 * de * df + e * ddf


class TrunkModel:
    """Evaluates the lower back (``wear=None``) or a phone at given true times."""

    def __init__(self, sched: Schedule, runner: RunnerProfile, wear: PhoneWear | None = None) -> None:
        self._s = sched
        self._r = runner
        self._wear = wear
        self._lever = None if wear is not None or not any(runner.back_pod_offset_m) else \
            np.asarray(runner.back_pod_offset_m, dtype=np.float64)

    def _evaluate(self, t: F64, with_force: bool) -> tuple[F64, ...]:
        """Euler angles and rates; with the force also their second derivatives and the pivot's force.

        Units: deg, deg/s, deg/s^2 and g (world frame). Trigonometry runs in float32 (8x faster
        in numpy, errors ~1e-7, far below sensor noise).
        """
        s, r = self._s, self._r
        n = len(t)
        ic = s.steps.col("ic")
        env = envelope(s, t)
        if len(ic) == 0:
            z = np.zeros(n)
            force = np.zeros((n, 3))
            force[:, 2] = 1.0
            return (z,) * 9 + (force,) if with_force else (z,) * 6
        i = np.searchsorted(ic, t, side="right") - 1
        np.maximum(i, 0, out=i)
        tau = t - ic.take(i)
        T = s.steps.col("interval").take(i)
        in_step = (tau >= 0) & (tau < T)
        tau *= in_step
        inv_t = 1.0 / T
        side = s.steps.col("side").take(i)
        phi = 0.5 * (tau * inv_t + side)  # stride phase: 0 at left IC, 0.5 at right IC
        w = 0.5 * inv_t  # d(phi)/dt
        shapes = _W @ _basis(phi)  # roll, roll', roll'', yaw, ..., pitch, ... (per unit phase)
        # pitch
        if self._wear in _LIMB_SWING:
            off, amp, ph0 = _LIMB_SWING[self._wear]
            arg = (2 * math.pi) * (phi - ph0)
            base = off + amp * _cos(arg)
            dbase = (-amp * 2 * math.pi) * _sin(arg) * w
            ddbase = (-4 * math.pi * math.pi) * (base - off) * (w * w)
        else:
            fat = r.fatigue
            a = r.lean_oscillation_deg
            base = a * shapes[6] + r.trunk_lean_deg
            dbase = (a * w) * shapes[7]
            if fat is not None and t[-1] > fat.onset_s:
                base += fat.trunk_lean_deg * fat.level(t)
                dbase += fat.trunk_lean_deg * fat.level_rate(t)
            if s.wander is not None and r.wander_lean_deg:
                wv, dw = s.lean_offset_deg(t)
                base += wv
                dbase += dw
            ddbase = (a * w * w) * shapes[8]
        pitch, dpitch = _faded(env, base, dbase)
        ra, ya = r.pelvis_roll_deg, r.pelvis_yaw_deg
        w_ra, w_ya = w * ra, w * ya
        roll0, droll0 = ra * shapes[0], w_ra * shapes[1]
        yaw0, dyaw0 = ya * shapes[3], w_ya * shapes[4]
        roll, droll = _faded(env, roll0, droll0)
        yaw, dyaw = _faded(env, yaw0, dyaw0)
        out = (yaw, pitch, roll, dyaw, dpitch, droll)
        if not with_force:
            return out
        ddpitch = _faded2(env, base, dbase, ddbase)
        ddroll = _faded2(env, roll0, droll0, (w_ra * w) * shapes[2])
        ddyaw = _faded2(env, yaw0, dyaw0, (w_ya * w) * shapes[5])
        force = np.empty((n, 3))
        contact = s.steps.col("contact").take(i)
        stance = in_step & (tau < contact)
        wu, dwu = stance_warp(np.minimum(tau / contact, 1.0))
        s_st = np.maximum(_sin(math.pi * wu), 0.0)  # float32 sin(pi) is a hair below 0
        c_st = _cos(math.pi * wu)
        p = s.steps.col("shape_p").take(i).astype(np.float32)
        force[:, 2] = np.where(stance, s.steps.col("impact_back").take(i) * s_st ** p, np.where(in_step, 0.0, 1.0))
        # -B w' sin(2 pi w): zero net impulse over the stance
        force[:, 0] = (-2.0 * s.steps.col("braking").take(i) * stance) * dwu * s_st * c_st
        force[:, 1] = (r.sway_g * (2.0 * side - 1.0) * stance) * s_st  # toward the midline
        return (*out, ddyaw, ddpitch, ddroll, force)

    def angles(self, t: F64) -> tuple[F64, F64, F64, F64, F64, F64]:
        """``(yaw, pitch, roll, yaw', pitch', roll')`` in degrees and deg/s."""
        return self._evaluate(t, with_force=False)  # type: ignore[return-value]

    def lean_deg(self, t: F64) -> F64:
        """Instantaneous trunk pitch (forward +) relative to upright standing."""
        return self.angles(t)[1]

    def body(self, t: F64) -> tuple[F64, F64]:
        """Specific force (g) and angular rate (deg/s), both (n, 3) in the body frame."""
        yaw, pitch, roll, dyaw, dpitch, droll, ddyaw, ddpitch, ddroll, force = self._evaluate(t, with_force=True)
        ry, rp, rr = np.radians(yaw), np.radians(pitch), np.radians(roll)
        cy, sy, cp, sp, cr, sr = _cos(ry), _sin(ry), _cos(rp), _sin(rp), _cos(rr), _sin(rr)
        acc = rotate_into_body(force, cy, sy, cp, sp, cr, sr)
        gyr = body_rate_dps(cp, sp, cr, sr, dyaw, dpitch, droll)
        if self._lever is not None:
            acc += lever_g(self._lever, gyr, cp, sp, cr, sr, dyaw, dpitch, droll, ddyaw, ddpitch, ddroll)
        return acc, gyr

    def pod_vertical(self, t: F64) -> tuple[F64, F64, F64, F64]:
        """For the truth: ``(pivot_z_g, pod_z_g, pod_height_m, acc_body_g)``.

        World-vertical specific force at the pivot and at the pod, the pod's height above the
        pivot, and the body-frame specific force (n, 3).
        """
        yaw, pitch, roll, dyaw, dpitch, droll, ddyaw, ddpitch, ddroll, force = self._evaluate(t, with_force=True)
        ry, rp, rr = np.radians(yaw), np.radians(pitch), np.radians(roll)
        cy, sy, cp, sp, cr, sr = _cos(ry), _sin(ry), _cos(rp), _sin(rp), _cos(rr), _sin(rr)
        acc = rotate_into_body(force, cy, sy, cp, sp, cr, sr)
        height = np.zeros(len(t))
        pod_z = force[:, 2].copy()
        if self._lever is not None:
            gyr = body_rate_dps(cp, sp, cr, sr, dyaw, dpitch, droll)
            lev = lever_g(self._lever, gyr, cp, sp, cr, sr, dyaw, dpitch, droll, ddyaw, ddpitch, ddroll)
            acc += lev
            pod_z += -sp * lev[:, 0] + cp * sr * lev[:, 1] + cp * cr * lev[:, 2]  # third row of R
            rx, ry_, rz = self._lever
            height = -sp * rx + cp * sr * ry_ + cp * cr * rz
        return force[:, 2], pod_z, height, acc


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


def lever_g(r_m: F64, gyr_dps: F64, cp: F64, sp: F64, cr: F64, sr: F64, dyaw: F64, dpitch: F64, droll: F64,
            ddyaw: F64, ddpitch: F64, ddroll: F64) -> F64:
    """Extra specific force (g, body frame) of a point ``r_m`` (body frame, m) away from the pivot.

    ``alpha x r + w x (w x r)``, with ``alpha`` the exact derivative of the body rate (Euler angle
    rates in deg/s, their rates in deg/s^2). Float32: the result is ~0.1 g, errors ~1e-8 g.
    """
    f32 = np.float32
    k = f32(math.pi / 180.0)
    dy, dp, dr = (x.astype(f32) for x in (dyaw, dpitch, droll))
    ddy, ddp = ddyaw.astype(f32), ddpitch.astype(f32)
    # d/dt of body_rate_dps(), term by term (deg/s^2)
    ax = ddroll.astype(f32) - ddy * sp - (dy * k) * cp * dp
    crcp, srcp = cr * cp, sr * cp
    ay = ddp * cr + ddy * srcp + (dy * k) * (crcp * dr - sr * sp * dp) - (dp * k) * sr * dr
    az = ddy * crcp - ddp * sr - (dy * k) * (srcp * dr + cr * sp * dp) - (dp * k) * cr * dr
    w = gyr_dps.astype(f32) * k
    wx, wy, wz = w[:, 0], w[:, 1], w[:, 2]
    rx, ry, rz = (f32(v) for v in r_m)
    d = wx * rx + wz * rz
    if ry:
        d += wy * ry
    q = wx * wx + wy * wy + wz * wz
    out = np.empty(gyr_dps.shape, dtype=np.float64)
    s_a, s_w = k / f32(G_MPS2), f32(1.0 / G_MPS2)
    if ry:
        out[:, 0] = (ay * rz - az * ry) * s_a + (wx * d - rx * q) * s_w
        out[:, 1] = (az * rx - ax * rz) * s_a + (wy * d - ry * q) * s_w
        out[:, 2] = (ax * ry - ay * rx) * s_a + (wz * d - rz * q) * s_w
    else:
        out[:, 0] = (ay * rz) * s_a + (wx * d - rx * q) * s_w
        out[:, 1] = (az * rx - ax * rz) * s_a + (wy * d) * s_w
        out[:, 2] = (-ay * rx) * s_a + (wz * d - rz * q) * s_w
    return out
