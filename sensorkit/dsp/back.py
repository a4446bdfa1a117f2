"""Step events from a lower-back (sacrum) pod: IC, TC, side, impact, vertical oscillation.

Physics: the vertical specific force at the sacrum is close to the body's vertical ground
reaction force divided by body weight: about 0 g in flight, 2-3 g in mid-stance. A linear-phase
FIR low-pass of the body-frame vertical acceleration is segmented with hysteresis
(``on_g``/``off_g``); IC and TC are the crossings of ``contact_g`` on the rising and falling
edges, extrapolated back to the flight level along the edge, minus the FIR's exact delay.

Side: during a left stance the ground pushes the pelvis to the right (y < 0), so the mean
medio-lateral acceleration of a stance (relative to its whole step) is negative for left
steps. Single steps are noisy (82 % right in the literature), so the sign is voted over the
alternating step sequence, which is right for every step once a few steps agree.

Look-ahead (data time after the event): an IC is confirmed ``min_contact_s`` after its rising
edge plus the FIR delay (about 0.1 s); a complete :class:`Contact` (with its vertical
oscillation, which needs the next IC) is released one step later, at the next confirmed IC,
or ``max_step_s`` after its IC when no next step comes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensorkit.dsp.base import F64, History, StageHealth
from sensorkit.dsp.contacts import Contact
from sensorkit.dsp.filters import FirLowpass
from sensorkit.dsp.impact import impact_of
from sensorkit.model import Side

G_MPS2 = 9.80665


@dataclass(frozen=True, slots=True)
class BackStepSettings:
    """Thresholds and plausibility limits of the lower-back step detector."""

    lowpass_hz: float = 15.0
    """Cut-off (Hz) of the linear-phase FIR applied to vertical acceleration."""
    fir_duration_s: float = 0.06
    """FIR length (s); its delay, half of this, is removed from event times."""
    on_g: float = 1.0
    """Filtered vertical acceleration (g) above which the pelvis is in a stance ..."""
    off_g: float = 0.6
    """... and below which it is in flight (hysteresis)."""
    contact_g: float = 0.6
    """Level (g) whose crossings on the edges locate IC and TC; within ``[off_g, on_g]``."""
    edge_upper_g: float = 1.2
    """Second level (g, above ``on_g``) on each edge: the line through both crossings is
    extended to the flight level."""
    flight_g: float = 0.0
    """Flight level (g) the edges are extrapolated to (free fall reads 0 g)."""
    ic_offset_s: float = 0.0
    """Constant added to every IC (s): the systematic lag of the sacrum behind the foot."""
    tc_offset_s: float = 0.0
    """Constant added to every TC (s)."""
    min_contact_s: float = 0.08
    """Shorter stances (s) are rejected; an IC is confirmed this long after its edge."""
    max_contact_s: float = 0.45
    """Longer stances (s) are rejected (walking, standing)."""
    min_step_s: float = 0.21
    """Shortest plausible step (s): 4.75 steps/s."""
    max_step_s: float = 0.75
    """Longest step (s) still joined to the previous one (80 steps/min)."""
    min_peak_g: float = 1.3
    """A stance must reach this filtered vertical acceleration (g)."""
    side_vote: float = 0.7
    """Weight of the past in the alternating left/right vote (0 = every step on its own)."""
    acc_range_g: float | None = None
    """Sensor full scale (g), for the saturation flag; None = detect flat tops."""


class BackStepDetector:
    """Streams body-frame lower-back samples in, :class:`Contact` records out."""

    def __init__(self, settings: BackStepSettings, sampling_rate_hz: float) -> None:
        self.settings = settings
        self.fs = sampling_rate_hz
        self._keep = int((2 * settings.max_step_s + settings.max_contact_s + 1.0) * sampling_rate_hz)
        self._min_contact_n = max(round(settings.min_contact_s * sampling_rate_hz), 1)
        self.reset()

    def reset(self) -> None:
        s = self.settings
        self.health = StageHealth()
        self._fir = FirLowpass(s.lowpass_hz, self.fs, s.fir_duration_s)
        self._delay = self._fir.delay_samples
        self._raw = History(4, self._keep)  # t, ax, ay, az
        self._filt = History(1, self._keep)  # azf, aligned to raw indices
        self._state = 1  # as if in a stance: a rise only counts after a flight was seen
        self._cursor = 0  # next filtered index to segment
        self._rise: int | None = None  # index of the current stance's rising edge
        self._rise_ic: float | None = None  # its IC time
        self._rise_confirmed = False
        self._open: list[tuple[float, float, int, int]] = []  # (ic_s, tc_s, ic_idx, tc_idx) awaiting next IC
        self._vote = 0.0
        self._parity = 1.0
        self._last_ic: float | None = None
        self._seg_start = 0
        self._skip = self._delay  # filtered outputs still belonging to before the segment
        self.health.warming_up = True

    def gap(self) -> list[Contact]:
        """Samples are missing: close what is complete, forget partial stances, restart filters."""
        out = self._flush_open(None)
        self.health.gaps += 1
        self._fir.reset()
        end = self._raw.end
        self._raw.clear(end)
        self._filt.clear(end)
        self._cursor = end
        self._seg_start = end
        self._skip = self._delay
        self._state = 1
        self._rise = None
        self._rise_ic = None
        self._rise_confirmed = False
        self._last_ic = None
        self._parity = 1.0
        return out

    def watermark_s(self) -> float | None:
        """No contact released later will have an IC before this time (None: nothing seen)."""
        if self._cursor <= max(self._seg_start, self._raw.start):
            return None
        back = 0.15 + 0.08 + 2.0 / self.fs - min(self.settings.ic_offset_s, 0.0)  # edge reach
        t = float(self._raw.view(self._cursor - 1, self._cursor)[0, 0]) - back
        if self._rise is not None:
            r = self._raw.view(self._rise, self._rise + 1)
            if r.shape[0]:
                t = min(t, float(r[0, 0]) - back)
        if self._open:
            t = min(t, self._open[0][0])
        return t

    def update(self, time_s: F64, acc_bf_g: F64) -> list[Contact]:
        n = time_s.shape[0]
        if n == 0:
            return []
        self._raw.append(np.column_stack([time_s, acc_bf_g]))
        azf = self._fir(acc_bf_g[:, 2])
        if self._skip:
            drop = min(self._skip, n)
            azf = azf[drop:]
            self._skip -= drop
        self._filt.append(azf[:, None])
        return self._segment()

    # -- segmentation ---------------------------------------------------------------------------
    def _segment(self) -> list[Contact]:
        s = self.settings
        out: list[Contact] = []
        lo, hi = self._cursor, self._filt.end
        if hi <= lo:
            return out
        x = self._filt.view(lo, hi)[:, 0]
        st = np.full(x.shape[0], -1, dtype=np.int8)
        st[x > s.on_g] = 1
        st[x < s.off_g] = 0
        known = np.where(st >= 0, np.arange(x.shape[0]), -1)
        np.maximum.accumulate(known, out=known)
        state = np.where(known >= 0, st[np.maximum(known, 0)], self._state).astype(np.int8)
        d = np.diff(np.concatenate([[self._state], state]))
        edges = np.flatnonzero(d != 0)
        for e in edges.tolist():
            j = lo + e
            self._confirm_rise(j, out)
            if d[e] > 0:
                self._rise = j
                self._rise_ic = None
                self._rise_confirmed = False
            elif self._rise is not None:
                self._close(j, out)
        self._state = int(state[-1])
        self._cursor = hi
        self._confirm_rise(hi, out)
        self._timeout(out)
        if self.health.warming_up and self._cursor - self._seg_start > self._delay:
            self.health.warming_up = False
        return out

    def _confirm_rise(self, upto: int, out: list[Contact]) -> None:
        """The current stance has lasted min_contact: its IC is final; close the previous step."""
        if self._rise is None or self._rise_confirmed or upto - self._rise < self._min_contact_n:
            return
        self._rise_confirmed = True
        ic = self._edge_time(self._rise, rising=True)
        self._rise_ic = ic
        if self._open:
            out.extend(self._flush_open(ic))

    def _close(self, j: int, out: list[Contact]) -> None:
        s = self.settings
        rise, ic, confirmed = self._rise, self._rise_ic, self._rise_confirmed
        self._rise = None
        self._rise_ic = None
        if rise is None or ic is None or not confirmed:
            self.health.rejected += 1
            return
        tc = self._edge_time(j, rising=False)
        peak = float(self._filt.view(rise, j)[:, 0].max()) if j > rise else 0.0
        dur = tc - ic
        if not (s.min_contact_s <= dur <= s.max_contact_s) or peak < s.min_peak_g:
            self.health.rejected += 1
            return
        if self._last_ic is not None and ic - self._last_ic < s.min_step_s:
            self.health.rejected += 1
            return
        if self._last_ic is not None and ic - self._last_ic > s.max_step_s:
            self._parity = 1.0
        self._last_ic = ic
        self._open.append((ic, tc, self._index_at(ic), self._index_at(tc)))

    def _timeout(self, out: list[Contact]) -> None:
        """No next step in time: release the open contact without one (deterministic deadline)."""
        if not self._open or self._cursor <= self._seg_start:
            return
        s = self.settings
        t_now = float(self._raw.view(self._cursor - 1, self._cursor)[0, 0])
        # Late enough that any next IC within max_step_s has been confirmed already, so the
        # result does not depend on where blocks end.
        deadline = self._open[-1][0] + s.max_step_s + s.min_contact_s + 0.25 + 2.0 / self.fs
        if t_now > deadline:
            out.extend(self._flush_open(None))

    def _flush_open(self, next_ic: float | None) -> list[Contact]:
        out = []
        for ic, tc, ic_idx, tc_idx in self._open:
            nxt = next_ic if next_ic is not None and next_ic - ic <= self.settings.max_step_s else None
            out.append(self._contact(ic, tc, ic_idx, tc_idx, nxt))
        self._open = []
        return out

    # -- per-contact features ------------------------------------------------------------------
    def _contact(self, ic: float, tc: float, ic_idx: int, tc_idx: int, next_ic: float | None) -> Contact:
        s = self.settings
        raw = self._raw.view(ic_idx, tc_idx + 1)
        side, conf, vo = Side.UNKNOWN, 0.0, None
        if raw.shape[0] >= 3:
            stance_ml = float(raw[:, 2].mean())
            ref_ml = 0.0
            if next_ic is not None:
                nxt_idx = self._index_at(next_ic)
                step = self._raw.view(ic_idx, nxt_idx)
                if step.shape[0] >= 4:
                    ref_ml = float(step[:, 2].mean())
                    vo = _vertical_oscillation_cm(step[:, 0], step[:, 3])
            m = stance_ml - ref_ml
            self._vote = s.side_vote * self._vote + (1 - s.side_vote) * m * self._parity
            expected = self._vote * self._parity
            side = Side.LEFT if expected < 0 else Side.RIGHT
            conf = min(abs(self._vote) / 0.05, 1.0)
            self._parity = -self._parity
        half = max(ic_idx + 3, (ic_idx + tc_idx) // 2 + 1)
        win = self._raw.view(ic_idx, half)
        imp = impact_of(win[:, 0], win[:, 1:4], win[:, 3], s.acc_range_g) if win.shape[0] >= 3 else None
        if imp is not None and imp.saturated:
            self.health.saturated += 1
        return Contact(
            ic_s=ic, tc_s=tc, side=side, next_ic_s=next_ic,
            impact_g=None if imp is None else imp.peak_g,
            loading_rate_gps=None if imp is None else imp.loading_rate_gps,
            saturated=bool(imp is not None and imp.saturated),
            vertical_oscillation_cm=vo, side_confidence=conf)

    # -- helpers --------------------------------------------------------------------------------
    def _edge_time(self, j: int, rising: bool) -> float:
        """Event time of the edge whose state change was seen at filtered index ``j``."""
        s = self.settings
        # Fixed windows (never "whatever has arrived"), so block boundaries cannot matter.
        lo = max(self._filt.start, self._raw.start, self._seg_start, j - int(0.15 * self.fs))
        hi = j + self._min_contact_n if rising else j + 1
        x = self._filt.view(lo, hi)[:, 0]
        t = self._raw.view(lo, hi)[:, 0]
        k = j - lo
        if rising:
            p1 = _last_cross_before(x, k, s.contact_g, up=True)
            p2 = _first_cross_after(x, k - 1, s.edge_upper_g, up=True)
        else:
            p1 = _first_cross_after(x, k - 1, s.contact_g, up=False)
            p2 = _last_cross_before(x, k, s.edge_upper_g, up=False)
        if p1 is None:
            p1 = float(k)
        pos = p1
        if p2 is not None and p2 != p1 and s.edge_upper_g != s.contact_g:
            slope = (s.edge_upper_g - s.contact_g) / (p2 - p1)  # g per sample, signed
            pos = p1 - (s.contact_g - s.flight_g) / slope
            pos = min(max(pos, p1 - 0.08 * self.fs), p1 + 0.08 * self.fs)
        offset = s.ic_offset_s if rising else s.tc_offset_s
        return _time_at(t, pos) + offset

    def _index_at(self, t_s: float) -> int:
        lo, hi = max(self._raw.start, self._seg_start), self._raw.end
        t = self._raw.view(lo, hi)[:, 0]
        return lo + int(np.clip(np.searchsorted(t, t_s), 0, max(t.shape[0] - 1, 0)))


def _time_at(t: F64, pos: float) -> float:
    n = t.shape[0]
    i = int(np.clip(np.floor(pos), 0, n - 2)) if n >= 2 else 0
    if n < 2:
        return float(t[0])
    return float(t[i] + (pos - i) * (t[i + 1] - t[i]))


def _last_cross_before(x: F64, k: int, level: float, up: bool) -> float | None:
    """Fractional position of the last crossing of ``level`` at or before sample ``k``."""
    seg = x[: k + 1]
    c = (seg[:-1] < level) & (seg[1:] >= level) if up else (seg[:-1] > level) & (seg[1:] <= level)
    idx = np.flatnonzero(c)
    if idx.shape[0] == 0:
        return None
    i = int(idx[-1])
    a, b = float(x[i]), float(x[i + 1])
    return i + (level - a) / (b - a) if b != a else float(i)


def _first_cross_after(x: F64, k: int, level: float, up: bool) -> float | None:
    k = max(k, 0)
    seg = x[k:]
    c = (seg[:-1] < level) & (seg[1:] >= level) if up else (seg[:-1] > level) & (seg[1:] <= level)
    idx = np.flatnonzero(c)
    if idx.shape[0] == 0:
        return None
    i = k + int(idx[0])
    a, b = float(x[i]), float(x[i + 1])
    return i + (level - a) / (b - a) if b != a else float(i)


def _vertical_oscillation_cm(t: F64, az_g: F64) -> float | None:
    """Peak-to-peak height change over one step by double integration, drift-free per step."""
    dt = np.diff(t)
    if dt.shape[0] < 3 or float(dt.min()) <= 0:
        return None
    a = (az_g - az_g.mean()) * G_MPS2
    v = np.concatenate([[0.0], np.cumsum(0.5 * (a[1:] + a[:-1]) * dt)])
    v -= v.mean()
    p = np.concatenate([[0.0], np.cumsum(0.5 * (v[1:] + v[:-1]) * dt)])
    p -= np.linspace(p[0], p[-1], p.shape[0])
    return float((p.max() - p.min()) * 100.0)
