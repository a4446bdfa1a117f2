"""Strides from a shoe pod without a gyro (accelerometer only): timing for cadence.

Without pitch rate there is no rotation to time touchdown on. What an ankle or shoe
accelerometer does show on every stride is the late-swing/landing hump of |acc| (5-10 g on the
adeptdata shoe sensor) followed by the quiet stance; touchdown is taken at the end of that
hump (its falling edge through ``tc_fraction`` of the way down). Good for stride cadence;
contact time, strike angle and impact are not reported. A hump counts from 4.5 g (after the
10 Hz filter) if it also reaches 60 % of the runner's recent humps: on the adeptdata ankle the
humps are 6.3-10 g in steady running but 5.3-5.7 g in a slow, soft stretch (870 s), while the
other maxima of a stride stay at 2-4 g.

Look-ahead: as the lower-back segmentation with these settings, ~0.2 s after touchdown.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from sensorkit.dsp.back import BackStepDetector, BackStepSettings
from sensorkit.dsp.base import F64, StageHealth
from sensorkit.dsp.contacts import Contact
from sensorkit.model import Side

FOOT_ACC_DEFAULTS = BackStepSettings(
    lowpass_hz=10.0, fir_duration_s=0.1, on_g=4.5, off_g=3.0, ic_fraction=0.3, tc_fraction=0.3,
    contact_from_moments=False, min_contact_s=0.03, max_contact_s=0.4, min_step_s=0.42, max_step_s=1.6,
    min_peak_g=4.5, min_peak_fraction=0.6, side_vote=0.0)
"""Shoe accelerometer defaults: one |acc| hump per stride, touchdown at its falling edge."""


class FootAccStepDetector:
    """Touchdowns of one foot from |acc| alone; wraps the lower-back segmentation."""

    def __init__(self, settings: BackStepSettings, sampling_rate_hz: float, side: Side) -> None:
        self.settings = settings
        self.side = side
        self._inner = BackStepDetector(settings, sampling_rate_hz)

    @property
    def health(self) -> StageHealth:
        return self._inner.health

    def reset(self) -> None:
        self._inner.reset()

    def gap(self) -> list[Contact]:
        return [self._touchdown(c) for c in self._inner.gap()]

    def watermark_s(self) -> float | None:
        return self._inner.watermark_s()  # touchdowns come after the hump's rise

    def update(self, time_s: F64, acc_g: F64) -> list[Contact]:
        norm = np.sqrt(np.einsum("ij,ij->i", acc_g, acc_g))
        pseudo = np.zeros_like(acc_g)
        pseudo[:, 2] = norm
        return [self._touchdown(c) for c in self._inner.update(time_s, pseudo)]

    def _touchdown(self, c: Contact) -> Contact:
        ic = c.tc_s if c.tc_s is not None else c.ic_s
        return dataclasses.replace(c, ic_s=ic, tc_s=None, side=self.side, next_ic_s=None, impact_g=None,
                                   loading_rate_gps=None, saturated=False, vertical_oscillation_cm=None,
                                   side_confidence=1.0)
