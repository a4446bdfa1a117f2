"""Step events and foot strike from a shoe pod (foot frame: x toes, y left, z up).

Pitch angular velocity ``gyr_y`` (> 0 toes down) has one large negative peak per stride in
mid-swing, when the foot swings from toes-down to toes-up. The stride is segmented on it
(hysteresis ``swing_on_dps``/``swing_off_dps``), after Falbriard 2018 and Rampp 2014:

* **IC** - after mid-swing the first pitch-rate peak (``peak_drop_dps`` hysteresis): for a
  forefoot strike the toes reach the ground at the end of the late-swing plantarflexion, for a
  heel strike the peak is mid-slap, ``slap_delay_s`` after the heel touched. Which of the two
  is decided by the foot's pitch at the peak (toes up = heel first). When the pod sees the
  impact itself (|acc| rising faster than ``impact_jerk_gps``, as real pods on a hard landing
  do), IC is timed on it instead; smooth signals (marker-derived validation pods, soft
  landings) keep the rotation estimate.
* **Mid-stance** - the quietest moment (smallest |gyro|) in ``midstance_search_s`` after it.
* **TC** - the foot has pitched ``toe_off_pitch_deg`` toes-down from foot-flat (mid-stance),
  by integrating ``gyr_y`` forward from mid-stance. The toes leave the ground at a nearly
  fixed foot angle (the toe lever and the metatarsophalangeal joint's dorsiflexion set it):
  44-54 deg at the force-plate / marker TC on all ten Fukuchi feet (3 runners, 2.5-4.5 m/s),
  while the whole push-off rotation grows with speed (73-129 deg), so a fraction of that
  rotation drifts from early to late with speed. A stance whose foot never gets that far
  falls back to half of the push-off rotation.
* **Strike angle** - foot pitch just before IC (the last sample before the impact) relative to
  foot-flat: integrate the pitch rate backwards from mid-stance, where the foot is flat as when
  standing (the Fukuchi markers put it within 0.3-1.3 deg of the standing pitch on every foot,
  forefoot strikers included); a short integration, so gyro drift does not matter, and the fast
  slap right after IC does not leak in. > 0 toes up (heel first). The pitch axis is the foot's
  own: the calibration's y axis is the swing's rotation axis, and the foot's long axis is
  turned out from the swing direction (toe-out, 1-14 deg on the Fukuchi feet); a foot that
  lands inverted (12-21 deg of roll at IC) would otherwise leak ``sin(toe-out) x roll`` into
  the angle (+5 deg on the forefoot striker RBDS001's left foot). The rate is therefore taken
  about the axis turned out by ``toe_out_deg``.

Look-ahead: IC and strike angle ``ic_search_s + midstance_search_s`` after the swing peak
(~0.35 s, about 0.1-0.2 s after IC); the complete contact at the start of the next swing,
~0.1 s after TC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sensorkit.dsp.base import F64, History, StageHealth
from sensorkit.dsp.contacts import Contact
from sensorkit.dsp.filters import FirLowpass
from sensorkit.dsp.impact import impact_of
from sensorkit.model import Side


@dataclass(frozen=True, slots=True)
class FootStepSettings:
    """Thresholds and plausibility limits of the shoe-pod detector."""

    lowpass_hz: float = 20.0
    """Cut-off (Hz) of the linear-phase FIR on pitch angular velocity."""
    fir_duration_s: float = 0.05
    """FIR length (s); its delay is removed exactly."""
    swing_on_dps: float = 250.0
    """Pitch rate below minus this (deg/s) is a swing ..."""
    swing_off_dps: float = 100.0
    """... which ends when it rises above minus this (deg/s)."""
    min_swing_s: float = 0.06
    """A swing lasts at least this long (s) below ``-swing_off_dps`` after passing
    ``-swing_on_dps``; shorter dips are a forefoot strike's heel drop."""
    ic_search_s: float = 0.2
    """Window (s) after the swing peak ends in which touchdown is searched."""
    ic_offset_s: float = 0.0
    """Constant added to every IC (s)."""
    midstance_search_s: float = 0.15
    """Window (s) after IC in which the quietest (foot-flat) moment is searched."""
    push_off_min_dps: float = 100.0
    """The push-off (toes-down) pitch rate before the next swing must exceed this (deg/s)."""
    toe_off_pitch_deg: float = 48.0
    """TC is when the foot has pitched this far toes-down from foot-flat (deg); see the
    module docstring (Fukuchi: 44-54 deg at TC; leave-one-trial-out choice 47-50 deg)."""
    push_off_fraction: float = 0.5
    """Fallback when the foot never reaches ``toe_off_pitch_deg``: TC is when this fraction
    of the push-off rotation (mid-stance to swing) is done."""
    peak_min_dps: float = -90.0
    """The touchdown peak of pitch rate is the first one above this (deg/s) ..."""
    peak_drop_dps: float = 20.0
    """... followed by a drop of half its height, and at least of this (deg/s), or by a
    plateau (foot flat after a flat landing) ..."""
    plateau_s: float = 0.03
    """... of this long (s)."""
    slap_delay_s: float = 0.016
    """A heel strike's pitch-rate peak comes this long (s) after IC, mid-slap."""
    heel_first_from_deg: float = 6.0
    """Toes-up pitch (deg) at the touchdown peak above which it is a heel strike's slap and
    the slap delay starts to apply ..."""
    heel_first_full_deg: float = 9.0
    """... and fully applies (deg); in between it is interpolated."""
    tc_offset_s: float = 0.0
    """Constant added to every TC (s)."""
    toe_out_deg: float = 7.0
    """Typical angle (deg) between the foot's long axis and the swing direction (toe-out; 7.2
    mean, 1-14 per foot on the ten Fukuchi feet): the strike angle is a rotation about the
    foot's own pitch axis, the swing axis turned out by this much."""
    impact_jerk_gps: float = 400.0
    """A rise of |acc| faster than this (g/s) is the impact itself and times IC."""
    impact_search_before_s: float = 0.06
    """The impact is searched from this long (s) before the touchdown rotation peak ..."""
    impact_search_after_s: float = 0.02
    """... to this long after it (s)."""
    impact_window_s: float = 0.06
    """Window (s) after IC in which the impact peak is searched."""
    min_contact_s: float = 0.08
    """Shorter contacts (s) are rejected."""
    max_contact_s: float = 0.6
    """Longer contacts (s) are rejected (walking, standing)."""
    min_stride_s: float = 0.42
    """Shortest plausible stride (s), two steps at 4.75 steps/s."""
    acc_range_g: float | None = None
    """Sensor full scale (g), for the saturation flag; None = detect flat tops."""


class FootStepDetector:
    """Streams body-frame shoe samples in, :class:`Contact` records (one foot) out."""

    def __init__(self, settings: FootStepSettings, sampling_rate_hz: float, side: Side) -> None:
        self.settings = settings
        self.fs = sampling_rate_hz
        self.side = side
        s = settings
        self._ic_n = max(round(s.ic_search_s * self.fs), 2)
        self._ms_n = max(round(s.midstance_search_s * self.fs), 2)
        self._min_swing_n = max(round(s.min_swing_s * self.fs), 1)
        self._jerk_back_n = round(s.impact_search_before_s * self.fs)
        self._jerk_fwd_n = round(s.impact_search_after_s * self.fs) + 1
        self._impact_n = max(round(s.impact_window_s * self.fs), 3)
        # The IC search's rows after the touchdown peak: mid-stance's, and the impact's of any IC.
        self._wide_n = max(self._ms_n, self._jerk_fwd_n + self._impact_n)
        self._plateau_n = max(round(s.plateau_s * self.fs), 2)
        self._keep = int(3.0 * self.fs)
        # foot pitch rate = cos(toe-out) gyr_y -/+ sin(toe-out) gyr_x (left / right foot)
        out = math.radians(settings.toe_out_deg) * (1.0 if side is Side.LEFT else -1.0)
        self._pitch_axis = np.array([-math.sin(out), math.cos(out)])
        self.reset()

    def reset(self) -> None:
        s = self.settings
        self.health = StageHealth()
        self._fir = FirLowpass(s.lowpass_hz, self.fs, s.fir_duration_s)
        self._delay = self._fir.delay_samples
        self._raw = History(7, self._keep)  # t, acc(3), gyr(3)
        self._filt = History(1, self._keep)  # pitch rate, aligned to raw
        self._cursor = 0
        self._seg_start = 0
        self._skip = self._delay
        self._state = 0  # 1 in swing
        self._swing_start: int | None = None
        self._pending_ic: int | None = None  # swing-end index whose IC is yet to be searched
        self._stance: tuple[float, int, float | None, int] | None = None  # ic_s, ic_idx, fsa, ms_idx
        self._acc_norm: tuple[int, F64] | None = None  # |acc| from this index on, around the last IC
        self._last_ic: float | None = None

    def gap(self) -> list[Contact]:
        # The stance in progress loses its TC, not its IC: it was final (see open_ics_s).
        out = [] if self._stance is None else [self._ic_only(self._stance)]
        self.health.gaps += 1
        self._fir.reset()
        end = self._raw.end
        self._raw.clear(end)
        self._filt.clear(end)
        self._cursor = end
        self._seg_start = end
        self._skip = self._delay
        self._state = 0
        self._swing_start = None
        self._pending_ic = None
        self._stance = None
        self._acc_norm = None
        self._last_ic = None
        return out

    def open_ics_s(self) -> list[float]:
        """The IC of the stance in progress: final, though its contact waits for TC.

        Final means it is released whatever follows: a stance whose TC is implausible or cut
        by a gap still comes out, as ``Contact(announced_only=True)``, so fusion, which ends
        the previous step at this IC before TC is known, never used an IC that later vanished.
        """
        return [] if self._stance is None else [self._stance[0]]

    def watermark_s(self) -> float | None:
        """No contact released later will have an IC before this time (None: nothing seen)."""
        if self._cursor <= max(self._seg_start, self._raw.start):
            return None
        raw = self._raw
        t = raw.value(self._cursor - 1)
        b = self._pending_ic
        if b is not None and raw.start <= b < raw.end:
            t = min(t, raw.value(b) + min(self.settings.ic_offset_s, 0.0))
        if self._stance is not None:
            t = min(t, self._stance[0])
        return t

    def update(self, time_s: F64, acc_bf_g: F64, gyr_bf_dps: F64) -> list[Contact]:
        n = time_s.shape[0]
        if n == 0:
            return []
        self._raw.append_parts(time_s, acc_bf_g, gyr_bf_dps)
        gf = self._fir(gyr_bf_dps[:, 1])
        if self._skip:
            drop = min(self._skip, n)
            gf = gf[drop:]
            self._skip -= drop
        self._filt.append(gf[:, None])
        out: list[Contact] = []
        self._segment(out)
        if self.health.warming_up and self._last_ic is not None:
            self.health.warming_up = False
        return out

    def _segment(self, out: list[Contact]) -> None:
        s = self.settings
        lo, hi = self._cursor, self._filt.end
        if hi <= lo:
            return
        x = self._filt.column(lo, hi)
        # Most blocks never cross the threshold that would leave the current state: then the
        # state holds throughout and there is no edge (same result as the full pass below).
        # (logical_or.reduce: ndarray.any without its Python wrapper, the same answer)
        anyof = np.logical_or.reduce
        stays = not anyof(x < -s.swing_on_dps) if self._state == 0 else not anyof(x > -s.swing_off_dps)
        if not stays:
            # A sample below -swing_on_dps decides "swing", one above -swing_off_dps "no swing",
            # any other keeps the state: it changes at a deciding sample that differs from the
            # deciding sample before it (from the state at the block's start for the first).
            swing = x < -s.swing_on_dps
            deciding = (swing | (x > -s.swing_off_dps)).nonzero()[0]
            says = swing[deciding]  # not empty: a sample leaves the state (not stays)
            change = (says[1:] != says[:-1]).nonzero()[0]
            change += 1
            edges, rises = deciding[change].tolist(), says[change].tolist()
            if bool(says[0]) != bool(self._state):
                edges.insert(0, int(deciding[0]))
                rises.insert(0, bool(says[0]))
            for e, rise in zip(edges, rises, strict=True):
                j = lo + e
                self._run_pending_ic(j)
                if rise:  # maybe a swing starts
                    self._swing_start = j
                elif self._swing_start is not None:
                    start, self._swing_start = self._swing_start, None
                    if j - start >= self._min_swing_n:  # a real swing: the stance before it is over
                        self._end_stance(start, out)
                        self._pending_ic = j  # touchdown follows
                    # else: a short dip (a forefoot strike's heel drop) inside the stance
            self._state = int(says[-1])
        self._cursor = hi
        if self._pending_ic is not None:
            self._run_pending_ic(hi)

    def _run_pending_ic(self, upto: int) -> None:
        b = self._pending_ic
        if b is None or upto < b + self._ic_n + self._ms_n:
            return
        self._pending_ic = None
        s = self.settings
        lo = max(b, self._raw.start, self._filt.start, self._seg_start)
        x = self._filt.column(lo, b + self._ic_n).tolist()
        if len(x) < 4:
            return
        # Touchdown rotation: the first pitch-rate peak after the swing (above peak_min_dps)
        # followed by a drop of half its height (at least peak_drop_dps): the heel slap
        # (rearfoot) or the toes reaching the ground just before the heel drops (forefoot).
        # A flat landing has no peak at all: the rate levels off at ~0 (foot flat) - a
        # plateau of plateau_s also ends the search.
        k, best = 0, x[0]
        plateau = self._plateau_n
        peak_min, drop = s.peak_min_dps, s.peak_drop_dps
        for i in range(1, len(x)):
            v = x[i]
            if v > best:
                k, best = i, v
            # (half is max(drop, 0.5 * best) as a conditional expression: the same pick, no call)
            elif best >= peak_min and (v < best - (half if (half := 0.5 * best) > drop else drop)
                                       or i - k >= plateau):
                break
        p_pos = lo + _parabolic(x, k)
        p_idx = lo + k
        # Mid-stance: the quietest sample after the peak. Its pitch is taken as 0, flat as at
        # calibration: the tilt of acceleration there is off by up to ~15 deg in a short, fast
        # stance (Fukuchi RBDS004 at 4.5 m/s) while flat-foot is right within a few degrees.
        # One window from the impact search's start to past mid-stance's and the impact's, and
        # |acc|^2, |gyr|^2 of all its rows in one einsum (each row the bits of a separate
        # "ij,ij->i" over its own window: checked over random windows, specials included).
        w0 = max(p_idx - self._jerk_back_n, b, self._raw.start)
        wide = self._raw.view(w0, p_idx + self._wide_n)
        planes = wide[:, 1:7].reshape(-1, 2, 3)
        sq = np.einsum("ijk,ijk->ij", planes, planes)
        k0 = p_idx - w0
        gn = sq[k0:k0 + self._ms_n, 1]
        if gn.shape[0] < 3:
            return
        m = int(gn.argmin())
        ms_idx = p_idx + m
        # Foot-flat pitch: from the tilt of acceleration when the foot is really still for a
        # while (a slow run), else 0 - flat as when the pod was calibrated (dynamic
        # acceleration of a short, fast stance would tilt the estimate by up to ~15 deg).
        pitch_ms = 0.0
        toes_up_p = -(pitch_ms - self._rotation(p_pos, ms_idx))
        # A heel strike peaks mid-slap, slap_delay_s after IC, with the foot still clearly
        # toes-up; a forefoot strike peaks at IC, the foot near flat or toes-down.
        span = s.heel_first_full_deg - s.heel_first_from_deg
        frac = min(max((toes_up_p - s.heel_first_from_deg) / span, 0.0), 1.0)
        ic_pos = p_pos - frac * s.slap_delay_s * self.fs
        # A real pod sees the impact itself: a jump of |acc| faster than impact_jerk_gps.
        # When it is there, it times IC to the sample (the rotation peak then only chose the
        # window); smooth data (soft shoes, marker-derived pods) keep the rotation estimate.
        # |acc| is taken on to the end of the impact window of any IC this search can find,
        # which _contact then reuses (einsum gives a row the same bits in any window).
        acc_norm = np.sqrt(sq[:, 0])
        self._acc_norm = (w0, acc_norm)
        n = min(wide.shape[0], p_idx + self._jerk_fwd_n - w0)
        if n >= 3:
            an, t = acc_norm[:n], wide[:n, 0]
            jerk = (an[1:] - an[:-1]) / (t[1:] - t[:-1])  # np.diff's own arithmetic, without its wrapper
            j = int(jerk.argmax())
            top = float(jerk[j])
            if top >= s.impact_jerk_gps:
                while j > 0 and float(jerk[j - 1]) >= 0.5 * top:  # onset of the rise
                    j -= 1
                ic_pos = w0 + j + 0.5
        ic = self._time_at(ic_pos) + s.ic_offset_s
        if self._last_ic is not None and ic - self._last_ic < s.min_stride_s:
            self.health.rejected += 1
            return
        fsa = toes_up_p + self._rotation(ic_pos, p_pos)
        self._stance = (ic, max(int(ic_pos), self._raw.start), fsa, ms_idx)
        self._last_ic = ic

    def _end_stance(self, swing_idx: int, out: list[Contact]) -> None:
        """TC: the foot has pitched ``toe_off_pitch_deg`` toes-down from mid-stance.

        Pitch is the trapezoidal integral of the raw pitch rate from mid-stance (foot flat,
        0 deg): a short integration, so gyro bias does not matter (1 deg/s: 0.2 deg).
        """
        if self._stance is None:
            return
        s = self.settings
        ic, ic_idx, fsa, ms_idx = self._stance
        self._stance = None
        lo = max(ms_idx, self._filt.start, self._raw.start)
        x = self._filt.column(lo, swing_idx + 1)
        if x.shape[0] < 3 or float(_max(x)) < s.push_off_min_dps:
            self.health.rejected += 1
            out.append(self._ic_only((ic, ic_idx, fsa, ms_idx)))
            return
        w = self._raw.view(lo, swing_idx + 1)
        t, g = w[:, 0], w[:, 5]
        pitch2 = ((g[1:] + g[:-1]) * (t[1:] - t[:-1])).cumsum()  # 2 x toes-down pitch, at samples 1..n-1
        target = 2.0 * s.toe_off_pitch_deg
        k = int((pitch2 >= target).argmax())
        if pitch2[k] >= target:
            p0 = float(pitch2[k - 1]) if k > 0 else 0.0
            frac = (target - p0) / (float(pitch2[k]) - p0)
            tc = float(t[k]) + frac * float(t[k + 1] - t[k]) + s.tc_offset_s
        else:  # the foot never got that far: half of the push-off rotation
            cum = np.cumsum(np.clip(x, 0.0, None))
            k = int(np.searchsorted(cum, s.push_off_fraction * float(cum[-1])))
            k = min(max(k, 1), x.shape[0] - 1)
            c0, c1 = float(cum[k - 1]), float(cum[k])
            frac = (s.push_off_fraction * float(cum[-1]) - c0) / (c1 - c0) if c1 > c0 else 0.0
            tc = self._time_at(lo + k - 1 + frac) + s.tc_offset_s
        if not (s.min_contact_s <= tc - ic <= s.max_contact_s):
            self.health.rejected += 1
            out.append(self._ic_only((ic, ic_idx, fsa, ms_idx)))
            return
        out.append(self._contact(ic, ic_idx, tc, fsa))

    def _time_at(self, pos: float) -> float:
        i = int(pos)
        t0 = self._raw.value(i)
        if i + 1 < self._raw.end:
            return t0 + (pos - i) * (self._raw.value(i + 1) - t0)
        return t0 + (pos - i) / self.fs

    def _rotation(self, a: float, b: float) -> float:
        """Integral of raw pitch rate (deg) from fractional position ``a`` to ``b``."""
        if b < a:
            return -self._rotation(b, a)
        i0, i1 = int(a), int(b)
        w = self._raw.view(i0, i1 + 2)
        n = w.shape[0]
        if n < 2:
            return 0.0
        # n == i1 - i0 + 2 unless the view was clipped at the newest sample: then the end is
        # interpolated in the last interval. The ends are replaced in copies (the rate's is
        # new anyway): the same trapezoids and sum as building [a, samples..., b], with fewer
        # numpy calls (a stance makes two of these).
        gg = w[:, 4:6] @ self._pitch_axis  # (a BLAS product: its bits depend on the window, kept as is)
        fa, fb = a - i0, b - i1
        j = min(i1 - i0, n - 2)
        if n <= _FEW_ROWS:  # the slap's rotation (2-4 samples): in Python floats, numpy's own sum
            tl, gl = w[:, 0].tolist(), gg.tolist()
            t0, t1, tj, tj1 = tl[0], tl[1], tl[j], tl[j + 1]
            g0, g1, gj, gj1 = gl[0], gl[1], gl[j], gl[j + 1]
            tl[0], gl[0] = t0 + fa * (t1 - t0), g0 + fa * (g1 - g0)
            tl[j + 1], gl[j + 1] = tj + fb * (tj1 - tj), gj + fb * (gj1 - gj)
            total = 0.0
            for k in range(n - 1):
                total += (gl[k + 1] + gl[k]) * 0.5 * (tl[k + 1] - tl[k])
            return total
        tt = w[:, 0].copy()
        t0, t1, tj, tj1 = float(tt[0]), float(tt[1]), float(tt[j]), float(tt[j + 1])
        g0, g1, gj, gj1 = float(gg[0]), float(gg[1]), float(gg[j]), float(gg[j + 1])
        tt[0], gg[0] = t0 + fa * (t1 - t0), g0 + fa * (g1 - g0)
        tt[j + 1], gg[j + 1] = tj + fb * (tj1 - tj), gj + fb * (gj1 - gj)
        area = gg[1:] + gg[:-1]
        area *= 0.5
        area *= tt[1:] - tt[:-1]
        return float(np.add.reduce(area))

    def _impact_acc_norm(self, lo: int, w: F64) -> F64:
        """|acc| of the rows ``w`` (from absolute index ``lo``): the IC search's if it has them."""
        if self._acc_norm is not None and self._raw.start <= lo:
            a0, acc_norm = self._acc_norm
            i = lo - a0
            if i >= 0 and i + w.shape[0] <= acc_norm.shape[0]:
                return acc_norm[i:i + w.shape[0]]
        return np.sqrt(np.einsum("ij,ij->i", w[:, 1:4], w[:, 1:4]))

    def _ic_only(self, stance: tuple[float, int, float | None, int]) -> Contact:
        """A stance without a plausible TC: its announced IC, marked as no contact."""
        return Contact(ic_s=stance[0], tc_s=None, side=self.side, side_confidence=1.0, announced_only=True)

    def _contact(self, ic: float, ic_idx: int, tc: float, fsa: float | None) -> Contact:
        s = self.settings
        w = self._raw.view(ic_idx, ic_idx + self._impact_n)
        an = self._impact_acc_norm(ic_idx, w)
        imp = impact_of(w[:, 0], w[:, 1:4], an, s.acc_range_g)
        if imp is not None and imp.saturated:
            self.health.saturated += 1
        return Contact(ic_s=ic, tc_s=tc, side=self.side, impact_g=None if imp is None else imp.peak_g,
                       loading_rate_gps=None if imp is None else imp.loading_rate_gps,
                       saturated=bool(imp is not None and imp.saturated), strike_angle_deg=fsa,
                       side_confidence=1.0)


_FEW_ROWS = 8
"""Up to this many rows (fewer than 8 trapezoids) numpy's float sum adds its terms one by one,
starting from 0.0 (its pairwise summation starts at 8); summing them so in Python gives the same
bits without four numpy calls."""
_max = np.maximum.reduce
"""``ndarray.max`` without its Python wrapper (the same answer)."""


def _parabolic(x: list[float], k: int) -> float:
    """Sub-sample position of the peak at ``k`` (parabola through three samples)."""
    if k <= 0 or k >= len(x) - 1:
        return float(k)
    a, b, c = x[k - 1], x[k], x[k + 1]
    den = a - 2 * b + c
    return k + (min(max(0.5 * (a - c) / den, -0.5), 0.5) if den != 0 else 0.0)
