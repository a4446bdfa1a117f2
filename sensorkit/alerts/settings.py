"""User-settable cue rules and baseline/drift parameters: the ``[alerts]`` config section.

Every rule and metric has its own defaults; a TOML table that sets only some keys of a rule
(``[alerts.rules.trunk_lean] cooldown_s = 120``) keeps that rule's other defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from sensorkit.model import CueKind
from sensorkit.model.settings import SETTINGS

METRIC_NAMES: tuple[str, ...] = (
    "trunk_lean_deg", "cadence_spm", "contact_time_ms", "impact_g", "balance_left_pct", "rearfoot_pct",
)
"""Metrics the engine tracks; the names are the fields of ``RollingMetrics``."""

SCORE = "fatigue_score"
"""Pseudo-metric a rule can trigger on: the composite fatigue score 0-100."""



class MetricSettings(BaseModel):
    """How one metric is compared with the runner's baseline and weighed in the fatigue score."""

    model_config = SETTINGS

    enabled: bool = Field(True, description="Track this metric (baseline, drift, fatigue score).")
    unit: Literal["percent", "absolute"] = Field(
        "absolute", description="Drift measured in percent of the baseline or in the metric's own unit.")
    worse: Literal["up", "down", "either"] = Field(
        "up", description="Which direction of drift is a form fault.")
    full_scale: float = Field(
        10.0, gt=0, description="Drift (in `unit`) that counts as a 100 % contribution to the fatigue score.")
    weight: float = Field(1.0, ge=0, description="Weight of this metric in the fatigue score.")
    min_noise: float = Field(
        0.0, ge=0, description="Floor on the baseline's robust spread (in `unit`), so a very steady "
        "warm-up does not make every small wobble look like drift.")
    speed_slope_per_mps: float = Field(
        0.0, description="Expected change per +1 m/s of speed (in `unit`) when the warm-up is too steady "
        "to fit the runner's own slope.")


def _metric(**kw: Any) -> MetricSettings:
    return MetricSettings(**kw)


DEFAULT_METRICS: dict[str, MetricSettings] = {
    "trunk_lean_deg": _metric(unit="absolute", worse="up", full_scale=5.0, weight=0.25, min_noise=0.3,
                              speed_slope_per_mps=1.0),
    "cadence_spm": _metric(unit="percent", worse="down", full_scale=5.0, weight=0.2, min_noise=0.4,
                           speed_slope_per_mps=5.0),
    "contact_time_ms": _metric(unit="percent", worse="up", full_scale=10.0, weight=0.2, min_noise=0.8,
                               speed_slope_per_mps=-12.0),
    "impact_g": _metric(unit="percent", worse="up", full_scale=25.0, weight=0.2, min_noise=2.0,
                        speed_slope_per_mps=15.0),
    "balance_left_pct": _metric(unit="absolute", worse="either", full_scale=6.0, weight=0.075, min_noise=0.3,
                                speed_slope_per_mps=0.0),
    "rearfoot_pct": _metric(unit="absolute", worse="up", full_scale=30.0, weight=0.075, min_noise=3.0,
                            speed_slope_per_mps=0.0),
}


class RuleSettings(BaseModel):
    """One cue: which drifts trigger it, for how long, how often, and how urgent it is."""

    model_config = SETTINGS

    enabled: bool = Field(True, description="Speak/publish this cue.")
    triggers: dict[str, float] = Field(
        default_factory=dict,
        description="Metric name -> drift threshold in that metric's unit (deg, % of baseline, "
        "percentage points; `fatigue_score` in points 0-100). Any one trigger over its threshold "
        "makes the fault active.")
    min_duration_s: float = Field(20.0, ge=0,
                                  description="The fault must stay active this long before the cue.")
    cooldown_s: float = Field(240.0, ge=0, description="Minimum time between two cues of this rule "
                              "(a persisting fault is repeated after it).")
    repeat_backoff: float = Field(2.0, ge=1.0, description="Each repeat of a fault that has not cleared for "
                                  "a whole cooldown multiplies the next cooldown by this (240 s, 480 s, "
                                  "960 s ...): a runner who cannot fix it is not nagged.")
    priority: int = Field(3, ge=1, le=9, description="Larger is more urgent: wins when several cues are due "
                          "(a rule on the fatigue score alone waits while a form cue is due) and goes first "
                          "in the audio queue.")
    expiry_s: float = Field(15.0, gt=0, description="A cue not delivered within this time is dropped, "
                            "never spoken or published late.")


# Minimum durations are short because the drift is already smoothed (`ewma_tau_s`): the two lags add
# up (docs/cues.md, "Drift detection"). Asymmetry waits longer: fusion of two pods' clocks can bend the
# balance for ~10 s on a steady run.
DEFAULT_RULES: dict[str, RuleSettings] = {
    CueKind.TRUNK_LEAN.value: RuleSettings(triggers={"trunk_lean_deg": 2.5}, min_duration_s=10.0,
                                           cooldown_s=240.0, priority=4),
    CueKind.OVERSTRIDE.value: RuleSettings(triggers={"cadence_spm": 3.5}, min_duration_s=10.0,
                                           cooldown_s=240.0, priority=3),
    CueKind.IMPACT.value: RuleSettings(triggers={"impact_g": 12.0, "rearfoot_pct": 20.0}, min_duration_s=10.0,
                                       cooldown_s=240.0, priority=3),
    CueKind.ASYMMETRY.value: RuleSettings(triggers={"balance_left_pct": 4.0}, min_duration_s=20.0,
                                          cooldown_s=300.0, priority=2),
    CueKind.FATIGUE.value: RuleSettings(triggers={SCORE: 50.0}, min_duration_s=30.0, cooldown_s=300.0,
                                        priority=5, expiry_s=20.0),
}


def _merge_defaults(data: Any, defaults: Mapping[str, BaseModel]) -> Any:
    """Let a partial table override a few keys of one entry and keep that entry's defaults."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for key, value in data.items():
        if key in defaults and isinstance(value, dict):
            out[key] = {**defaults[key].model_dump(), **value}
    return out


class MetricsSettings(BaseModel):
    """Per-metric drift settings (names are ``RollingMetrics`` fields)."""

    model_config = SETTINGS

    trunk_lean_deg: MetricSettings = Field(DEFAULT_METRICS["trunk_lean_deg"],
                                           description="Forward trunk lean, degrees above the baseline.")
    cadence_spm: MetricSettings = Field(DEFAULT_METRICS["cadence_spm"],
                                        description="Cadence, percent below the baseline.")
    contact_time_ms: MetricSettings = Field(DEFAULT_METRICS["contact_time_ms"],
                                            description="Ground contact time, percent above the baseline.")
    impact_g: MetricSettings = Field(DEFAULT_METRICS["impact_g"],
                                     description="Impact peak, percent above the baseline.")
    balance_left_pct: MetricSettings = Field(DEFAULT_METRICS["balance_left_pct"],
                                             description="Left/right contact balance, percentage points "
                                             "away from the baseline either way.")
    rearfoot_pct: MetricSettings = Field(DEFAULT_METRICS["rearfoot_pct"],
                                         description="Share of rearfoot (heel) strikes, percentage points "
                                         "above the baseline.")

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        return _merge_defaults(data, DEFAULT_METRICS)

    def get(self, name: str) -> MetricSettings:
        return getattr(self, name)


class RulesSettings(BaseModel):
    """The five cues and their triggers."""

    model_config = SETTINGS

    trunk_lean: RuleSettings = Field(DEFAULT_RULES["trunk_lean"],
                                     description='Forward trunk lean: "Stand tall".')
    overstride: RuleSettings = Field(DEFAULT_RULES["overstride"], description="Cadence drop / overstriding: "
                                     '"Quicker, shorter steps; land under your hips".')
    impact: RuleSettings = Field(DEFAULT_RULES["impact"],
                                 description='Rising impact or more heel strikes: "Land softer".')
    asymmetry: RuleSettings = Field(DEFAULT_RULES["asymmetry"],
                                    description="Left/right contact balance drifting.")
    fatigue: RuleSettings = Field(DEFAULT_RULES["fatigue"],
                                  description='Overall fatigue score high: "Ease off".')

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        return _merge_defaults(data, DEFAULT_RULES)

    def get(self, kind: CueKind) -> RuleSettings:
        return getattr(self, kind.value)


class AlertsSettings(BaseModel):
    """Personal baseline, drift detection, fatigue score and cue rules (section ``[alerts]``)."""

    model_config = SETTINGS

    enabled: bool = Field(True, description="Run the cue engine.")
    settle_s: float = Field(60.0, ge=0, description="Running time ignored at the start (warming up, "
                            "finding the pace) before the baseline window opens.")
    warmup_s: float = Field(240.0, gt=0, description="Running time after `settle_s` whose metrics make the "
                            "personal baseline (median and MAD per metric).")
    min_warmup_samples: int = Field(30, ge=3, description="A metric needs at least this many 1 Hz values in "
                                    "the warm-up to get a baseline; otherwise it is not tracked.")
    ewma_tau_s: float = Field(8.0, gt=0, description="Time constant of the exponential smoothing of each "
                              "metric's drift (data time). It and a rule's `min_duration_s` are lags in "
                              "series: a drift is cued about their sum after it truly crosses the threshold, "
                              "plus what the metric's noise adds.")
    release_fraction: float = Field(0.6, gt=0, lt=1, description="Hysteresis: an active fault clears only "
                                    "when its drift falls below this fraction of the threshold.")
    noise_k: float = Field(4.0, ge=0, description="A threshold is raised to this many robust standard "
                           "deviations of the smoothed drift seen in the warm-up, so noisy signals "
                           "do not nag.")
    resume_settle_s: float = Field(20.0, ge=0, description="After a stop (not moving, or no metrics for "
                                   "`max_gap_s`), ignore this much running time while the pace settles.")
    max_gap_s: float = Field(10.0, gt=0, description="No metrics for this long counts as a stop.")
    min_speed_mps: float = Field(1.5, ge=0, description="When speed is known, slower is walking or standing: "
                                 "ignored.")
    speed_aware: bool = Field(True, description="Compare each metric with the baseline expected at the "
                              "current speed (when speed is known).")
    speed_fit_min_range_mps: float = Field(
        0.6, gt=0, description="Fit the runner's own metric-vs-speed slope when the warm-up speeds span "
        "at least this (5th-95th percentile); otherwise use each metric's `speed_slope_per_mps`.")
    max_speed_delta_mps: float = Field(2.0, gt=0, description="Speed adjustment is clamped to this distance "
                                       "from the warm-up speed.")
    step_window_s: float = Field(10.0, gt=0, description="Window of the engine's own step aggregation, used "
                                 "only when no RollingMetrics arrive.")
    score_min_weight: float = Field(
        0.5, ge=0, le=1, description="The fatigue score is the weighted mean of the tracked metrics' "
        "contributions, divided by at least this fraction of all weights, so one or two drifting metrics "
        "alone cannot make it high.")
    fatigue_interval_s: float = Field(1.0, gt=0, description="Period of FatigueState records (data time).")
    max_cues_per_minute: int = Field(2, ge=1, description="Global cap on cues in any 60 s.")
    min_gap_s: float = Field(10.0, ge=0, description="Minimum time between any two cues.")
    language: str = Field("en", description="Phrase book for cue wording (shipped: en, de, es, fr).")
    phrases: dict[str, str] = Field(default_factory=dict, description="Override the wording of a cue kind "
                                    "(`trunk_lean`, `overstride`, `impact`, `asymmetry`, `fatigue`).")
    metrics: MetricsSettings = Field(default_factory=MetricsSettings,
                                     description="Per-metric drift settings.")
    rules: RulesSettings = Field(default_factory=RulesSettings, description="Per-cue rules.")

    @model_validator(mode="after")
    def _check(self) -> AlertsSettings:
        kinds = {k.value for k in CueKind}
        for key in self.phrases:
            if key not in kinds:
                raise ValueError(f"phrases: unknown cue kind {key!r} (known: {sorted(kinds)})")
        for kind in CueKind:
            for metric in self.rules.get(kind).triggers:
                if metric not in METRIC_NAMES and metric != SCORE:
                    raise ValueError(f"rules.{kind.value}.triggers: unknown metric {metric!r} "
                                     f"(known: {[*METRIC_NAMES, SCORE]})")
        return self
