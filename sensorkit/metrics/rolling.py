"""Rolling per-runner summaries over the last ``window_s`` seconds, emitted at 1 Hz."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Collection
from math import fsum
from statistics import median

from sensorkit.model import RollingMetrics, Side, SpeedSample, StepMetrics, StrikeClass

_LEFT, _RIGHT = Side.LEFT, Side.RIGHT
_REARFOOT, _MIDFOOT, _FOREFOOT = StrikeClass.REARFOOT, StrikeClass.MIDFOOT, StrikeClass.FOREFOOT
"""Enum members as module names: ``Side.LEFT`` goes through the enum class's ``__getattr__`` hook
(~600 instructions on Python 3.11), and ``emit`` tests every step of the window."""


def _mean(xs: Collection[float]) -> float | None:
    """``statistics.fmean``: its own arithmetic (``fsum / n``, exact sum), without its wrapper."""
    return fsum(xs) / len(xs) if xs else None


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
        start = t - iv
        inside = (hi_s if hi_s < t else t) - (lo_s if lo_s > start else start)  # min(t, hi) - max(start, lo)
        if inside > 0 and iv <= limit:
            cycles += inside / iv
            covered += inside
    return 60.0 * cycles / covered if covered > 0 else None


def _upto(times: deque[float], values: deque[float], now_s: float) -> Collection[float]:
    """The values whose (ascending) times are at or before ``now_s``."""
    n = len(times)
    k = n
    while k and times[k - 1] > now_s:
        k -= 1
    return values if k == n else list(itertools.islice(values, k))


class RollingWindow:
    """Keeps recent steps, lean and speed readings; ``emit(now)`` summarises the window.

    ``emit(now)`` uses only what happened up to ``now``, whatever was added after it, so a
    summary does not depend on how far the data had been processed when it was made.

    Every runner emits on the same tick of data time, so ``emit`` is one pass over the window's
    steps rather than a pass per field (the means are still ``fmean``'s exact sums).
    """

    def __init__(self, runner: str, window_s: float = 10.0, moving_timeout_s: float = 3.0) -> None:
        self.runner = runner
        self.window_s = window_s
        self.moving_timeout_s = moving_timeout_s
        self._steps: deque[StepMetrics] = deque()
        self._lean_t: deque[float] = deque()
        self._lean_deg: deque[float] = deque()
        self._lateral_t: deque[float] = deque()  # only the readings that have a lateral lean
        self._lateral_deg: deque[float] = deque()
        self._speed: deque[SpeedSample] = deque()
        self._distance: deque[tuple[float, float]] = deque()  # (time, distance then) per reading
        self._distance_m = 0.0
        self._last_speed: SpeedSample | None = None
        self._source_distance = False

    def add_step(self, step: StepMetrics) -> None:
        self._steps.append(step)

    def add_lean(self, time_s: float, lean_deg: float, lateral_deg: float | None) -> None:
        self._lean_t.append(time_s)
        self._lean_deg.append(lean_deg)
        if lateral_deg is not None:
            self._lateral_t.append(time_s)
            self._lateral_deg.append(lateral_deg)

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
        self._distance.append((s.time_s, self._distance_m))

    def _trim(self, lo: float) -> None:
        steps, lean_t, lateral_t, speed = self._steps, self._lean_t, self._lateral_t, self._speed
        while steps and steps[0].time_s <= lo:
            steps.popleft()
        while lean_t and lean_t[0] <= lo:
            lean_t.popleft()
            self._lean_deg.popleft()
        while lateral_t and lateral_t[0] <= lo:
            lateral_t.popleft()
            self._lateral_deg.popleft()
        while speed and speed[0].time_s <= lo:
            speed.popleft()
        distance = self._distance
        while len(distance) > 1 and distance[1][0] <= lo:  # keep the last reading before the window
            distance.popleft()

    def emit(self, now_s: float) -> RollingMetrics:
        lo = now_s - self.window_s
        self._trim(lo)
        steps = [s for s in self._steps if s.time_s <= now_s]
        contact: list[float] = []
        flight: list[float] = []
        duty: list[float] = []
        impact: list[float] = []
        loading: list[float] = []
        vo: list[float] = []
        left: list[float] = []
        right: list[float] = []
        classes = {_REARFOOT: 0, _MIDFOOT: 0, _FOREFOOT: 0}
        for s in steps:
            if (c := s.contact_time_ms) is not None:
                contact.append(c)
                if s.side is _LEFT:
                    left.append(c)
                elif s.side is _RIGHT:
                    right.append(c)
            if (v := s.flight_time_ms) is not None:
                flight.append(v)
            if (v := s.duty_factor) is not None:
                duty.append(v)
            if (v := s.impact_g) is not None:
                impact.append(v)
            if (v := s.loading_rate_gps) is not None:
                loading.append(v)
            if (v := s.vertical_oscillation_cm) is not None:
                vo.append(v)
            if s.strike_class in classes:
                classes[s.strike_class] += 1
        classified = sum(classes.values())

        def pct(c: StrikeClass) -> float | None:
            return 100.0 * classes[c] / classified if classified else None

        left_ms, right_ms = sum(left), sum(right)
        speeds = [s.speed_mps for s in self._speed if s.speed_mps is not None and s.time_s <= now_s]
        distance_m: float | None = None
        for t, d in reversed(self._distance):
            if t <= now_s:
                distance_m = d
                break
        lean = _upto(self._lean_t, self._lean_deg, now_s)
        lateral = _upto(self._lateral_t, self._lateral_deg, now_s)
        moving = bool(steps) and now_s - steps[-1].time_s <= self.moving_timeout_s + 1.0
        return RollingMetrics(
            runner=self.runner, time_s=now_s, window_s=self.window_s, steps=len(steps),
            cadence_spm=window_cadence_spm(steps, lo, now_s), contact_time_ms=_mean(contact),
            flight_time_ms=_mean(flight), duty_factor=_mean(duty), impact_g=_mean(impact),
            loading_rate_gps=_mean(loading), vertical_oscillation_cm=_mean(vo),
            trunk_lean_deg=_mean(lean), lateral_lean_deg=_mean(lateral),
            balance_left_pct=100.0 * left_ms / (left_ms + right_ms) if left_ms > 0 and right_ms > 0 else None,
            rearfoot_pct=pct(_REARFOOT), midfoot_pct=pct(_MIDFOOT), forefoot_pct=pct(_FOREFOOT),
            speed_mps=_mean(speeds),
            distance_m=distance_m,
            moving=moving)
