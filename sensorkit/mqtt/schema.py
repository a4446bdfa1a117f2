"""MQTT topics and versioned JSON payloads: the one definition publishers and subscribers share.

Topics (``<prefix>`` defaults to ``sensorkit``; names are percent-encoded if they hold
``/ + # %``)::

    <prefix>/v1/runner/<runner>/cue       Cue            QoS 1   one per spoken cue
    <prefix>/v1/runner/<runner>/metrics   Metrics        QoS 0   rolling metrics, ~1 Hz
    <prefix>/v1/runner/<runner>/fatigue   Fatigue        QoS 0   fatigue score, ~1 Hz
    <prefix>/v1/runner/<runner>/steps     Step           QoS 0   every step (off by default)
    <prefix>/v1/runner/<runner>/status    RunnerStatus   QoS 1   retained: online/offline, sensors
    <prefix>/v1/gateway/<gateway>/status  GatewayStatus  QoS 1   retained; the last will says offline

Every payload is a JSON object whose ``schema`` names its type and major version
(``"sensorkit.cue/1"``). Within a major version fields are only ever added, so readers must
ignore fields they do not know (the models here do). A runner counts as live when its own
status is ``online`` *and* its gateway's status is ``online``: an abruptly lost gateway can
only leave its will, on the gateway topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal
from urllib.parse import quote, unquote

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from sensorkit.model import (
    Cue,
    CueKind,
    FatigueState,
    Placement,
    RollingMetrics,
    Side,
    StepMetrics,
    StrikeClass,
    to_row,
)

VERSION = "v1"
DEFAULT_PREFIX = "sensorkit"


class Kind(StrEnum):
    """The last topic level."""

    CUE = "cue"
    METRICS = "metrics"
    FATIGUE = "fatigue"
    STEPS = "steps"
    STATUS = "status"


QOS: dict[Kind, int] = {Kind.CUE: 1, Kind.METRICS: 0, Kind.FATIGUE: 0, Kind.STEPS: 0, Kind.STATUS: 1}


def _enc(name: str) -> str:
    if not name:
        raise ValueError("empty name in an MQTT topic")
    return quote(name, safe="")


def runner_topic(runner: str, kind: Kind, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}/{VERSION}/runner/{_enc(runner)}/{kind.value}"


def gateway_topic(gateway: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}/{VERSION}/gateway/{_enc(gateway)}/status"


def subscription(prefix: str = DEFAULT_PREFIX, kind: Kind | None = None) -> list[str]:
    """Topic filters for a subscriber: everything, or one kind from every runner (plus gateways)."""
    if kind is None:
        return [f"{prefix}/{VERSION}/#"]
    out = [f"{prefix}/{VERSION}/runner/+/{kind.value}"]
    if kind is Kind.STATUS:
        out.append(f"{prefix}/{VERSION}/gateway/+/status")
    return out


@dataclass(frozen=True, slots=True)
class TopicRef:
    scope: Literal["runner", "gateway"]
    name: str
    kind: Kind


def parse_topic(topic: str, prefix: str = DEFAULT_PREFIX) -> TopicRef | None:
    """What a topic refers to; None for topics that are not sensorkit v1 topics."""
    head = f"{prefix}/{VERSION}/"
    if not topic.startswith(head):
        return None
    parts = topic[len(head):].split("/")
    if len(parts) != 3 or parts[0] not in ("runner", "gateway"):
        return None
    try:
        kind = Kind(parts[2])
    except ValueError:
        return None
    if parts[0] == "gateway" and kind is not Kind.STATUS:
        return None
    return TopicRef(parts[0], unquote(parts[1]), kind)  # type: ignore[arg-type]


class _Payload(BaseModel):
    # Readers ignore unknown fields: minor versions only add fields.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


class CuePayload(_Payload):
    schema_id: Literal["sensorkit.cue/1"] = Field("sensorkit.cue/1", alias="schema")
    runner: str
    session_id: str = ""
    time_s: float = Field(description="Host timeline of the session (0 = session start).")
    unix_s: float = Field(description="Wall-clock time of `time_s`.")
    kind: CueKind
    text: str
    language: str = "en"
    priority: int
    expires_s: float
    expires_unix_s: float
    trigger_time_s: float
    metric: str = ""
    value: float | None = None
    baseline: float | None = None


class MetricsPayload(_Payload):
    """RollingMetrics, field for field."""

    schema_id: Literal["sensorkit.metrics/1"] = Field("sensorkit.metrics/1", alias="schema")
    runner: str
    session_id: str = ""
    time_s: float
    unix_s: float
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
    rearfoot_pct: float | None = None
    midfoot_pct: float | None = None
    forefoot_pct: float | None = None
    speed_mps: float | None = None
    distance_m: float | None = None
    moving: bool = True


class StepPayload(_Payload):
    """StepMetrics, field for field."""

    schema_id: Literal["sensorkit.step/1"] = Field("sensorkit.step/1", alias="schema")
    runner: str
    session_id: str = ""
    time_s: float
    unix_s: float
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


class FatiguePayload(_Payload):
    schema_id: Literal["sensorkit.fatigue/1"] = Field("sensorkit.fatigue/1", alias="schema")
    runner: str
    session_id: str = ""
    time_s: float
    unix_s: float
    score: float = Field(description="0 (fresh) to 100 (form far from the runner's baseline).")
    baseline_ready: bool
    components: dict[str, float] = Field(default_factory=dict)


class SensorStatus(BaseModel):
    """SensorHealth of one sensor (without the runner, which the topic names)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

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


class QueueStatus(BaseModel):
    """A bounded queue's counters (pipeline ChannelStats)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    maxsize: int
    fill: int
    max_fill: int
    sent: int
    received: int
    dropped: int
    policy: str


class PublisherStatus(BaseModel):
    """The MQTT publisher's own counters."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    connects: int = 0
    cues_published: int = 0
    cues_dropped_stale: int = Field(0, description="Cues not published because they expired first.")
    cues_dropped_full: int = 0
    messages_published: int = 0
    messages_dropped: int = 0


class RunnerStatusPayload(_Payload):
    schema_id: Literal["sensorkit.runner_status/1"] = Field("sensorkit.runner_status/1", alias="schema")
    runner: str
    gateway: str
    session_id: str = ""
    state: Literal["online", "offline"]
    unix_s: float
    time_s: float | None = None
    sensors: list[SensorStatus] = Field(default_factory=list)
    queues: list[QueueStatus] = Field(default_factory=list, description="This runner's pipeline queues.")


class GatewayStatusPayload(_Payload):
    schema_id: Literal["sensorkit.gateway_status/1"] = Field("sensorkit.gateway_status/1", alias="schema")
    gateway: str
    state: Literal["online", "offline"]
    unix_s: float | None = Field(None, description="None in the last will (sent by the broker).")
    session_id: str = ""
    runners: list[str] = Field(default_factory=list)
    software_version: str = ""
    publisher: PublisherStatus | None = None
    queues: list[QueueStatus] = Field(default_factory=list)


Payload = Annotated[
    CuePayload | MetricsPayload | StepPayload | FatiguePayload | RunnerStatusPayload | GatewayStatusPayload,
    Field(discriminator="schema_id"),
]
_ADAPTER: TypeAdapter[Payload] = TypeAdapter(Payload)

PAYLOAD_OF_KIND: dict[Kind, tuple[type[_Payload], ...]] = {
    Kind.CUE: (CuePayload,), Kind.METRICS: (MetricsPayload,), Kind.FATIGUE: (FatiguePayload,),
    Kind.STEPS: (StepPayload,), Kind.STATUS: (RunnerStatusPayload, GatewayStatusPayload),
}


def decode(payload: bytes | str) -> Payload:
    """Parse any sensorkit v1 payload by its ``schema`` field (raises pydantic.ValidationError)."""
    return _ADAPTER.validate_json(payload)


_RECORD_KIND: dict[type, tuple[Kind, type[_Payload]]] = {
    Cue: (Kind.CUE, CuePayload), RollingMetrics: (Kind.METRICS, MetricsPayload),
    FatigueState: (Kind.FATIGUE, FatiguePayload), StepMetrics: (Kind.STEPS, StepPayload),
}


def kind_of(record: Cue | RollingMetrics | FatigueState | StepMetrics) -> Kind:
    return _RECORD_KIND[type(record)][0]


def payload_of(record: Cue | RollingMetrics | FatigueState | StepMetrics, *, session_id: str = "",
               start_unix_s: float = 0.0) -> _Payload:
    """The wire form of a record; ``start_unix_s`` maps the host timeline to wall time."""
    row = to_row(record)
    row["session_id"] = session_id
    row["unix_s"] = start_unix_s + record.time_s
    if isinstance(record, Cue):
        row["expires_unix_s"] = start_unix_s + record.expires_s
    return _RECORD_KIND[type(record)][1].model_validate(row)
