"""Turn the metrics records of one runner into ~1 Hz observations the engine compares.

RollingMetrics (emitted by ``sensorkit.metrics`` at 1 Hz) are used as they are. When a
pipeline produces only StepMetrics, the engine aggregates them itself over a short window,
so the cue rules work either way. PostureSamples fill in trunk lean when the metrics lack it.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass

import numpy as np

from sensorkit.model import PostureSample, RollingMetrics, Side, StepMetrics, StrikeClass


@dataclass(frozen=True, slots=True)
class Observation:
    """One comparison point: metric values (None if unknown) at ``time_s``."""

    time_s: float
    values: dict[str, float | None]
    speed_mps: float | None
    moving: bool


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _median(xs: list[float]) -> float | None:
    return float(np.median(xs)) if xs else None


class ObservationBuilder:
    """Per-runner intake; ``update`` returns an observation when one is due, else None."""

    def __init__(self, step_window_s: float, interval_s: float = 1.0, posture_window_s: float = 5.0) -> None:
        self._step_window_s = step_window_s
        self._interval_s = interval_s
        self._posture_window_s = posture_window_s
        self._steps: collections.deque[StepMetrics] = collections.deque()
        self._posture: collections.deque[tuple[float, float]] = collections.deque()
        self._rolling_seen = False
        self._last_step_obs_s = -math.inf

    def update(self, item: object) -> Observation | None:
        if isinstance(item, RollingMetrics):
            self._rolling_seen = True
            self._steps.clear()
            return self._from_rolling(item)
        if isinstance(item, PostureSample):
            self._posture.append((item.time_s, item.trunk_lean_deg))
            while self._posture and self._posture[0][0] < item.time_s - self._posture_window_s:
                self._posture.popleft()
            return None
        if isinstance(item, StepMetrics) and not self._rolling_seen:
            self._steps.append(item)
            while self._steps and self._steps[0].time_s < item.time_s - self._step_window_s:
                self._steps.popleft()
            if item.time_s - self._last_step_obs_s >= self._interval_s:
                self._last_step_obs_s = item.time_s
                return self._from_steps(item.time_s)
        return None

    def _posture_lean(self, time_s: float) -> float | None:
        vals = [v for t, v in self._posture if time_s - self._posture_window_s <= t <= time_s]
        return _finite(float(np.mean(vals))) if vals else None

    def _from_rolling(self, r: RollingMetrics) -> Observation:
        lean = _finite(r.trunk_lean_deg)
        if lean is None:
            lean = self._posture_lean(r.time_s)
        values = {
            "trunk_lean_deg": lean,
            "cadence_spm": _finite(r.cadence_spm),
            "contact_time_ms": _finite(r.contact_time_ms),
            "impact_g": _finite(r.impact_g),
            "balance_left_pct": _finite(r.balance_left_pct),
            "rearfoot_pct": _finite(r.rearfoot_pct),
        }
        return Observation(r.time_s, values, _finite(r.speed_mps), r.moving and r.steps > 0)

    def _from_steps(self, time_s: float) -> Observation:
        steps = list(self._steps)

        def col(name: str) -> list[float]:
            out = []
            for s in steps:
                v = _finite(getattr(s, name))
                if v is not None:
                    out.append(v)
            return out

        lean = _median(col("trunk_lean_deg"))
        if lean is None:
            lean = self._posture_lean(time_s)
        left = float(sum(s.contact_time_ms or 0.0 for s in steps if s.side is Side.LEFT))
        right = float(sum(s.contact_time_ms or 0.0 for s in steps if s.side is Side.RIGHT))
        balance = 100.0 * left / (left + right) if left > 0 and right > 0 else None
        classed = [s.strike_class for s in steps if s.strike_class is not StrikeClass.UNKNOWN]
        rearfoot = 100.0 * sum(c is StrikeClass.REARFOOT for c in classed) / len(classed) if classed else None
        cadence = _median(col("cadence_spm"))
        values = {
            "trunk_lean_deg": lean,
            "cadence_spm": cadence,
            "contact_time_ms": _median(col("contact_time_ms")),
            "impact_g": _median(col("impact_g")),
            "balance_left_pct": balance,
            "rearfoot_pct": rearfoot,
        }
        return Observation(time_s, values, _median(col("speed_mps")), len(steps) >= 3)
