"""CueEngine: a pure RecordStage from metrics records to FatigueState and Cue records.

Flow per runner, all on data time so replay at any speed gives identical cues:

1. observations (~1 Hz) from RollingMetrics (or the engine's own step window);
2. *settle*: the first ``settle_s`` of running are ignored; *warm-up*: the next
   ``warmup_s`` of running are collected and become the personal baseline;
3. *tracking*: each metric's drift from its (speed-adjusted) baseline is smoothed with an
   EWMA; the levels feed the fatigue score (0-100) and the cue rules.

Stops (not moving, slower than ``min_speed_mps`` or no metrics for ``max_gap_s``) pause
everything; after a stop ``resume_settle_s`` of running is ignored and a fault must be
active for its full minimum duration again.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass

import numpy as np

from sensorkit.alerts.baseline import MetricBaseline, fit_baseline
from sensorkit.alerts.drift import Ewma, Hysteresis
from sensorkit.alerts.observations import Observation, ObservationBuilder
from sensorkit.alerts.phrases import PhraseBook, load_phrasebook
from sensorkit.alerts.rules import CueLimiter, RuleState
from sensorkit.alerts.settings import METRIC_NAMES, SCORE, AlertsSettings
from sensorkit.model import BusItem, Cue, CueKind, FatigueState, PostureSample, Record, RollingMetrics, StepMetrics

_EPS_S = 1e-6
_INTAKE = (RollingMetrics, PostureSample, StepMetrics)
"""What :class:`ObservationBuilder` takes; the engine ignores everything else."""
MAX_DRIFT_FULL_SCALES = 1.5
"""One observation's drift is clipped to this many full scales before smoothing."""


@dataclass(slots=True)
class Level:
    """A metric's current drift level (smoothed, positive = worse) and what it means in the metric.

    ``smoothed`` is the metric value the smoothed drift corresponds to: what a cue reports,
    rather than the last (noisy) observation ``value``. Treat as immutable: not a frozen
    dataclass only because that sets each field through ``object.__setattr__`` (~7 k
    instructions a Level, one per metric and observation).
    """

    level: float
    value: float
    expected: float
    smoothed: float


class CueEngine:
    """Per-runner cue rules; ``CueEngine(runner, settings).update(item)`` -> new records."""

    def __init__(self, runner: str, settings: AlertsSettings | None = None,
                 phrasebook: PhraseBook | None = None) -> None:
        self.runner = runner
        self.settings = s = settings or AlertsSettings()
        self.phrasebook = phrasebook or load_phrasebook(s.language, s.phrases)
        self._builder = ObservationBuilder(s.step_window_s, s.fatigue_interval_s)
        self._metrics = [m for m in METRIC_NAMES if s.metrics.get(m).enabled]
        self._all_weight = sum(s.metrics.get(m).weight for m in self._metrics)
        self._scales = {m: (s.metrics.get(m).full_scale, s.metrics.get(m).weight) for m in METRIC_NAMES}
        """(full scale, weight) per metric: read per observation, cheaper than the pydantic model."""
        # Settings read per observation, copied once (each pydantic field read costs ~600 instructions).
        self._max_gap_s, self._min_speed_mps = s.max_gap_s, s.min_speed_mps
        self._fatigue_interval_s, self._speed_aware = s.fatigue_interval_s, s.speed_aware
        self._buffer: dict[str, list[tuple[float, float, float]]] = {m: [] for m in self._metrics}
        self.baselines: dict[str, MetricBaseline] = {}
        self._ewma = {m: Ewma(s.ewma_tau_s) for m in self._metrics}
        self._rules = [RuleState(k, s.rules.get(k)) for k in CueKind if s.rules.get(k).enabled]
        self._limiter = CueLimiter(s.max_cues_per_minute, s.min_gap_s)
        self.running_s = 0.0
        self._last_obs_s: float | None = None
        self._running = False
        self._hold_until_s = 0.0
        self._last_fatigue_s = -math.inf
        self.levels: dict[str, Level] = {}
        self.detections: collections.deque[tuple[float, CueKind]] = collections.deque(maxlen=256)
        """(time_s, kind) each time a fault has lasted its minimum duration: for benches and views."""
        self.score = 0.0
        self.components: dict[str, float] = {}

    @property
    def baseline_ready(self) -> bool:
        return bool(self.baselines)

    def update(self, item: BusItem) -> list[Record]:
        # Every bus item of the runner passes here (sample blocks, step events, ...): most are
        # none of the observation builder's inputs, and are let go with one isinstance.
        if not isinstance(item, _INTAKE) or item.runner != self.runner:
            return []
        obs = self._builder.update(item)
        return [] if obs is None else self._observe(obs)

    def finish(self) -> list[Record]:
        return []

    # -- per observation -------------------------------------------------------------------

    def _observe(self, obs: Observation) -> list[Record]:
        t = obs.time_s
        out: list[Record] = []
        gap = self._last_obs_s is not None and t - self._last_obs_s > self._max_gap_s
        running = obs.moving and (obs.speed_mps is None or obs.speed_mps >= self._min_speed_mps)
        if not running or gap:
            self._stop()
        if running:
            if self._running and self._last_obs_s is not None and not gap:
                self.running_s += max(t - self._last_obs_s, 0.0)
            elif self.baseline_ready:
                self._hold_until_s = self.running_s + self.settings.resume_settle_s
            self._running = True
            self._track(obs, out)
        self._last_obs_s = t
        if t - self._last_fatigue_s >= self._fatigue_interval_s - _EPS_S:
            self._last_fatigue_s = t
            out.insert(0, FatigueState(self.runner, t, round(float(self.score), 2), self.baseline_ready,
                                       dict(self.components)))
        return out

    def _stop(self) -> None:
        self._running = False
        for rule in self._rules:
            rule.interrupt()

    def _track(self, obs: Observation, out: list[Record]) -> None:
        s = self.settings
        if not self.baseline_ready:
            if self.running_s >= s.settle_s:
                self._collect(obs)
            if self.running_s >= s.settle_s + s.warmup_s:
                self._fit_baselines()
            return
        if self.running_s < self._hold_until_s:
            return
        speed = obs.speed_mps if self._speed_aware else None
        levels: dict[str, float] = {}
        for name, base in self.baselines.items():
            value = obs.values.get(name)
            if value is None:
                continue
            # Clip single glitches (a missed step doubles a cadence) before they reach the EWMA.
            bound = MAX_DRIFT_FULL_SCALES * base.full_scale
            drift = min(max(base.drift(value, speed), -bound), bound)
            smoothed = self._ewma[name].update(obs.time_s, drift)
            level = abs(smoothed) if base.either else smoothed
            levels[name] = level
            self.levels[name] = Level(level, value, base.expected(speed), base.value_of(smoothed, speed))
        self._update_score()
        levels[SCORE] = self.score
        self._apply_rules(obs, levels, speed, out)

    def _collect(self, obs: Observation) -> None:
        speed = math.nan if obs.speed_mps is None else obs.speed_mps
        for name in self._metrics:
            value = obs.values.get(name)
            if value is not None:
                self._buffer[name].append((obs.time_s, value, speed))

    def _fit_baselines(self) -> None:
        s = self.settings
        for name, rows in self._buffer.items():
            if len(rows) < s.min_warmup_samples:
                continue
            arr = np.asarray(rows, dtype=float)
            self.baselines[name] = fit_baseline(
                name, s.metrics.get(name), arr[:, 0], arr[:, 1], arr[:, 2], speed_aware=s.speed_aware,
                fit_min_range_mps=s.speed_fit_min_range_mps, max_speed_delta_mps=s.max_speed_delta_mps,
                ewma_tau_s=s.ewma_tau_s)
        if not self.baselines:
            return  # nothing measurable yet: keep collecting
        self._buffer = {}
        for rule in self._rules:
            for metric, threshold in rule.settings.triggers.items():
                if metric == SCORE:
                    rule.triggers[metric] = Hysteresis(threshold, s.release_fraction)
                elif metric in self.baselines:
                    eff = max(threshold, s.noise_k * self.baselines[metric].noise)
                    rule.triggers[metric] = Hysteresis(eff, s.release_fraction)

    def _update_score(self) -> None:
        total_w = 0.0
        acc = 0.0
        comps: dict[str, float] = {}
        for name, lv in self.levels.items():
            full_scale, weight = self._scales[name]
            c = 100.0 * min(max(lv.level / full_scale, 0.0), 1.0)
            comps[name] = round(float(c), 1)
            acc += weight * c
            total_w += weight
        self.components = comps
        denom = max(total_w, self.settings.score_min_weight * self._all_weight)
        self.score = acc / denom if denom > 0 else 0.0

    def _apply_rules(self, obs: Observation, levels: dict[str, float], speed: float | None,
                     out: list[Record]) -> None:
        t = obs.time_s
        active = [r for r in self._rules if r.update(t, levels) and r.triggers]
        self.detections.extend((t, r.kind) for r in active if r.newly_detected(t))
        due = [r for r in active if r.due(t)]
        # Form cues before the summary ("Ease off"), then priority, then the longest-active fault.
        due.sort(key=lambda r: (r.summary, -r.settings.priority, r.since_s))
        for rule in due:
            if not self._limiter.allows(t):
                break
            self._limiter.record(t)
            rule.fired(t)
            out.append(self._cue(rule, obs, levels, speed))

    def _cue(self, rule: RuleState, obs: Observation, levels: dict[str, float], speed: float | None) -> Cue:
        metric = rule.worst_trigger(levels)
        value: float | None
        baseline: float | None
        if metric == SCORE:
            value, baseline = round(float(self.score), 1), None
        else:
            lv = self.levels[metric]
            value, baseline = round(lv.smoothed, 2), round(lv.expected, 2)
        t = obs.time_s
        return Cue(self.runner, t, rule.kind, self.phrasebook.text(rule.kind), rule.settings.priority,
                   t + rule.settings.expiry_s, t, metric, value, baseline, self.phrasebook.language)
