"""Rolling per-runner summaries over the last ``window_s`` seconds, emitted at 1 Hz."""

from __future__ import annotations

from collections import deque
from statistics import fmean, median

from sensorkit.model import RollingMetrics, Side, SpeedSample, StepMetrics, StrikeClass


def _mean(xs: list[float]) -> float | None:
    return fmean(xs) if xs else None


def window_cadence_spm(steps: list[StepMetrics], lo_s: float, hi_s: float) -> float | None:
    """Steps taken in ``(lo_s, hi_s]`` per minute of the time they cover.

    Each step covers ``[time_s - step_time_s, time_s]``; a step crossing the window's start
    counts with the fraction inside. Steps longer than 1.5 x the window's median (a missed
    step, a stop) are holes, left out of both. The same definition the validation scores
    with (``sensorkit.validation.scoring.interval_cadence_spm``). Unlike ``60 / median``, it
    stays right when step times alternate, as they do for a phone worn off the body's
    midline (0.34 / 0.43 s: the median flips between 140 and 176 steps/min).
    """
    spans = [(s.time_s, s.step_time_s) for s in steps if s.step_time_s is not None and s.step_time_s > 0]
    if not spans:
        return None
    limit = 1.5 * median(iv for _, iv in spans)
    cycles = covered = 0.0
    for t, iv in spans:
        inside = min(t, hi_s) - max(t - iv, lo_s)
        if inside > 0 and iv <= limit:
            cycles += inside / iv
            covered += inside
    return 60.0 * cycles / covered if covered > 0 else None


class RollingWindow:
    """Keeps recent steps, lean and speed readings; ``emit(now)`` summarises the window."""

    def __init__(self, runner: str, window_s: float = 10.0, moving_timeout_s: float = 3.0) -> None:
        self.runner = runner
        self.window_s = window_s
        self.moving_timeout_s = moving_timeout_s
        self._steps: deque[StepMetrics] = deque()
        self._lean: deque[tuple[float, float, float | None]] = deque()
        self._speed: deque[SpeedSample] = deque()
        self._distance_m = 0.0
        self._last_speed: SpeedSample | None = None
        self._source_distance = False

    def add_step(self, step: StepMetrics) -> None:
        self._steps.append(step)

    def add_lean(self, time_s: float, lean_deg: float, lateral_deg: float | None) -> None:
        self._lean.append((time_s, lean_deg, lateral_deg))

    def add_speed(self, s: SpeedSample) -> None:
        if s.distance_m is not None:
            self._source_distance = True
            self._distance_m = s.distance_m
        elif not self._source_distance and s.speed_mps is not None and self._last_speed is not None \
                and self._last_speed.speed_mps is not None:
            dt = s.time_s - self._last_speed.time_s
            if 0 < dt <= 10.0:
                self._distance_m += 0.5 * (s.speed_mps + self._last_speed.speed_mps) * dt
        self._last_speed = s
        self._speed.append(s)

    def emit(self, now_s: float) -> RollingMetrics:
        lo = now_s - self.window_s
        for q in (self._steps, self._lean, self._speed):
            while q and _time(q[0]) <= lo:
                q.popleft()
        steps = [s for s in self._steps if s.time_s <= now_s]
        cadence = window_cadence_spm(steps, lo, now_s)
        contact = [s.contact_time_ms for s in steps if s.contact_time_ms is not None]
        left = sum(s.contact_time_ms or 0.0 for s in steps if s.side is Side.LEFT)
        right = sum(s.contact_time_ms or 0.0 for s in steps if s.side is Side.RIGHT)
        classes = [s.strike_class for s in steps if s.strike_class is not StrikeClass.UNKNOWN]

        def pct(c: StrikeClass) -> float | None:
            return 100.0 * sum(1 for x in classes if x is c) / len(classes) if classes else None

        speeds = [s.speed_mps for s in self._speed if s.speed_mps is not None]
        lat = [x[2] for x in self._lean if x[2] is not None]
        moving = bool(steps) and now_s - steps[-1].time_s <= self.moving_timeout_s + 1.0
        return RollingMetrics(
            runner=self.runner, time_s=now_s, window_s=self.window_s, steps=len(steps), cadence_spm=cadence,
            contact_time_ms=_mean(contact),
            flight_time_ms=_mean([s.flight_time_ms for s in steps if s.flight_time_ms is not None]),
            duty_factor=_mean([s.duty_factor for s in steps if s.duty_factor is not None]),
            impact_g=_mean([s.impact_g for s in steps if s.impact_g is not None]),
            loading_rate_gps=_mean([s.loading_rate_gps for s in steps if s.loading_rate_gps is not None]),
            vertical_oscillation_cm=_mean(
                [s.vertical_oscillation_cm for s in steps if s.vertical_oscillation_cm is not None]),
            trunk_lean_deg=_mean([x[1] for x in self._lean]),
            lateral_lean_deg=_mean(lat),
            balance_left_pct=100.0 * left / (left + right) if left > 0 and right > 0 else None,
            rearfoot_pct=pct(StrikeClass.REARFOOT), midfoot_pct=pct(StrikeClass.MIDFOOT),
            forefoot_pct=pct(StrikeClass.FOREFOOT),
            speed_mps=_mean(speeds),
            distance_m=self._distance_m if self._last_speed is not None else None,
            moving=moving)


def _time(x: StepMetrics | SpeedSample | tuple[float, float, float | None]) -> float:
    return x[0] if isinstance(x, tuple) else x.time_s
