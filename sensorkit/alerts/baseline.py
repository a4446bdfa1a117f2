"""The runner's own fresh form: robust per-metric baselines learned in the warm-up.

Each metric gets a robust centre (interquartile mean; called ``median`` for short) and spread
(MAD x 1.4826) over the warm-up window. When
speed is known, the baseline is a line in speed: ``expected(v) = median + slope * (v - v0)``
with ``v0`` the warm-up's median speed. The slope is the runner's own (Theil-Sen fit) when the
warm-up covered enough speeds, else the metric's configured population slope. Drift is then
measured against the value expected at the current speed, so running faster or slower is
not mistaken for fatigue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from sensorkit.alerts.settings import MetricSettings

MAD_TO_SD = 1.4826
TRIM = 0.25
"""Fraction cut from each end for the baseline's centre."""


def center(x: np.ndarray) -> float:
    """Interquartile mean: as robust to dropouts as the median.

    Unlike the median it averages between the levels of a quantised metric (a cadence from
    5-ms step times jumps 169.0 / 171.4 spm) instead of picking one.
    """
    return float(stats.trim_mean(x, TRIM))


def robust_sd(x: np.ndarray) -> float:
    """Standard deviation estimated from the median absolute deviation (outlier-proof)."""
    if x.size == 0:
        return 0.0
    return float(MAD_TO_SD * np.median(np.abs(x - np.median(x))))


@dataclass(frozen=True, slots=True)
class MetricBaseline:
    """Baseline of one metric; ``drift`` is in the metric's unit, positive = worse.

    For ``worse="either"`` the drift keeps its sign (the caller smooths it, then takes the
    magnitude). ``noise`` is the robust spread of the *smoothed* drift over the warm-up.
    """

    name: str
    settings: MetricSettings
    median: float
    spread: float
    speed0_mps: float | None
    slope_per_mps: float
    slope_fitted: bool
    max_speed_delta_mps: float
    samples: int
    noise: float = 0.0
    full_scale: float = field(init=False, repr=False, compare=False)
    """``settings.full_scale``, and below the unit and direction, read once: every observation
    uses them per metric, and an attribute of a pydantic model costs a slot hook."""
    either: bool = field(init=False, repr=False, compare=False)
    """Worse in both directions (``settings.worse == "either"``)."""
    _down: bool = field(init=False, repr=False, compare=False)
    _percent: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        s = self.settings
        object.__setattr__(self, "full_scale", s.full_scale)
        object.__setattr__(self, "either", s.worse == "either")
        object.__setattr__(self, "_down", s.worse == "down")
        object.__setattr__(self, "_percent", s.unit == "percent")

    def expected(self, speed_mps: float | None) -> float:
        if self.speed0_mps is None or speed_mps is None:
            return self.median
        dv = min(max(speed_mps - self.speed0_mps, -self.max_speed_delta_mps), self.max_speed_delta_mps)
        return self.median + self.slope_per_mps * dv

    def value_of(self, drift: float, speed_mps: float | None) -> float:
        """The metric value whose drift is ``drift`` (the inverse of :meth:`drift`)."""
        d = -drift if self._down else drift
        exp = self.expected(speed_mps)
        return exp * (1 + d / 100.0) if self._percent else exp + d

    def drift(self, value: float, speed_mps: float | None) -> float:
        exp = self.expected(speed_mps)
        d = value - exp
        if self._percent:
            d = 100.0 * d / exp if exp else 0.0
        return -d if self._down else d


def fit_baseline(
    name: str,
    settings: MetricSettings,
    times_s: np.ndarray,
    values: np.ndarray,
    speeds_mps: np.ndarray,
    *,
    speed_aware: bool,
    fit_min_range_mps: float,
    max_speed_delta_mps: float,
    ewma_tau_s: float,
) -> MetricBaseline:
    """Baseline from warm-up arrays (``speeds_mps`` holds NaN where speed is unknown)."""
    median = center(values)
    known = np.isfinite(speeds_mps)
    speed0: float | None = None
    slope = 0.0
    fitted = False
    if speed_aware and known.sum() >= max(10, values.size // 2):
        v, y = speeds_mps[known], values[known]
        speed0 = float(np.median(v))
        lo, hi = np.percentile(v, [5, 95])
        default = settings.speed_slope_per_mps
        default_raw = default / 100.0 * median if settings.unit == "percent" else default
        slope = default_raw
        if hi - lo >= fit_min_range_mps and default != 0.0:
            res = stats.theilslopes(y, v)
            fit = float(res.slope)
            # A wildly different slope is more likely noise or a confound than physiology.
            if math.isfinite(fit) and abs(fit - default_raw) <= 2.0 * abs(default_raw):
                slope, fitted = fit, True
        median = center(y - slope * (v - speed0))
    base = MetricBaseline(name, settings, median, 0.0, speed0, slope, fitted, max_speed_delta_mps,
                          int(values.size))
    drifts = np.array([base.drift(float(x), None if not math.isfinite(s) else float(s))
                       for x, s in zip(values, speeds_mps, strict=True)])
    spread = robust_sd(drifts)
    smoothed = ewma_series(times_s, drifts, ewma_tau_s)
    settled = smoothed[times_s >= times_s[0] + ewma_tau_s] if times_s.size else smoothed
    if settings.worse == "either":
        settled = settled - np.median(settled)
    noise = float(MAD_TO_SD * np.median(np.abs(settled))) if settled.size else 0.0
    return MetricBaseline(name, settings, median, spread, speed0, slope, fitted, max_speed_delta_mps,
                          int(values.size), max(noise, settings.min_noise))


def ewma_series(times_s: np.ndarray, x: np.ndarray, tau_s: float) -> np.ndarray:
    """Irregularly sampled EWMA, the same recursion as :class:`sensorkit.alerts.drift.Ewma`."""
    out = np.empty_like(x, dtype=float)
    s = math.nan
    prev = math.nan
    for i in range(x.size):  # warm-up only: a few hundred values, once per run
        if math.isnan(s):
            s = float(x[i])
        else:
            a = 1.0 - math.exp(-max(float(times_s[i]) - prev, 0.0) / tau_s)
            s += a * (float(x[i]) - s)
        prev = float(times_s[i])
        out[i] = s
    return out
