"""Steps and cadence from a phone (pocket, armband, waist, hand): orientation-free.

A phone moves inside its pocket or strap, so no body frame is assumed: the resultant
acceleration is segmented exactly like the lower-back vertical signal (one hump per step),
with a lower cut-off and softer levels. Only step times are reported (side unknown, no
contact or flight time: a phone does not see them reliably).

Look-ahead: as the lower-back detector with these settings, about 0.3 s after a step.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from sensorkit.dsp.back import BackStepDetector, BackStepSettings
from sensorkit.dsp.base import F64, StageHealth
from sensorkit.dsp.contacts import Contact
from sensorkit.model import Side

PHONE_STEP_DEFAULTS = BackStepSettings(
    lowpass_hz=5.0, fir_duration_s=0.2, on_g=1.25, off_g=0.85, ic_fraction=0.3, tc_fraction=0.3,
    min_contact_s=0.06, max_contact_s=0.5, min_step_s=0.21, max_step_s=0.75,
    min_peak_g=1.3, side_vote=0.0)
"""Phone defaults: a 5 Hz FIR on |acc|, one hump per step, no edge extrapolation."""


class PhoneStepDetector:
    """Steps from the acceleration magnitude of a phone; wraps the lower-back segmentation."""

    def __init__(self, settings: BackStepSettings, sampling_rate_hz: float) -> None:
        self.settings = settings
        self._inner = BackStepDetector(settings, sampling_rate_hz)

    @property
    def health(self) -> StageHealth:
        return self._inner.health

    def reset(self) -> None:
        self._inner.reset()

    def gap(self) -> list[Contact]:
        return [self._strip(c) for c in self._inner.gap()]

    def watermark_s(self) -> float | None:
        return self._inner.watermark_s()

    def update(self, time_s: F64, acc_g: F64) -> list[Contact]:
        norm = np.sqrt(np.einsum("ij,ij->i", acc_g, acc_g))
        pseudo = np.zeros_like(acc_g)
        pseudo[:, 2] = norm
        return [self._strip(c) for c in self._inner.update(time_s, pseudo)]

    @staticmethod
    def _strip(c: Contact) -> Contact:
        return dataclasses.replace(c, tc_s=None, side=Side.UNKNOWN, impact_g=None, loading_rate_gps=None,
                                   saturated=False, vertical_oscillation_cm=None, side_confidence=0.0)
