"""Synthetic metric streams with known answers, for the cue tests and benchmarks.

A stream is 1 Hz RollingMetrics (or per-step StepMetrics) around a steady baseline with
realistic, autocorrelated noise (overlapping rolling windows), an optional speed profile
with a known speed relationship, and drifts with known onsets: so the time a drift crosses a
rule's threshold is known exactly and detection delay can be measured.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import lfilter

from sensorkit.model import RollingMetrics, Side, StepMetrics, StrikeClass

PERCENT_METRICS = frozenset({"cadence_spm", "contact_time_ms", "impact_g"})

BASE_VALUES: dict[str, float] = {
    "trunk_lean_deg": 8.0, "cadence_spm": 170.0, "contact_time_ms": 250.0, "impact_g": 3.0,
    "balance_left_pct": 50.0, "rearfoot_pct": 70.0,
}
NOISE_SD: dict[str, float] = {
    # Spread of 10-s rolling values on a steady run (in the metric's own unit).
    "trunk_lean_deg": 0.4, "cadence_spm": 1.0, "contact_time_ms": 3.0, "impact_g": 0.09,
    "balance_left_pct": 0.8, "rearfoot_pct": 5.0,
}
TRUE_SLOPES: dict[str, float] = {
    # Change per +1 m/s: percent of baseline for PERCENT_METRICS, else own unit.
    "trunk_lean_deg": 1.0, "cadence_spm": 5.0, "contact_time_ms": -12.0, "impact_g": 15.0,
    "balance_left_pct": 0.0, "rearfoot_pct": 0.0,
}


@dataclass(frozen=True, slots=True)
class Drift:
    """A linear ramp of ``amount`` (percent of baseline or own unit) from ``onset_s`` over ``ramp_s``."""

    metric: str
    onset_s: float
    amount: float
    ramp_s: float = 0.0

    def at(self, t: np.ndarray) -> np.ndarray:
        if self.ramp_s <= 0:
            return np.where(t >= self.onset_s, self.amount, 0.0)
        return self.amount * np.clip((t - self.onset_s) / self.ramp_s, 0.0, 1.0)

    def crossing_s(self, threshold: float) -> float | None:
        """When the true drift first reaches ``threshold`` (None if it never does)."""
        if abs(threshold) > abs(self.amount) or threshold * self.amount <= 0:
            return None
        return self.onset_s + self.ramp_s * threshold / self.amount


SpeedProfile = Callable[[np.ndarray], np.ndarray]


def constant_speed(speed_mps: float) -> SpeedProfile:
    return lambda t: np.full_like(t, speed_mps, dtype=float)


def interval_speed(low_mps: float, high_mps: float, period_s: float, start_s: float = 0.0) -> SpeedProfile:
    """Alternating halves of ``period_s`` at low and high speed after ``start_s`` (intervals)."""
    def f(t: np.ndarray) -> np.ndarray:
        phase = ((t - start_s) % period_s) < period_s / 2
        return np.where((t >= start_s) & ~phase, high_mps, low_mps).astype(float)
    return f


@dataclass(frozen=True, slots=True)
class StreamSpec:
    duration_s: float
    drifts: Sequence[Drift] = ()
    speed: SpeedProfile | None = None
    speed_known: bool = True
    base_speed_mps: float = 3.2
    base: dict[str, float] = field(default_factory=lambda: dict(BASE_VALUES))
    noise_scale: float = 1.0
    seed: int = 0
    metrics: Sequence[str] = tuple(BASE_VALUES)
    stops: Sequence[tuple[float, float]] = ()
    """(start_s, end_s) intervals when the runner stands still."""


def _ar1(rng: np.random.Generator, n: int, corr_s: float = 5.0) -> np.ndarray:
    """Unit-variance AR(1) noise: overlapping rolling windows make neighbours correlated."""
    phi = float(np.exp(-1.0 / corr_s))
    e = rng.standard_normal(n) * np.sqrt(1 - phi**2)
    x = lfilter([1.0], [1.0, -phi], e)
    x[0] = rng.standard_normal()
    return np.asarray(x)


def metric_arrays(spec: StreamSpec) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Times (1 Hz), true-plus-noise values per metric, and speed."""
    rng = np.random.default_rng(spec.seed)
    t = np.arange(1.0, spec.duration_s + 1e-9, 1.0)
    speed = spec.speed(t) if spec.speed else np.full_like(t, spec.base_speed_mps)
    dv = speed - spec.base_speed_mps
    values: dict[str, np.ndarray] = {}
    for m in spec.metrics:
        base = spec.base[m]
        drift = sum((d.at(t) for d in spec.drifts if d.metric == m), np.zeros_like(t))
        noise = _ar1(rng, t.size) * NOISE_SD[m] * spec.noise_scale
        if m in PERCENT_METRICS:
            v = base * (1 + (TRUE_SLOPES[m] * dv + drift) / 100.0) + noise
        else:
            v = base + TRUE_SLOPES[m] * dv + drift + noise
        values[m] = v
    return t, values, speed


def rolling_stream(spec: StreamSpec, runner: str = "r1", window_s: float = 10.0) -> list[RollingMetrics]:
    t, values, speed = metric_arrays(spec)
    out = []
    for i, ti in enumerate(t):
        stopped = any(a <= ti < b for a, b in spec.stops)
        v = {m: float(values[m][i]) for m in values}
        out.append(RollingMetrics(
            runner, float(ti), window_s, 0 if stopped else int(v.get("cadence_spm", 170.0) * window_s / 60),
            cadence_spm=v.get("cadence_spm"), contact_time_ms=v.get("contact_time_ms"),
            impact_g=v.get("impact_g"), trunk_lean_deg=v.get("trunk_lean_deg"),
            balance_left_pct=v.get("balance_left_pct"), rearfoot_pct=v.get("rearfoot_pct"),
            speed_mps=(0.0 if stopped else float(speed[i])) if spec.speed_known else None,
            moving=not stopped))
    return out


def step_stream(spec: StreamSpec, runner: str = "r1") -> list[StepMetrics]:
    """Per-step records following the same truth (step-level noise is larger than rolling)."""
    t, values, speed = metric_arrays(dataclasses.replace(spec, noise_scale=0.0))
    rng = np.random.default_rng(spec.seed + 1)
    out: list[StepMetrics] = []
    now = t[0]
    side = Side.LEFT
    while now < t[-1]:
        i = min(int(now), t.size - 1)
        cad = values["cadence_spm"][i] if "cadence_spm" in values else 170.0
        step_s = 60.0 / cad * (1 + 0.01 * rng.standard_normal() * spec.noise_scale)
        now += step_s
        if any(a <= now < b for a, b in spec.stops):
            continue

        def val(m: str, sd: float, i: int = i) -> float | None:
            if m not in values:
                return None
            return float(values[m][i] + sd * rng.standard_normal() * spec.noise_scale)

        contact = val("contact_time_ms", 8.0)
        if contact is not None and "balance_left_pct" in values:
            contact *= values["balance_left_pct"][i] / 50.0 if side is Side.LEFT else \
                (100 - values["balance_left_pct"][i]) / 50.0
        rear = values.get("rearfoot_pct")
        strike = StrikeClass.UNKNOWN if rear is None else (
            StrikeClass.REARFOOT if rng.random() * 100 < rear[i] else StrikeClass.MIDFOOT)
        out.append(StepMetrics(runner, float(now), side, step_s, 60.0 / step_s, float(cad), contact,
                               impact_g=val("impact_g", 0.3), strike_class=strike,
                               trunk_lean_deg=val("trunk_lean_deg", 1.0),
                               speed_mps=float(speed[i]) if spec.speed_known else None))
        side = Side.RIGHT if side is Side.LEFT else Side.LEFT
    return out

