"""The step schedule: when each foot lands and lifts, generated lazily and deterministically.

Running happens in segments between standing periods. Within a segment steps alternate
left/right starting with the left foot; each step ``i`` owns the interval
``[ic_i, ic_i + interval_i)`` up to the next IC. Steps are drawn in batches whose random
numbers depend only on ``(seed, segment, batch)``, so the schedule is the same however far
ahead anyone looks.

Each foot also has a list of *stances* ``[ic, tc)``: the running stances plus standing ones
(the first starts at ``-inf``; a segment ends with a soft landing of each foot whose stance
lasts until the next segment's lift-off, or forever).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from sensorkit.sources.simulator.profile import F64, RunnerProfile
from sensorkit.sources.simulator.wander import SlowWander

G_MPS2 = 9.80665
LOAD_FRACTION = 0.25
"""IC to foot flat, as a fraction of contact time."""
HEEL_FRACTION = 0.45
"""Heel-off to TC, as a fraction of contact time."""
SHOE_PULSE_S = 0.020
"""Width of the half-sine impact pulse at the shoe."""
ENVELOPE_S = 1.0
"""Trunk lean and pelvis oscillations ramp in/out over this time at start/stop of running."""
BATCH = 256
LOOKAHEAD_S = 2.5
"""``ensure(t)`` makes everything needed up to ``t`` final: the next IC of a swinging foot is
at most two step intervals away."""

SaturationCheck = Callable[[int, F64, F64, F64], NDArray[np.bool_]]
"""``(side 0=left/1=right, strike_angle_deg, peak_g, contact_s) -> saturated`` per step."""

STANCE_SKEW = 0.75
"""Warp of the stance phase ``w = u (1 + k (1 - u))``: the pelvis's vertical force peaks, and its
AP force turns from braking to propulsion, at 1/3 of contact. Measured on the pelvis (hip-joint
centre and sacrum, Fukuchi 2017, 5 trials): 25-33 %; the whole body's force plate peaks later
(42 %), because the trunk and the swinging leg lag the pelvis."""


def stance_warp(u: F64) -> tuple[F64, F64]:
    """Warped stance phase ``w(u)`` and ``dw/du`` (both monotone on [0, 1], ``w(0) = 0, w(1) = 1``)."""
    return u * (1.0 + STANCE_SKEW * (1.0 - u)), 1.0 + STANCE_SKEW * (1.0 - 2.0 * u)


_P_GRID = np.geomspace(0.2, 40.0, 600)
_GL_U, _GL_W = np.polynomial.legendre.leggauss(256)


def stance_mean(p: F64) -> F64:
    """Mean of ``sin(pi w(u))**p`` over ``u`` in [0, 1] (Gauss-Legendre, exact to ~1e-9)."""
    u = 0.5 * (_GL_U + 1.0)
    s = np.sin(math.pi * stance_warp(u)[0])
    p = np.asarray(p, dtype=np.float64)
    return np.asarray(0.5 * (s[None, :] ** p.reshape(-1, 1) @ _GL_W).reshape(p.shape))


_M_GRID = stance_mean(_P_GRID)


def solve_stance_shape(interval_s: F64, contact_s: F64, peak_g: F64) -> tuple[F64, F64]:
    """Exponent ``p`` and actual peak of the stance shape ``peak * sin(pi w(u))**p``.

    The mean specific force over the step is then exactly 1 g, so the centre of mass neither
    rises nor sinks from step to step; the peak moves a little to make that exact.
    """
    need = interval_s / (contact_s * peak_g)
    p = np.interp(need, _M_GRID[::-1], _P_GRID[::-1])
    return p, interval_s / (contact_s * stance_mean(p))


class Columns:
    """Growable columnar table (capacity doubling) so lookups see one contiguous array."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self._cap = 256
        self._n = 0
        self._cols = {name: np.empty(self._cap) for name in names}

    def __len__(self) -> int:
        return self._n

    def append(self, **cols: F64) -> None:
        k = len(next(iter(cols.values())))
        if self._n + k > self._cap:
            while self._n + k > self._cap:
                self._cap *= 2
            for name, arr in self._cols.items():
                grown = np.empty(self._cap)
                grown[: self._n] = arr[: self._n]
                self._cols[name] = grown
        for name, arr in self._cols.items():
            arr[self._n: self._n + k] = cols[name]
        self._n += k

    def col(self, name: str) -> F64:
        return self._cols[name][: self._n]

    def set(self, name: str, index: int, value: float) -> None:
        self._cols[name][index if index >= 0 else self._n + index] = value

    def put(self, name: str, index: NDArray[np.int64], values: F64) -> None:
        self._cols[name][index] = values


STEP_COLS = ("ic", "interval", "contact", "side", "step_time", "impact_back", "shape_p", "impact_shoe",
             "strike", "lean", "braking", "vo_cm", "pod_peak", "shoe_sat", "back_sat", "segment")
"""``impact_back``/``shape_p``/``braking`` drive the pelvis pivot; ``vo_cm``, ``pod_peak`` and
``back_sat`` are the back pod's truth, NaN until :func:`~.backtruth.fill_back_truth` runs."""
FOOT_COLS = ("ic", "tc", "strike", "pulse_g", "load", "heel", "vland")
SEG_COLS = ("lift", "ic0", "back_end", "feet_end")


class Schedule:
    """Steps, per-foot stances and running segments, extended on demand by :meth:`ensure`."""

    def __init__(self, runner: RunnerProfile, duration_s: float, seed: int,
                 saturation: SaturationCheck | None = None) -> None:
        self.runner = runner
        self.duration_s = duration_s
        self.seed = seed
        self._sat = saturation
        self.wander = SlowWander(seed) if runner.wander_pct or runner.wander_lean_deg else None
        self.steps = Columns(STEP_COLS)
        self.feet = (Columns(FOOT_COLS), Columns(FOOT_COLS))
        self.segments = Columns(SEG_COLS)
        self.standing: list[tuple[float, float]] = []
        self.covered_s = -math.inf
        self.done = False
        self._windows = self._running_windows()
        self._seg = -1
        self._active = False
        self._batch = 0
        self._n_in_seg = 0
        self._next_ic = 0.0
        self._prev_interval = math.nan
        self._standing_since = 0.0
        self._seg_row = -1
        tc0 = runner.contact_time_ms / 1000.0
        for foot in self.feet:
            foot.append(ic=np.array([-math.inf]), tc=np.array([math.inf]), strike=np.zeros(1),
                        pulse_g=np.zeros(1), load=np.array([LOAD_FRACTION * tc0]),
                        heel=np.array([HEEL_FRACTION * tc0]), vland=np.zeros(1))

    # -- nominal gait at a time (fatigue applied) -------------------------------------------
    def fatigue_level(self, t: F64 | float) -> F64:
        f = self.runner.fatigue
        return np.zeros_like(np.asarray(t, dtype=np.float64)) if f is None else f.level(t)

    def _wander(self, channel: str, t: F64 | float) -> F64 | float:
        if self.wander is None or not self.runner.wander_pct:
            return 1.0
        return 1 + self.runner.wander_pct / 100 * self.wander.value(channel, t)

    def nominal_interval_s(self, t: F64 | float) -> F64:
        f = self.runner.fatigue
        pct = 0.0 if f is None else f.cadence_pct
        cadence = self.runner.cadence_spm * (1 + self.fatigue_level(t) * pct / 100) * self._wander("cadence", t)
        return np.asarray(60.0 / cadence)

    def nominal_contact_s(self, t: F64 | float) -> F64:
        f = self.runner.fatigue
        pct = 0.0 if f is None else f.contact_time_pct
        return np.asarray(self.runner.contact_time_ms / 1000 * (1 + self.fatigue_level(t) * pct / 100)
                          * self._wander("contact", t))

    def lean_offset_deg(self, t: F64) -> tuple[F64, F64]:
        """Slow lean wander and its rate (deg, deg/s)."""
        if self.wander is None or not self.runner.wander_lean_deg:
            return np.zeros_like(t), np.zeros_like(t)
        a = self.runner.wander_lean_deg
        return a * self.wander.value("lean", t), a * self.wander.rate("lean", t)

    def _running_windows(self) -> list[tuple[float, float]]:
        r = self.runner
        starts = [r.initial_standing_s]
        ends: list[float] = []
        for s, d in sorted(r.pauses):
            ends.append(s)
            starts.append(s + d)
        ends.append(self.duration_s)
        return [(s, e) for s, e in zip(starts, ends, strict=True) if s < e]

    # -- generation --------------------------------------------------------------------------
    def ensure(self, t: float) -> None:
        """Generate until every lookup at times <= ``t`` is final."""
        while not self.done and self.covered_s < t + LOOKAHEAD_S:
            if self._active:
                self._batch_steps()
            else:
                self._start_segment()

    def ensure_all(self) -> None:
        if math.isinf(self.duration_s):
            raise ValueError("an endless run has no complete truth; use truth_between(t0, t1)")
        self.ensure(self.duration_s)

    def _start_segment(self) -> None:
        while True:
            self._seg += 1
            if self._seg >= len(self._windows):
                self.done = True
                self.covered_s = math.inf
                if self.duration_s > self._standing_since:
                    self.standing.append((self._standing_since, self.duration_s))
                return
            start, end = self._windows[self._seg]
            interval = float(self.nominal_interval_s(start))
            contact = float(self.nominal_contact_s(start))
            ic0 = start + 2 * interval - contact
            if ic0 + 2 * interval <= end:
                break
        heel = HEEL_FRACTION * contact
        left, right = self.feet
        left.set("tc", -1, start)
        left.set("heel", -1, heel)
        right.set("tc", -1, start + interval)
        right.set("heel", -1, heel)
        if start - heel > self._standing_since:
            self.standing.append((self._standing_since, start - heel))
        self.segments.append(lift=np.array([start]), ic0=np.array([ic0]), back_end=np.array([math.inf]),
                             feet_end=np.array([math.inf]))
        self._seg_row = len(self.segments) - 1
        self._active = True
        self._batch = 0
        self._n_in_seg = 0
        self._next_ic = ic0
        self._prev_interval = math.nan
        self.covered_s = start

    def _batch_steps(self) -> None:
        r = self.runner
        fat = r.fatigue
        _, end = self._windows[self._seg]
        rng = np.random.default_rng([self.seed, 11, self._seg, self._batch])
        z = rng.standard_normal((5, BATCH))
        self._batch += 1
        cv = r.variability_pct / 100
        side = (self._n_in_seg + np.arange(BATCH)) % 2  # 0 = left, 1 = right
        a_step = r.step_asymmetry_pct / 200
        # interval i ends at step i+1, which is on the other side
        step_fac = np.where(side == 0, 1 - a_step, 1 + a_step) * (1 + cv * z[0])
        t0 = self._next_ic
        est = np.asarray(t0 + np.arange(BATCH) * float(self.nominal_interval_s(t0)), dtype=np.float64)
        for _ in range(3):
            interval = self.nominal_interval_s(est) * step_fac
            est = np.asarray(t0 + np.concatenate(([0.0], np.cumsum(interval[:-1]))), dtype=np.float64)
        ic = est
        level = self.fatigue_level(ic)
        a_ct = r.contact_asymmetry_pct / 200
        contact = self.nominal_contact_s(ic) * np.where(side == 0, 1 + a_ct, 1 - a_ct) * (1 + cv * z[1])
        contact = np.clip(contact, 0.06, interval - 0.03)
        imp = np.asarray((1 + level * (0.0 if fat is None else fat.impact_pct) / 100) * self._wander("impact", ic))
        shape_p, impact_back = solve_stance_shape(interval, contact, r.impact_back_g * imp * (1 + cv * z[2]))
        impact_shoe = np.maximum(r.impact_shoe_g * imp * (1 + cv * z[3]), 1.0)
        strike = (r.strike_angle_deg + level * (0.0 if fat is None else fat.strike_angle_deg)
                  + r.strike_variability_deg * z[4])
        lean = np.asarray(r.trunk_lean_deg + level * (0.0 if fat is None else fat.trunk_lean_deg)
                          + self.lean_offset_deg(ic)[0])

        keep = int(np.count_nonzero(ic + 2 * interval <= end))
        if self._n_in_seg == 0:
            keep = max(keep, 1)
        sl = slice(0, keep)
        prev = np.concatenate(([self._prev_interval], interval[:-1]))
        shoe_sat = np.zeros(keep, dtype=bool)
        if self._sat is not None:
            for s in (0, 1):
                m = side[sl] == s
                shoe_sat[m] = self._sat(s, strike[sl][m], impact_shoe[sl][m], contact[sl][m])
        unknown = np.full(keep, np.nan)  # back truth at the pod: filled on demand (backtruth.py)
        self.steps.append(ic=ic[sl], interval=interval[sl], contact=contact[sl], side=side[sl].astype(float),
                          step_time=prev[sl], impact_back=impact_back[sl], shape_p=shape_p[sl],
                          impact_shoe=impact_shoe[sl], strike=strike[sl],
                          lean=lean[sl], braking=r.braking_g * imp[sl],
                          vo_cm=unknown, pod_peak=unknown, shoe_sat=shoe_sat.astype(float), back_sat=unknown,
                          segment=np.full(keep, float(self._seg)))
        pulse = impact_shoe - 1.0
        vland = pulse * G_MPS2 * SHOE_PULSE_S * 2 / math.pi
        for s in (0, 1):
            m = side[sl] == s
            self.feet[s].append(ic=ic[sl][m], tc=(ic + contact)[sl][m], strike=strike[sl][m],
                                pulse_g=pulse[sl][m], load=LOAD_FRACTION * contact[sl][m],
                                heel=HEEL_FRACTION * contact[sl][m], vland=vland[sl][m])
        self._n_in_seg += keep
        self._prev_interval = float(interval[keep - 1])
        self._next_ic = float(ic[keep - 1] + interval[keep - 1])
        self.covered_s = float(ic[keep - 1])
        if keep < BATCH:
            self._finish_segment(int(side[keep - 1]), float(ic[keep - 1]), float(interval[keep - 1]))

    def _finish_segment(self, last_side: int, last_ic: float, last_interval: float) -> None:
        """The runner stops: the other foot lands softly one interval later, then this one."""
        land1 = last_ic + last_interval
        land2 = land1 + last_interval
        contact = float(self.nominal_contact_s(land1))
        for s, t in ((1 - last_side, land1), (last_side, land2)):
            self.feet[s].append(ic=np.array([t]), tc=np.array([math.inf]), strike=np.zeros(1),
                                pulse_g=np.zeros(1), load=np.array([LOAD_FRACTION * contact]),
                                heel=np.array([HEEL_FRACTION * contact]), vland=np.zeros(1))
        self.segments.set("back_end", self._seg_row, land1)
        self.segments.set("feet_end", self._seg_row, land2)
        self._standing_since = land2
        self._active = False
        self.covered_s = land2
