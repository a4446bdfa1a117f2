"""Shoe kinematics: foot pitch through the gait cycle, swing translation, impact at IC.

Foot pitch (``+`` toes up, relative to quiet standing) per stance ``[ic, tc)``:

* loading, ``ic`` to foot flat (``LOAD_FRACTION`` of contact): ``strike * (1 - x)**2`` - a
  rearfoot strike slaps down (pitch rate jumps negative at IC, so gyro ``y`` jumps positive);
  a forefoot strike lets the heel drop (the opposite sign);
* flat in mid-stance;
* heel-off to TC (``HEEL_FRACTION`` of contact): ``toe_off * x**2`` (plantarflexion);
* swing, ``tc`` to the next ``ic``: cubic Hermite from the toe-off pitch and rate to the next
  strike angle with zero rate at IC, plus an early-swing plantarflexion dip.

The sensor point is still in stance except for a half-sine vertical impact pulse of width
``SHOE_PULSE_S`` that stops the foot's landing velocity; its peak resultant specific force is
the step's ``impact_shoe_g``. In swing the foot moves one stride forward
(``(1 - cos)`` velocity profile) and lifts by the clearance height.

Gyro = ``(0, -dpitch/dt, 0)``: a toes-up pitch is a negative rotation about ``y`` (left).
"""

from __future__ import annotations

import math

import numpy as np

from sensorkit.sources.simulator.profile import F64, RunnerProfile
from sensorkit.sources.simulator.schedule import G_MPS2, SHOE_PULSE_S, Schedule

_DIP_NORM = 729.0 / 16.0  # makes u**2 (1-u)**4 peak at 1 (at u = 1/3)


class FootModel:
    """Evaluates one shoe (side 0 = left, 1 = right) at given true times."""

    def __init__(self, sched: Schedule, runner: RunnerProfile, side: int) -> None:
        self._s = sched
        self._r = runner
        self._side = side

    def pitch(self, t: F64) -> tuple[F64, F64, F64, F64]:
        """Pitch (deg), pitch rate (deg/s), world linear acc x and z (g, incl. impact pulse)."""
        foot = self._s.feet[self._side]
        r = self._r
        ic = foot.col("ic")
        tc = foot.col("tc")
        j = np.searchsorted(ic, t, side="right") - 1
        stance = t < tc[j]
        pitch = np.zeros_like(t)
        rate = np.zeros_like(t)
        ax = np.zeros_like(t)
        az = np.zeros_like(t)

        k = np.flatnonzero(stance)
        if len(k):
            jk = j[k]
            tk = t[k]
            tau = tk - ic[jk]
            load = foot.col("load")[jk]
            xl = np.minimum(tau / load, 1.0)
            strike = foot.col("strike")[jk]
            heel = foot.col("heel")[jk]
            xh = 1.0 - np.minimum((tc[jk] - tk) / heel, 1.0)
            toe = r.toe_off_pitch_deg
            pitch[k] = strike * (1 - xl) ** 2 + toe * xh * xh
            rate[k] = -2 * strike * (1 - xl) / load + 2 * toe * xh / heel
            xp = np.minimum(tau * (math.pi / SHOE_PULSE_S), math.pi).astype(np.float32)
            az[k] = foot.col("pulse_g")[jk] * np.maximum(np.sin(xp), 0.0)  # float32 sin(pi) < 0

        k = np.flatnonzero(~stance)
        if len(k):
            jk = j[k]
            jn = jk + 1
            t_off = tc[jk]
            ts = ic[jn] - t_off
            u = (t[k] - t_off) / ts
            toe = r.toe_off_pitch_deg
            m0 = 2 * toe / foot.col("heel")[jk] * ts
            nxt = foot.col("strike")[jn]
            # cubic Hermite (toe-off pitch and rate -> strike angle, rate 0) + early-swing dip
            v = 1.0 - u
            uv = u * v
            v2 = v * v
            rise = nxt - toe
            dip = (_DIP_NORM * r.swing_dip_deg) * uv * uv * v2
            ddip = (_DIP_NORM * r.swing_dip_deg) * uv * v2 * (2 - 6 * u)
            pitch[k] = toe + rise * (u * u * (3 - 2 * u)) + m0 * (uv * v) + dip
            rate[k] = (rise * (6 * uv) + m0 * (v * (1 - 3 * u)) + ddip) / ts
            inv_ts2 = 1.0 / (ts * ts)
            stride_m = r.speed_mps * (ts + r.contact_time_ms / 1000)
            w = (2 * math.pi * u).astype(np.float32)  # float32 trig: 8x faster, errors ~1e-7
            ax[k] = stride_m * inv_ts2 * (2 * math.pi / G_MPS2) * np.sin(w)
            az[k] = (r.foot_clearance_m * 2 * math.pi ** 2 * inv_ts2 * np.cos(w)
                     + foot.col("vland")[jn] * (2 - 6 * u) / ts) / G_MPS2
        return pitch, rate, ax, az

    def body(self, t: F64) -> tuple[F64, F64]:
        """Specific force (g) and angular rate (deg/s), both (n, 3) in the foot frame."""
        pitch, rate, ax, az = self.pitch(t)
        th = np.radians(pitch).astype(np.float32)
        c, s = np.cos(th), np.sin(th)
        fz = 1.0 + az
        acc = np.zeros((len(t), 3))
        acc[:, 0] = c * ax + s * fz
        acc[:, 2] = -s * ax + c * fz
        gyr = np.zeros((len(t), 3))
        gyr[:, 1] = -rate
        return acc, gyr
