"""Steps and cadence from a phone (pocket, armband, waist, hand): orientation-free.

A phone moves inside its pocket or strap and its |acc| pattern differs from step to step (a
waist phone off the midline sees its own side's steps twice as hard), so no touchdown shape is
assumed: |acc| is band-passed around step frequencies (``band_hz``, causal Butterworth) and
every upward zero crossing that follows a swing below ``-level_g`` and is confirmed by one
above ``+level_g`` is a step. The step time is a phase marker, not the touchdown itself: it is
offset from it by a constant for a given phone and wear, so intervals (cadence) are exact
while side, contact and flight are not reported.

Look-ahead: the band-pass delay plus the rise to ``+level_g``, about 0.1-0.15 s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensorkit.dsp.base import F64, StageHealth
from sensorkit.dsp.contacts import Contact
from sensorkit.dsp.filters import SosFilter
from sensorkit.model import Side


@dataclass(frozen=True, slots=True)
class PhoneStepSettings:
    """Band and levels of the phone step detector."""

    band_low_hz: float = 1.6
    """Lower edge (Hz) of the band-pass on |acc| (96 steps/min) ..."""
    band_high_hz: float = 4.5
    """... and its upper edge (Hz) (270 steps/min)."""
    level_g: float = 0.08
    """The band-passed |acc| must swing below -this and above +this (g) around each step."""
    min_step_s: float = 0.21
    """Shorter steps (s) are rejected (4.75 steps/s)."""
    max_step_s: float = 0.75
    """A longer interval (s) starts a new run of steps (no step time for its first step)."""


class PhoneStepDetector:
    """|acc| blocks in, one :class:`Contact` (IC only, side unknown) per step out."""

    def __init__(self, settings: PhoneStepSettings, sampling_rate_hz: float) -> None:
        self.settings = settings
        self.fs = sampling_rate_hz
        self.reset()

    def reset(self) -> None:
        s = self.settings
        self.health = StageHealth()
        hi = min(s.band_high_hz, 0.45 * self.fs)
        self._bp = SosFilter(2, (s.band_low_hz, hi), self.fs, btype="bandpass")
        self._state = 1  # as if above: a step needs a swing below first
        self._last_x = 0.0
        self._last_t = 0.0
        self._cross_t: float | None = None  # last upward zero crossing after a low swing
        self._last_step: float | None = None
        self._have_last = False
        self._latest_t: float | None = None

    def gap(self) -> list[Contact]:
        self.health.gaps += 1
        self._bp.reset()
        self._state = 1
        self._cross_t = None
        self._last_step = None
        self._have_last = False
        return []

    def watermark_s(self) -> float | None:
        """Future steps are stamped at zero crossings not yet confirmed, or later."""
        if self._latest_t is None:
            return None
        return self._cross_t if self._cross_t is not None else self._last_t

    def update(self, time_s: F64, acc_g: F64) -> list[Contact]:
        n = time_s.shape[0]
        if n == 0:
            return []
        s = self.settings
        norm = np.sqrt(np.einsum("ij,ij->i", acc_g, acc_g))
        x = self._bp(norm)
        self.health.warming_up = False
        # Upward zero crossings and the level crossings, vectorised; the state machine below
        # only walks those few events.
        prev_x = np.concatenate([[self._last_x if self._have_last else x[0]], x[:-1]])
        prev_t = np.concatenate([[self._last_t if self._have_last else time_s[0]], time_s[:-1]])
        up0 = np.flatnonzero((prev_x < 0.0) & (x >= 0.0))
        lo = np.flatnonzero((x < -s.level_g) & (prev_x >= -s.level_g))
        hi = np.flatnonzero((x > s.level_g) & (prev_x <= s.level_g))
        events = sorted([(int(i), 0) for i in up0] + [(int(i), 1) for i in lo] + [(int(i), 2) for i in hi])
        out: list[Contact] = []
        for i, kind in events:
            if kind == 1:  # swung low: the next upward crossing may be a step
                self._state = 0
                self._cross_t = None
            elif kind == 0 and self._state == 0:
                a, b = float(prev_x[i]), float(x[i])
                f = -a / (b - a) if b != a else 0.0
                self._cross_t = float(prev_t[i] + f * (time_s[i] - prev_t[i]))
            elif kind == 2 and self._state == 0 and self._cross_t is not None:
                self._state = 1
                t = self._cross_t
                self._cross_t = None
                if self._last_step is not None and t - self._last_step < s.min_step_s:
                    self.health.rejected += 1
                    continue
                self._last_step = t
                out.append(Contact(ic_s=t, tc_s=None, side=Side.UNKNOWN))
        self._last_x = float(x[-1])
        self._last_t = float(time_s[-1])
        self._latest_t = self._last_t
        self._have_last = True
        return out
