"""Typed records produced from the samples: events, metrics, posture, fatigue, cues, health.

Records are immutable and flat (numbers, strings, enums, ``None`` for unknown) so every sink
can serialise them the same way (:func:`sensorkit.model.to_row`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from sensorkit.model.sensors import Placement, Side


class EventKind(StrEnum):
    INITIAL_CONTACT = "initial_contact"
    TERMINAL_CONTACT = "terminal_contact"


class StrikeClass(StrEnum):
    """Foot-strike pattern; cut-offs are documented in ``sensorkit.dsp``."""

    REARFOOT = "rearfoot"
    MIDFOOT = "midfoot"
    FOREFOOT = "forefoot"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class StepEvent:
    """A foot touching down (IC) or pushing off (TC), detected by one sensor."""

    runner: str
    time_s: float
    kind: EventKind
    side: Side
    sensor_id: str
    placement: Placement


@dataclass(frozen=True, slots=True)
class StepMetrics:
    """Everything known about one step, emitted within one step of its initial contact.

    ``time_s`` is the step's initial contact. ``step_time_s`` runs from the previous
    (opposite-foot) IC to this one. ``contact_time_ms``/``flight_time_ms`` belong to this
    step's stance and the flight after it. Unknown values are ``None``.
    """

    runner: str
    time_s: float
    side: Side
    step_time_s: float | None = None
    cadence_spm: float | None = None
    cadence_smooth_spm: float | None = None
    contact_time_ms: float | None = None
    flight_time_ms: float | None = None
    duty_factor: float | None = None
    impact_g: float | None = None
    loading_rate_gps: float | None = None
    impact_saturated: bool = False
    vertical_oscillation_cm: float | None = None
    strike_angle_deg: float | None = None
    strike_class: StrikeClass = StrikeClass.UNKNOWN
    trunk_lean_deg: float | None = None
    speed_mps: float | None = None
    sources: str = ""
    """Placements that contributed, ``+``-joined, e.g. ``"lower_back+left_foot"``."""


@dataclass(frozen=True, slots=True)
class RollingMetrics:
    """Metrics over the last ``window_s`` seconds, emitted at 1 Hz per runner."""

    runner: str
    time_s: float
    window_s: float
    steps: int
    cadence_spm: float | None = None
    contact_time_ms: float | None = None
    flight_time_ms: float | None = None
    duty_factor: float | None = None
    impact_g: float | None = None
    loading_rate_gps: float | None = None
    vertical_oscillation_cm: float | None = None
    trunk_lean_deg: float | None = None
    lateral_lean_deg: float | None = None
    balance_left_pct: float | None = None
    """Left share of summed contact time, %; 50 is symmetric."""
    rearfoot_pct: float | None = None
    midfoot_pct: float | None = None
    forefoot_pct: float | None = None
    speed_mps: float | None = None
    distance_m: float | None = None
    moving: bool = True


@dataclass(frozen=True, slots=True)
class PostureSample:
    """Trunk orientation relative to the runner's upright reference, >= 10 Hz."""

    runner: str
    time_s: float
    trunk_lean_deg: float
    lateral_lean_deg: float | None = None


@dataclass(frozen=True, slots=True)
class FatigueState:
    """Composite fatigue score 0-100 against the runner's own baseline, with its parts.

    ``components`` maps a metric name to its drift contribution (0-100).
    """

    runner: str
    time_s: float
    score: float
    baseline_ready: bool
    components: dict[str, float] = field(default_factory=dict)


class CueKind(StrEnum):
    TRUNK_LEAN = "trunk_lean"
    OVERSTRIDE = "overstride"
    IMPACT = "impact"
    ASYMMETRY = "asymmetry"
    FATIGUE = "fatigue"


@dataclass(frozen=True, slots=True)
class Cue:
    """A spoken/published form cue. Delivered only before ``expires_s`` (host timeline)."""

    runner: str
    time_s: float
    kind: CueKind
    text: str
    priority: int
    expires_s: float
    trigger_time_s: float
    """Time of the step or metric that crossed the threshold (for latency accounting)."""
    metric: str = ""
    value: float | None = None
    baseline: float | None = None
    language: str = "en"


@dataclass(frozen=True, slots=True)
class SensorHealth:
    """Link and stream counters for one sensor, published about once a second."""

    runner: str
    sensor_id: str
    placement: Placement
    time_s: float
    connected: bool
    packets: int = 0
    samples: int = 0
    lost_samples: int = 0
    gaps: int = 0
    reconnects: int = 0
    decode_errors: int = 0
    queue_drops: int = 0
    battery_pct: float | None = None
    clock_residual_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Calibration:
    """Mounting calibration of one pod: the rotation taking sensor-frame vectors to body frame.

    ``sf_to_bf`` is the 3x3 matrix in row-major order (``v_bf = R @ v_sf``). ``method`` is
    ``"standing"`` or ``"running"``; ``residual_deg`` is the angle between the measured and the
    modelled gravity direction, a quality figure.
    """

    runner: str
    sensor_id: str
    time_s: float
    sf_to_bf: tuple[float, ...]
    method: str
    residual_deg: float | None = None


class MarkerKind(StrEnum):
    START = "start"
    STOP = "stop"


@dataclass(frozen=True, slots=True)
class SessionMarker:
    """Start and stop of a runner's session on the host timeline."""

    runner: str
    time_s: float
    kind: MarkerKind
    session_id: str
