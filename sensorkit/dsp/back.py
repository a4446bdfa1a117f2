"""Step events from a lower-back (sacrum) pod: IC, TC, side, impact, vertical oscillation.

Physics: the vertical specific force at the sacrum is close to the body's vertical ground
reaction force divided by body weight: about 0 g in flight, 2-3 g in mid-stance. A linear-phase
FIR low-pass of the body-frame vertical acceleration is segmented with hysteresis
(``on_g``/``off_g``). The flight level is not 0 g on a real pelvis (its rotation adds -0.3 to
-0.5 g before touchdown on the Fukuchi data), so IC and TC are taken where each edge is a small
fraction of the way from its own flight minimum to the stance peak; the FIR's exact delay is
removed by index alignment.

Timing (default): the edges locate a stance, but its IC and TC come from the shape of the whole
vertical force pulse (``contact_from_moments``). The edges of the pelvis's pulse are where
pelvis rotation and the runner's leg compliance distort it (the pelvis starts to rise from
40 ms before to 20 ms after touchdown depending on the runner: per-trial IC bias -15..+25 ms
on the Fukuchi trials), while the pulse's centroid and width are set by the ground force
itself. The pulse is the filtered vertical acceleration between the flight minima around a
stance, limited to 0..``pulse_cap_g`` (the time the leg carries load, insensitive to the peak's
height and to a clipping sensor). Its centroid lies at ``pulse_centroid_fraction`` of the
contact (Fukuchi 0.45-0.48 per trial; a half-sine would give 0.5: the pelvis's force peaks
early, at ~1/3) and its standard deviation ``sd`` grows with the contact time ``T`` as
``sd^2 = (a T)^2 + s0^2``: a width proportional to the contact plus a fixed smear ``s0`` of
~36 ms (pelvis and soft-tissue dynamics, the filter); sd/T is 0.20 at 0.31 s and 0.235 at
0.22 s on one runner, with the same trend on the simulator. So ``T = sqrt(sd^2 - s0^2) / a``
and IC = centroid - fraction x T. Constants: least squares over eight reference runs, equal
weight each (the five Fukuchi trials and the three simulator runners of ``bench.accuracy``).
Leaving each Fukuchi trial out of the fit in turn: median |IC error| 4.3 ms, bias +4.7 ms,
contact time RMSE 11.7 ms, against 10.0 ms, +2.5 ms and 29.8 ms from the edges. (Fukuchi
alone would give a fraction of 0.464; the simulator's pulse centroid sits at 0.42-0.45.)

Side: the pelvis's roll rate averaged over a stance, relative to its whole step, is negative
in every left stance and positive in every right one on all five Fukuchi trials (three
runners, 2.5-4.5 m/s; the simulator's pelvis model is fitted to them). Without a gyro the
medio-lateral acceleration is used: gravity projected through pelvic obliquity makes its
stance mean positive (to the left) in a left stance (weaker: relative to the step mean it is
right on only 22-97 % of steps, the plain stance mean does better).
The sign is voted over the alternating step sequence, so single noisy steps do not flip it.

Look-ahead (data time after the event): an IC is final when its force pulse has ended - back at
0 g after the falling edge (at the latest ``flight_search_s`` after it, or at the next rising
edge), plus the FIR delay: about contact time + 0.05 s (with edge timing
``min_contact_s`` after its rising edge, about 0.1 s); a complete :class:`Contact` (with its
vertical oscillation, which needs the next IC) is released one step later, when the next IC
is final, or after a deadline when no next step comes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sensorkit.dsp.back_features import stance_features
from sensorkit.dsp.back_timing import pulse_contact, walk_back_cross, walk_fwd_cross
from sensorkit.dsp.base import F64, History, StageHealth
from sensorkit.dsp.contacts import Contact
from sensorkit.dsp.filters import FirLowpass
from sensorkit.model import Side

G_MPS2 = 9.80665
# Enum members as module constants: ``Side.LEFT`` is a class attribute lookup through the enum
# machinery (~1,000 instructions), paid per contact otherwise.
_LEFT, _RIGHT, _UNKNOWN = Side.LEFT, Side.RIGHT, Side.UNKNOWN


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
    contact_from_moments: bool = True
    """IC and TC from the centroid and width of the stance's force pulse (see the module
    docstring); False: from the edges (``ic_fraction``, ``tc_fraction``)."""
    pulse_cap_g: float = 1.5
    """The pulse is the filtered vertical acceleration between 0 and this (g): the time the
    leg carries load, hardly changed by the height of the peak, heavy landings or a sensor
    range as small as 2 g."""
    pulse_sd_per_contact: float = 0.166
    """``a`` in ``sd^2 = (a T)^2 + s0^2``: the pulse's standard deviation per second of
    contact time ``T`` (dimensionless)."""
    pulse_sd_floor_s: float = 0.036
    """``s0`` (s): the fixed smear in the pulse's width, whatever the contact time."""
    pulse_centroid_fraction: float = 0.452
    """Where the pulse's centroid lies within the contact, from IC (dimensionless; Fukuchi
    0.44-0.47 per trial, simulator 0.43-0.44)."""
    ic_fraction: float = 0.10
    """Edge timing (and the fallback of moment timing): IC is where the rising edge has climbed
    this fraction (dimensionless) of the way from the flight minimum before it to the stance
    peak (the median of the last three)."""
    tc_fraction: float = 0.12
    """TC is where the falling edge is this fraction (dimensionless) of the way from the
    flight minimum after it up to this stance's peak."""
    flight_search_s: float = 0.15
    """How far (s) before a rising edge / after a falling edge the flight minimum is searched."""
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
    """A stance must reach this filtered vertical acceleration (g) ..."""
    min_peak_fraction: float = 0.0
    """... and this fraction (dimensionless) of the median of the last three accepted peaks:
    a threshold that scales with the runner's own signal (0 = off)."""
    side_vote: float = 0.7
    """Weight of the past in the alternating left/right vote (dimensionless, 0..1; 0 = every
    step on its own)."""
    side_gyr_scale_dps: float = 5.0
    """Roll-rate difference (deg/s) that counts as a sure side on one step (confidence 1)."""
    side_acc_scale_g: float = 0.05
    """Without a gyro: medio-lateral acceleration difference (g) that counts as sure."""
    acc_range_g: float | None = None
    """Sensor full scale (g), for the saturation flag; None = detect flat tops."""


class BackStepDetector:
    """Streams body-frame lower-back samples in, :class:`Contact` records out.

    Hot path: the FIR and the hysteresis are vectorised over the block; the per-step work
    (a few edges per block) uses Python scalars on short windows, which is cheaper than many
    small numpy calls.
    """

    def __init__(self, settings: BackStepSettings, sampling_rate_hz: float) -> None:
        self.settings = settings
        self.fs = sampling_rate_hz
        self._keep = int((2 * settings.max_step_s + settings.max_contact_s + 1.0) * sampling_rate_hz)
        self._min_contact_n = max(round(settings.min_contact_s * sampling_rate_hz), 1)
        self._max_contact_n = round(settings.max_contact_s * sampling_rate_hz) + 1
        self._flight_n = max(round(settings.flight_search_s * sampling_rate_hz), 2)
        self._width = int((settings.max_step_s + 0.1) * sampling_rate_hz) + 4  # samples per step row
        k = np.arange(2 * self._flight_n + 2 * self._max_contact_n + 8, dtype=np.float64)
        self._powers = np.stack([np.ones_like(k), k, k * k])  # moments of a pulse in one product
        # Pulse timing constants in samples (the same expressions as per pulse, computed once).
        self._sd_floor2 = (settings.pulse_sd_floor_s * sampling_rate_hz) ** 2
        self._contact_n = (settings.min_contact_s * sampling_rate_hz, settings.max_contact_s * sampling_rate_hz)
        self._cols = np.arange(self._width)[None, :]  # column numbers of a step row
        # How far before the newest filtered sample an IC may still appear (watermark_s, every block).
        self._wm_back = settings.flight_search_s + 2.0 / sampling_rate_hz - min(settings.ic_offset_s, 0.0)
        self.reset()

    def reset(self) -> None:
        s = self.settings
        self.health = StageHealth()
        self._fir = FirLowpass(s.lowpass_hz, self.fs, s.fir_duration_s)
        self._delay = self._fir.delay_samples
        self._raw = History(5, self._keep)  # t, ax, ay, az, gx (roll rate; NaN without a gyro)
        self._filt = History(1, self._keep)  # azf, aligned to raw indices
        self._state = 1  # as if in a stance: a rise only counts after a flight was seen
        self._cursor = 0  # next filtered index to segment
        self._rise: int | None = None  # index of the current stance's rising edge
        self._rise_pos = 0.0  # its IC position (fractional sample index)
        self._rise_confirmed = False
        self._open: list[tuple[float, int, float, float | None]] = []  # (ic_pos, fall, peak, tc_pos)
        self._open_ic_s: list[float] = []  # their IC times (offset included), read every block
        self._lobe: tuple[int, int, float] | None = None  # rise, fall, peak: a pulse not timed yet
        self._lobe_scan = 0  # filtered index up to which the pulse's end was searched
        self._peaks: list[float] = []  # last stance peaks (g), the scale of the edges
        self._final: list[tuple[float, float, float | None]] = []  # ready, features pending
        self._vote = 0.0
        self._parity = 1.0
        self._last_ic: float | None = None
        self._seg_start = 0
        self._skip = self._delay  # filtered outputs still belonging to before the segment
        self.health.warming_up = True

    def gap(self) -> list[Contact]:
        """Samples are missing: close what is complete, forget partial stances, restart filters."""
        if self._lobe is not None and self._filt.end > self._lobe[1] + 1:
            self._time_lobe(self._filt.end)  # the pulse has what it will ever get
        self._lobe = None
        self._flush_open(None)
        out = self._release()
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
        self._rise_confirmed = False
        self._lobe = None
        self._last_ic = None
        self._parity = 1.0
        return out

    def watermark_s(self) -> float | None:
        """No contact released later will have an IC before this time (None: nothing seen)."""
        if self._cursor <= max(self._seg_start, self._raw.start):
            return None
        back = self._wm_back
        value = self._raw.value
        t = value(self._cursor - 1) - back
        if self._rise is not None:
            t = min(t, value(self._rise) - back)
        if self._lobe is not None:
            t = min(t, value(self._lobe[0]) - back)
        if self._open_ic_s:
            t = min(t, self._open_ic_s[0])
        return t

    def open_ics_s(self) -> list[float]:
        """ICs already final whose contact is held until the next IC (for fusion)."""
        out = self._open_ic_s.copy()
        if self._rise is not None and self._rise_confirmed and not self.settings.contact_from_moments:
            out.append(self._time_at(self._rise_pos) + self.settings.ic_offset_s)
        return out

    def update(self, time_s: F64, acc_bf_g: F64, gyr_bf_dps: F64 | None = None) -> list[Contact]:
        n = time_s.shape[0]
        if n == 0:
            return []
        gx = gyr_bf_dps[:, 0] if gyr_bf_dps is not None else np.full(n, np.nan)
        self._raw.append_parts(time_s, acc_bf_g, gx)
        azf = self._fir(acc_bf_g[:, 2])
        if self._skip:
            drop = min(self._skip, n)
            azf = azf[drop:]
            self._skip -= drop
        self._filt.append(azf[:, None])
        self._segment()
        return self._release()

    # -- segmentation ---------------------------------------------------------------------------
    def _segment(self) -> list[Contact]:
        s = self.settings
        out: list[Contact] = []
        lo, hi = self._cursor, self._filt.end
        if hi <= lo:
            return out
        x = self._filt.column(lo, hi)
        # Most blocks never cross the threshold that would leave the current state: then the
        # state holds throughout and there is no edge (same result as the full pass below).
        # One reduction (the block's extreme) decides it, not a comparison per sample plus one.
        stays = np.maximum.reduce(x) <= s.on_g if self._state == 0 else np.minimum.reduce(x) >= s.off_g
        if not stays:
            # The state is the side of the hysteresis of the latest sample beyond either
            # threshold ("below" wins if both); it changes at such samples whose side differs
            # from the one before.
            above, below = x > s.on_g, x < s.off_g
            beyond = np.flatnonzero(above | below)
            side = ~below[beyond]
            prev = np.empty_like(side)
            prev[0] = self._state == 1
            prev[1:] = side[:-1]
            change = side != prev
            for e, up in zip(beyond[change].tolist(), side[change].tolist(), strict=True):
                j = lo + e
                self._confirm_rise(j, out)
                if up:
                    if self._lobe is not None:  # the pulse before this one ends here at the latest
                        self._end_lobe(j, rise=j)
                    self._rise = j
                    self._rise_confirmed = False
                elif self._rise is not None:
                    self._close(j)
            self._state = int(side[-1])
        self._cursor = hi
        self._confirm_rise(hi, out)
        if self._lobe is not None:
            self._end_lobe(hi)
        if self._rise is not None and hi - self._rise > self._max_contact_n + self._flight_n:
            # Standing or walking: this "stance" can only be rejected when it ends; forget it now.
            self._rise = None
            self.health.rejected += 1
        self._timeout(out)
        if self.health.warming_up and self._cursor - self._seg_start > self._delay:
            self.health.warming_up = False
        return out

    def _confirm_rise(self, upto: int, out: list[Contact]) -> None:
        """The current stance has lasted min_contact: its IC is final; close the previous step."""
        if self._rise is None or self._rise_confirmed or upto - self._rise < self._min_contact_n:
            return
        self._rise_confirmed = True
        if self.settings.contact_from_moments:
            return  # the IC comes from the whole pulse (the edge only if that fails)
        self._rise_pos = self._ic_pos(self._rise)
        if self._open:
            out.extend(self._flush_open(self._rise_pos, self._rise))

    def _close(self, j: int) -> None:
        s = self.settings
        rise, confirmed = self._rise, self._rise_confirmed
        self._rise = None
        if rise is None or not confirmed:
            self.health.rejected += 1
            return
        ic_pos = float(rise) if s.contact_from_moments else self._rise_pos  # edge IC: only if needed
        ic = self._time_at(ic_pos) + s.ic_offset_s
        tc = self._time_at(float(j)) + s.tc_offset_s  # refined at release, with look-ahead
        peak = float(np.maximum.reduce(self._filt.column(rise, j))) if j > rise else 0.0
        if not (s.min_contact_s <= tc - ic <= s.max_contact_s) or peak < s.min_peak_g:
            self.health.rejected += 1
            return
        if s.min_peak_fraction > 0.0 and self._peaks \
                and peak < s.min_peak_fraction * sorted(self._peaks)[len(self._peaks) // 2]:
            self.health.rejected += 1
            return
        if s.contact_from_moments:
            self._lobe = (rise, j, peak)  # timed when the pulse has ended
            self._lobe_scan = j
            return
        self._accept(ic_pos, j, peak, None, None)

    def _accept(self, ic_pos: float, j: int, peak: float, tc_pos: float | None, rise: int | None) -> None:
        """A stance with its final IC: it ends the step before it (plausibility limits)."""
        s = self.settings
        ic = self._time_at(ic_pos) + s.ic_offset_s
        if self._last_ic is not None and ic - self._last_ic < s.min_step_s:
            self.health.rejected += 1
            return
        if self._last_ic is not None and ic - self._last_ic > s.max_step_s:
            self._parity = 1.0
        self._last_ic = ic
        self._peaks = [*self._peaks[-2:], peak]
        if rise is not None and self._open:
            self._flush_open(ic_pos, rise)
        self._open.append((ic_pos, j, peak, tc_pos))
        # Its IC time is read on every block until release (watermark, open ICs, timeout): kept,
        # the very value computed here (its rows are held until then).
        self._open_ic_s.append(ic)

    def _end_lobe(self, hi: int, rise: int | None = None) -> None:
        """Time the pending pulse once it is over: back to 0 g after the falling edge.

        Beyond that sample it adds nothing. At the latest ``flight_search_s`` after the edge,
        or at the next rising edge ``rise``, whichever comes first: the end is a property of
        the samples, whatever the blocks.
        """
        assert self._lobe is not None
        deadline = self._lobe[1] + self._flight_n
        stop = min(hi if rise is None else rise, deadline)
        a = max(self._lobe_scan, self._lobe[1])
        if stop > a:
            below = self._filt.column(a, stop) <= 0.0
            k = int(below.argmax())
            if below[k]:
                self._time_lobe(a + k + 1)
                return
            self._lobe_scan = stop
        if rise is not None or hi >= deadline:
            self._time_lobe(stop if rise is not None else deadline)

    def _time_lobe(self, end: int) -> None:
        """IC and TC of the pending stance from its force pulse's centroid and width.

        The pulse is the positive part of the filtered vertical acceleration between the flight
        minimum before the rising edge and the one after the falling edge (searched up to
        ``end``, exclusive), capped at ``pulse_cap_g``: fixed windows, so block boundaries
        cannot matter. Implausible widths fall back to the edges.
        """
        assert self._lobe is not None
        s = self.settings
        rise, j, peak = self._lobe
        self._lobe = None
        filt = self._filt
        lo = max(filt.start, self._raw.start, self._seg_start, rise - self._flight_n)
        x = filt.column(lo, end)
        ic_pos, tc_pos = 0.0, None
        if lo <= rise and x.shape[0] > j - lo + 1:
            timed = pulse_contact(x, rise - lo, j - lo, self._powers, s.pulse_cap_g, self._sd_floor2,
                                  s.pulse_sd_per_contact, s.pulse_centroid_fraction, self._contact_n)
            if timed is not None:
                ic_pos = lo + timed[0]
                tc_pos = ic_pos + timed[1]
        if tc_pos is None:  # fall back to the edges
            ic_pos = self._ic_pos(rise) if lo <= rise else float(rise)
        self._accept(ic_pos, j, peak, tc_pos, rise)

    def _timeout(self, out: list[Contact]) -> None:
        """No next step in time: release the open contact without one (deterministic deadline)."""
        if not self._open or self._cursor <= self._seg_start:
            return
        s = self.settings
        # Late enough that any next IC within max_step_s has been confirmed already, so the
        # result does not depend on where blocks end.
        deadline = self._open_ic_s[-1] + s.max_step_s + s.min_contact_s \
            + 0.25 + 2.0 / self.fs
        if s.contact_from_moments:  # the next IC is final only when its pulse has ended
            deadline += s.max_contact_s + s.flight_search_s
        if self._time(self._cursor - 1) > deadline:
            out.extend(self._flush_open(None))

    def _flush_open(self, next_pos: float | None, next_rise: int | None = None) -> list[Contact]:
        """Queue the open contacts for release; features are computed once per update."""
        self._final.extend((ic_pos, self._tc_pos(j, peak, next_rise) if tc is None else tc, next_pos)
                           for ic_pos, j, peak, tc in self._open)
        self._open = []
        self._open_ic_s = []
        return []

    def _release(self) -> list[Contact]:
        items, self._final = self._final, []
        return self._contacts(items)

    # -- per-contact features ------------------------------------------------------------------
    def _contacts(self, items: list[tuple[float, float, float | None]]) -> list[Contact]:
        """Contacts with their features (computed in one batch by ``back_features``) and the side vote."""
        if not items:
            return []
        s = self.settings
        k = len(items)
        nxt_pos = [n for _, _, n in items if n is not None]
        times = self._times_at([i for i, _, _ in items] + [c for _, c, _ in items] + nxt_pos)
        ic_s = [x + s.ic_offset_s for x in times[:k]]
        tc_s = [x + s.tc_offset_s for x in times[k:2 * k]]
        later = iter(times[2 * k:])
        nxt_s: list[float | None] = []
        for (_, _, n), ic in zip(items, ic_s, strict=True):
            t_next = None if n is None else next(later) + s.ic_offset_s
            nxt_s.append(t_next if t_next is not None and t_next - ic <= s.max_step_s else None)
        start = self._raw.start
        i0 = [max(int(i) + 1, start) for i, _, _ in items]
        i_tc = [max(int(c) + 1, a + 1) for (_, c, _), a in zip(items, i0, strict=True)]
        i1 = [int(n) + 1 if n is not None and t is not None else e
              for (_, _, n), t, e in zip(items, nxt_s, i_tc, strict=True)]
        f = stance_features(self._raw, i0, i_tc, i1, self._cols, self.fs, s.side_acc_scale_g,
                            s.side_gyr_scale_dps, s.acc_range_g)
        out = []
        vote, parity, keep = self._vote, self._parity, s.side_vote
        for n_st, c, c_st, has_next, pk, rt, v, st, ic, tc, nx in zip(
                f.n_stance, f.cue, f.cue_stance, [x is not None for x in nxt_s], f.impact_g,
                f.loading_rate_gps, f.vertical_oscillation_cm, f.saturated, ic_s, tc_s, nxt_s, strict=True):
            side, conf = _UNKNOWN, 0.0
            if n_st >= 2:
                vote = keep * vote + (1 - keep) * (c if has_next else c_st) * parity
                side = _LEFT if vote * parity > 0 else _RIGHT
                conf = min(abs(vote), 1.0)
                parity = -parity
            if st:
                self.health.saturated += 1
            # Positional (field order: ic_s, tc_s, side, next_ic_s, impact_g, loading_rate_gps,
            # saturated, strike_angle_deg, vertical_oscillation_cm, side_confidence): keyword
            # arguments cost a fifth more per contact.
            out.append(Contact(ic, tc, side, nx, pk if math.isfinite(pk) else None,
                               rt if math.isfinite(rt) else None, st, None,
                               v if has_next and math.isfinite(v) else None, conf))
        self._vote, self._parity = vote, parity
        return out

    # -- helpers --------------------------------------------------------------------------------
    def _time(self, i: int) -> float:
        return self._raw.value(i)

    def _time_at(self, pos: float) -> float:
        return self._raw.interp(pos, self.fs)

    def _times_at(self, pos: list[float]) -> list[float]:
        """``_time_at`` of many positions (a memoryview read each: cheaper than one numpy gather)."""
        interp, fs = self._raw.interp, self.fs
        return [interp(p, fs) for p in pos]

    def _ic_pos(self, j: int) -> float:
        """IC on the rising edge seen at filtered index ``j``, evaluated ``min_contact_s`` later.

        Fixed windows (never "whatever has arrived"), so block boundaries cannot matter.
        """
        s = self.settings
        lo = max(self._filt.start, self._raw.start, self._seg_start, j - self._flight_n)
        hi = j + self._min_contact_n
        x = self._filt.view(lo, hi)[:, 0].tolist()
        k = j - lo
        kb = min(range(k + 1), key=x.__getitem__)  # flight minimum before the edge
        peak = sorted(self._peaks)[len(self._peaks) // 2] if self._peaks else max(x[k:])
        level = x[kb] + s.ic_fraction * (peak - x[kb])
        p = walk_fwd_cross(x, kb, level, up=True)
        return lo + (p if p is not None else float(k))

    def _tc_pos(self, j: int, peak: float, next_rise: int | None) -> float:
        """TC on the falling edge seen at filtered index ``j``.

        The flight minimum after it is searched up to ``flight_search_s`` or the next rising
        edge, whichever comes first: a fixed window whatever the block boundaries.
        """
        s = self.settings
        lo = max(self._filt.start, self._raw.start, self._seg_start, j - self._flight_n)
        hi = j + self._flight_n if next_rise is None else min(j + self._flight_n, next_rise + 1)
        hi = min(hi, self._filt.end)
        x = self._filt.view(lo, hi)[:, 0].tolist()
        k = j - lo
        if k >= len(x):
            return float(j)
        kb = min(range(k, len(x)), key=x.__getitem__)  # flight minimum after the edge
        level = x[kb] + s.tc_fraction * (peak - x[kb])
        p = walk_back_cross(x, kb, level, up=False)
        return lo + (p if p is not None else float(k))


def _num(x: float) -> float | None:
    v = float(x)
    return v if math.isfinite(v) else None
