"""Step events and foot strike from a shoe pod (foot frame: x toes, y left, z up).

Pitch angular velocity ``gyr_y`` (> 0 toes down) has one large negative peak per stride in
mid-swing, when the foot swings from toes-down to toes-up. The stride is segmented on it
(hysteresis ``swing_on_dps``/``swing_off_dps``), after Falbriard 2018 and Rampp 2014:

* **IC** - after mid-swing the foot hits the ground: the steepest rise of the resultant
  acceleration (the impact) in ``ic_search_s`` after the swing peak ends.
* **Mid-stance** - the quietest moment (smallest |gyro|) in ``midstance_search_s`` after IC.
* **TC** - the peak push-off (toes-down, ``gyr_y`` > 0) rate between mid-stance and the next
  swing: the foot leaves the ground at its fastest plantarflexion (Falbriard 2018).
* **Strike angle** - foot pitch just before IC (the last sample before the impact) relative to
  foot-flat: integrate ``gyr_y`` backwards from mid-stance (where the foot is flat and the tilt
  of acceleration gives its pitch); a short integration, so gyro drift does not matter, and
  the fast slap right after IC does not leak in. > 0 toes up (heel first).

Look-ahead: IC and strike angle ``ic_search_s + midstance_search_s`` after the swing peak
(~0.35 s, about 0.1-0.2 s after IC); the complete contact at the start of the next swing,
~0.1 s after TC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensorkit.dsp.base import F64, History, StageHealth, parabolic_peak
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
    ic_search_s: float = 0.2
    """Window (s) after the swing peak ends in which touchdown is searched."""
    ic_offset_s: float = 0.0
    """Constant added to every IC (s)."""
    midstance_search_s: float = 0.15
    """Window (s) after IC in which the quietest (foot-flat) moment is searched."""
    push_off_min_dps: float = 100.0
    """TC is the peak push-off (toes-down) pitch rate before the next swing; it must exceed
    this (deg/s)."""
    tc_offset_s: float = 0.0
    """Constant added to every TC (s)."""
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
        self._keep = int(3.0 * self.fs)
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
        self._last_ic: float | None = None

    def gap(self) -> list[Contact]:
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
        self._last_ic = None
        return []

    def watermark_s(self) -> float | None:
        """No contact released later will have an IC before this time (None: nothing seen)."""
        if self._cursor <= max(self._seg_start, self._raw.start):
            return None
        t = float(self._raw.view(self._cursor - 1, self._cursor)[0, 0])
        if self._pending_ic is not None:
            r = self._raw.view(self._pending_ic, self._pending_ic + 1)
            if r.shape[0]:
                t = min(t, float(r[0, 0]) + min(self.settings.ic_offset_s, 0.0))
        if self._stance is not None:
            t = min(t, self._stance[0])
        return t

    def update(self, time_s: F64, acc_bf_g: F64, gyr_bf_dps: F64) -> list[Contact]:
        n = time_s.shape[0]
        if n == 0:
            return []
        self._raw.append(np.column_stack([time_s, acc_bf_g, gyr_bf_dps]))
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
        x = self._filt.view(lo, hi)[:, 0]
        st = np.full(x.shape[0], -1, dtype=np.int8)
        st[x < -s.swing_on_dps] = 1
        st[x > -s.swing_off_dps] = 0
        known = np.where(st >= 0, np.arange(x.shape[0]), -1)
        np.maximum.accumulate(known, out=known)
        state = np.where(known >= 0, st[np.maximum(known, 0)], self._state).astype(np.int8)
        d = np.diff(np.concatenate([[self._state], state]))
        for e in np.flatnonzero(d != 0).tolist():
            j = lo + e
            self._run_pending_ic(j)
            if d[e] > 0:  # swing starts: the stance before it is over
                self._swing_start = j
                self._end_stance(j, out)
            elif self._swing_start is not None:  # swing ends: touchdown follows
                self._pending_ic = j
                self._swing_start = None
        self._state = int(state[-1])
        self._cursor = hi
        self._run_pending_ic(hi)

    def _run_pending_ic(self, upto: int) -> None:
        b = self._pending_ic
        if b is None or upto < b + self._ic_n + self._ms_n:
            return
        self._pending_ic = None
        s = self.settings
        lo = max(b, self._raw.start, self._seg_start)
        w = self._raw.view(lo, b + self._ic_n)
        if w.shape[0] < 4:
            return
        an = np.sqrt(np.einsum("ij,ij->i", w[:, 1:4], w[:, 1:4]))
        jerk = np.diff(an)
        k = int(np.argmax(jerk))
        ic_idx = lo + k
        t = w[:, 0]
        ic = float(t[k] + 0.5 * (t[k + 1] - t[k])) + s.ic_offset_s
        if self._last_ic is not None and ic - self._last_ic < s.min_stride_s:
            self.health.rejected += 1
            return
        # Mid-stance: quietest sample after IC; pitch there from the tilt of acceleration.
        ms = self._raw.view(ic_idx + 1, ic_idx + 1 + self._ms_n)
        if ms.shape[0] < 3:
            return
        gn = np.einsum("ij,ij->i", ms[:, 4:7], ms[:, 4:7])
        m = int(np.argmin(gn))
        ms_idx = ic_idx + 1 + m
        a = ms[m, 1:4]
        pitch_ms = float(np.degrees(np.arctan2(-a[0], a[2])))
        seg = self._raw.view(ic_idx, ms_idx + 1)
        gy = seg[:, 5]
        rot = float(np.sum(0.5 * (gy[1:] + gy[:-1]) * np.diff(seg[:, 0]))) if seg.shape[0] >= 2 else 0.0
        pitch_ic = pitch_ms - rot
        self._stance = (ic, ic_idx, -pitch_ic, ms_idx)
        self._last_ic = ic

    def _end_stance(self, swing_idx: int, out: list[Contact]) -> None:
        if self._stance is None:
            return
        s = self.settings
        ic, ic_idx, fsa, ms_idx = self._stance
        self._stance = None
        lo = max(ms_idx, self._filt.start)
        x = self._filt.view(lo, swing_idx + 1)[:, 0]
        if x.shape[0] < 3 or float(x.max()) < s.push_off_min_dps:
            self.health.rejected += 1
            return
        pos = lo + parabolic_peak(x, int(np.argmax(x)))
        t = self._raw.view(int(pos), int(pos) + 2)[:, 0]
        tc = float(t[0] + (pos - int(pos)) * (t[1] - t[0])) if t.shape[0] == 2 else float(t[0])
        tc += s.tc_offset_s
        if not (s.min_contact_s <= tc - ic <= s.max_contact_s):
            self.health.rejected += 1
            return
        out.append(self._contact(ic, ic_idx, tc, fsa))

    def _contact(self, ic: float, ic_idx: int, tc: float, fsa: float | None) -> Contact:
        s = self.settings
        w = self._raw.view(ic_idx, ic_idx + max(round(s.impact_window_s * self.fs), 3))
        an = np.sqrt(np.einsum("ij,ij->i", w[:, 1:4], w[:, 1:4]))
        imp = impact_of(w[:, 0], w[:, 1:4], an, s.acc_range_g)
        if imp is not None and imp.saturated:
            self.health.saturated += 1
        return Contact(ic_s=ic, tc_s=tc, side=self.side, impact_g=None if imp is None else imp.peak_g,
                       loading_rate_gps=None if imp is None else imp.loading_rate_gps,
                       saturated=bool(imp is not None and imp.saturated), strike_angle_deg=fsa,
                       side_confidence=1.0)
