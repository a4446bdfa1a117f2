"""Per-runner session summaries: the numbers a report's tables and a batch's summary file hold.

Central values are medians (robust to the odd missed step); trunk lean is the mean of the
10 Hz posture samples. Distance comes from the speed readings (footpod or GPS), else from
the metrics' own running distance; it stays empty when neither is known (the training history
estimates it from cadence instead).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sensorkit.alerts import AlertsSettings
from sensorkit.alerts.settings import SCORE
from sensorkit.analysis.columns import Columns
from sensorkit.analysis.session import RunnerData, SessionAnalysis, finite
from sensorkit.model import CueKind

METRICS: tuple[tuple[str, str, str], ...] = (
    ("cadence_spm", "Cadence", "steps/min"),
    ("contact_time_ms", "Contact time", "ms"),
    ("flight_time_ms", "Flight time", "ms"),
    ("duty_factor", "Duty factor", ""),
    ("impact_g", "Impact", "g"),
    ("loading_rate_gps", "Loading rate", "g/s"),
    ("vertical_oscillation_cm", "Vertical oscillation", "cm"),
    ("strike_angle_deg", "Foot-strike angle", "deg"),
    ("trunk_lean_deg", "Trunk lean", "deg"),
    ("step_time_s", "Step time", "s"),
)
"""Per-step metrics summarised and compared: (column, label, unit)."""


@dataclass(frozen=True, slots=True)
class FatigueOnset:
    """When the fatigue score first stayed at or above ``threshold`` for ``hold_s``."""

    time_s: float
    threshold: float
    hold_s: float


def fatigue_rule(alerts: AlertsSettings | None = None) -> tuple[float, float]:
    """(score threshold, hold seconds) of the cue engine's fatigue rule."""
    rule = (alerts or AlertsSettings()).rules.get(CueKind.FATIGUE)
    return float(rule.triggers.get(SCORE, 50.0)), float(rule.min_duration_s)


def fatigue_onset(fatigue: Columns, threshold: float = 50.0, hold_s: float = 30.0) -> FatigueOnset | None:
    """Start of the first run of scores >= ``threshold`` lasting ``hold_s`` (the fatigue cue's rule)."""
    t, score = fatigue["time_s"], fatigue["score"]
    if not len(t):
        return None
    high = score >= threshold
    start: float | None = None
    for ti, hi in zip(t.tolist(), high.tolist(), strict=True):
        if hi:
            start = ti if start is None else start
            if ti - start >= hold_s:
                return FatigueOnset(start, threshold, hold_s)
        else:
            start = None
    return None


def side_medians(data: RunnerData, column: str) -> tuple[float, float]:
    """Median of ``column`` over left and over right steps (NaN if none)."""
    out = []
    for side in ("left", "right"):
        v = finite(data.steps[column][data.steps["side"] == side])
        out.append(float(np.median(v)) if len(v) else math.nan)
    return out[0], out[1]


def balance_left_pct(data: RunnerData) -> float:
    """Left share of summed contact time over the whole session, % (50 = symmetric)."""
    ct, side = data.steps["contact_time_ms"], data.steps["side"]
    ok = np.isfinite(ct)
    left = float(ct[ok & (side == "left")].sum())
    right = float(ct[ok & (side == "right")].sum())
    return 100.0 * left / (left + right) if left > 0 and right > 0 else math.nan


def distance_m(data: RunnerData) -> tuple[float, str]:
    """Session distance and its source: ``gps``/``footpod`` speed readings, ``metrics``, or ``none``."""
    from sensorkit.analysis.history.sessions import distance_from_speed

    dist, how = distance_from_speed(data.speed)
    if dist is not None:
        return dist, how
    rd = finite(data.rolling["distance_m"])
    if len(rd):
        return float(rd[-1]), "metrics"
    return math.nan, "none"


def strike_shares(data: RunnerData) -> dict[str, float]:
    """Share of classified steps per strike class, %."""
    cls = data.steps["strike_class"]
    known = cls[cls != "unknown"]
    return {c: (100.0 * float(np.sum(known == c)) / len(known) if len(known) else math.nan)
            for c in ("rearfoot", "midfoot", "forefoot")}


def runner_summary(analysis: SessionAnalysis, runner: str, alerts: AlertsSettings | None = None) -> dict[str, Any]:
    """One row of the batch summary for one runner of one session."""
    data = analysis.runner(runner)
    info = analysis.info
    row: dict[str, Any] = {
        "file": analysis.path, "kind": analysis.kind, "session_id": info.session_id, "runner": runner,
        "shoe": data.shoe or "", "start_unix_s": info.start_unix_s, "duration_s": analysis.duration_s,
        "steps": len(data.steps["time_s"]),
    }
    dist, how = distance_m(data)
    row["distance_m"], row["distance_from"] = dist, how
    for col, _, _ in METRICS:
        v = finite(data.steps[col])
        row[col] = float(np.median(v)) if len(v) else math.nan
    lean = finite(data.posture["trunk_lean_deg"])
    row["trunk_lean_deg"] = float(np.mean(lean)) if len(lean) else row["trunk_lean_deg"]
    row["balance_left_pct"] = balance_left_pct(data)
    row.update({f"{k}_pct": v for k, v in strike_shares(data).items()})
    scores = finite(data.fatigue["score"])
    row["fatigue_max"] = float(scores.max()) if len(scores) else math.nan
    onset = fatigue_onset(data.fatigue, *fatigue_rule(alerts))
    row["fatigue_onset_s"] = onset.time_s if onset else math.nan
    row["cues"] = len(data.cues)
    return row


def session_summaries(analysis: SessionAnalysis, alerts: AlertsSettings | None = None) -> list[dict[str, Any]]:
    return [runner_summary(analysis, r, alerts) for r in analysis.runners]
