"""Drift detection: an EWMA of each metric's drift and a threshold with hysteresis.

The EWMA runs on data time (irregular sampling allowed), so replaying a recording at any
speed gives the same states. Hysteresis keeps a fault from flickering on and off around its
threshold: it switches on at ``threshold`` and off only below ``release_fraction * threshold``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class Ewma:
    """Exponentially weighted moving average with time constant ``tau_s`` (data time)."""

    def __init__(self, tau_s: float) -> None:
        self.tau_s = tau_s
        self.value: float | None = None
        self._last_s = math.nan

    def update(self, time_s: float, x: float) -> float:
        if self.value is None:
            self.value = x
        else:
            a = 1.0 - math.exp(-max(time_s - self._last_s, 0.0) / self.tau_s)
            self.value += a * (x - self.value)
        self._last_s = time_s
        return self.value

    def reset(self) -> None:
        self.value = None
        self._last_s = math.nan


@dataclass(slots=True)
class Hysteresis:
    """On at ``threshold``, off below ``threshold * release_fraction``."""

    threshold: float
    release_fraction: float
    active: bool = False

    def update(self, level: float) -> bool:
        if self.active:
            self.active = level >= self.threshold * self.release_fraction
        else:
            self.active = level >= self.threshold
        return self.active

    def reset(self) -> None:
        self.active = False
