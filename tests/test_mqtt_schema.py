"""MQTT topics and payloads: the contract the dashboard's team mode reads."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import ValidationError

from sensorkit.model import (
    Cue,
    CueKind,
    FatigueState,
    Placement,
    RollingMetrics,
    SensorHealth,
    Side,
    StepMetrics,
    StrikeClass,
)
from sensorkit.mqtt.schema import (
    CuePayload,
    FatiguePayload,
    Kind,
    MetricsPayload,
    SensorStatus,
    StepPayload,
    TopicRef,
    decode,
    gateway_topic,
    parse_topic,
    payload_of,
    runner_topic,
    subscription,
)

RECORDS = [
    Cue("ann", 100.0, CueKind.TRUNK_LEAN, "Stand tall", 4, 115.0, 100.0, "trunk_lean_deg", 11.2, 8.0),
    RollingMetrics("ann", 100.0, 10.0, 28, cadence_spm=171.0, trunk_lean_deg=8.1, speed_mps=3.2),
    FatigueState("ann", 100.0, 42.5, True, {"trunk_lean_deg": 60.0}),
    StepMetrics("ann", 100.0, Side.LEFT, 0.35, 171.4, contact_time_ms=250.0, strike_class=StrikeClass.REARFOOT),
]


@pytest.mark.parametrize("payload_type,record_type", [
    (CuePayload, Cue), (MetricsPayload, RollingMetrics), (FatiguePayload, FatigueState),
    (StepPayload, StepMetrics), (SensorStatus, SensorHealth),
])
def test_every_record_field_is_on_the_wire(payload_type, record_type) -> None:
    # Records only ever gain fields; a new one must be added to the payload too (same major version).
    fields = {f.name for f in dataclasses.fields(record_type)} - {"runner"}
    assert fields <= set(payload_type.model_fields)


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_records_round_trip_through_json_with_schema_and_wall_time(record) -> None:
    payload = payload_of(record, session_id="s1", start_unix_s=1_700_000_000.0)
    raw = payload.to_json()
    assert raw.startswith(b'{"schema":"sensorkit.')
    back = decode(raw)
    assert back == payload and back.runner == "ann" and back.session_id == "s1"
    assert back.unix_s == pytest.approx(1_700_000_100.0)


def test_readers_ignore_fields_added_later_but_reject_other_versions() -> None:
    raw = payload_of(RECORDS[0], start_unix_s=0.0).to_json()
    newer = raw[:-1] + b',"added_in_1_1":true}'
    assert isinstance(decode(newer), CuePayload)
    with pytest.raises(ValidationError):
        decode(raw.replace(b"sensorkit.cue/1", b"sensorkit.cue/2"))


def test_topics_name_runner_kind_and_gateway_and_parse_back() -> None:
    assert runner_topic("ann", Kind.CUE) == "sensorkit/v1/runner/ann/cue"
    assert gateway_topic("pi-4") == "sensorkit/v1/gateway/pi-4/status"
    odd = runner_topic("a/b+#", Kind.METRICS, prefix="club/track")
    assert odd == "club/track/v1/runner/a%2Fb%2B%23/metrics"
    assert parse_topic(odd, prefix="club/track") == TopicRef("runner", "a/b+#", Kind.METRICS)
    assert parse_topic("sensorkit/v1/gateway/pi/status") == TopicRef("gateway", "pi", Kind.STATUS)
    assert parse_topic("sensorkit/v1/gateway/pi/cue") is None
    assert parse_topic("other/v1/runner/ann/cue") is None
    assert subscription(kind=Kind.STATUS) == ["sensorkit/v1/runner/+/status", "sensorkit/v1/gateway/+/status"]


def test_sensor_health_becomes_sensor_status() -> None:
    h = SensorHealth("ann", "ann/lower_back", Placement.LOWER_BACK, 5.0, True, packets=10, battery_pct=80.0)
    s = SensorStatus.model_validate(dataclasses.asdict(h))
    assert s.placement is Placement.LOWER_BACK and s.battery_pct == 80.0
