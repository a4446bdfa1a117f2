"""The vocabulary every stage speaks: samples, records, sensors and sessions."""

from __future__ import annotations

import dataclasses
import functools
from enum import Enum
from typing import Any

import numpy as np

from sensorkit.model.records import (
    Calibration,
    Cue,
    CueKind,
    EventKind,
    FatigueState,
    MarkerKind,
    PostureSample,
    RollingMetrics,
    SensorHealth,
    SessionMarker,
    StepEvent,
    StepMetrics,
    StrikeClass,
)
from sensorkit.model.samples import Gap, SampleBlock, SpeedSample
from sensorkit.model.sensors import PhoneWear, Placement, RunnerInfo, SensorInfo, Side
from sensorkit.model.session import SessionInfo

Record = (
    StepEvent | StepMetrics | RollingMetrics | PostureSample | FatigueState | Cue | SensorHealth
    | SessionMarker | Calibration
)
"""Derived records that travel on the event/metric bus."""

SourceItem = SampleBlock | Gap | SpeedSample | SensorHealth
"""What a source yields."""

BusItem = SampleBlock | Gap | SpeedSample | Record
"""Everything a sink may receive."""

RECORD_TYPES: tuple[type, ...] = (
    StepEvent, StepMetrics, RollingMetrics, PostureSample, FatigueState, Cue, SensorHealth,
    SessionMarker, Calibration,
)

RECORD_NAMES: dict[type, str] = {
    StepEvent: "events",
    StepMetrics: "steps",
    RollingMetrics: "rolling",
    PostureSample: "posture",
    FatigueState: "fatigue",
    Cue: "cues",
    SensorHealth: "health",
    SessionMarker: "markers",
    Calibration: "calibration",
    Gap: "gaps",
    SpeedSample: "speed",
}
"""Stable table names used by recordings, exports, InfluxDB measurements and MQTT topics."""


def to_row(record: Any) -> dict[str, Any]:
    """Flat JSON-ready dict of a record: enums as their values, numpy scalars as Python numbers.

    Every sink serialises through this, so a stage that hands over ``np.float64`` still
    produces ``3.1`` in files and payloads, not ``np.float64(3.1)``.
    """
    out: dict[str, Any] = {}
    for name in field_names(record.__class__):
        v = getattr(record, name)
        if type(v) in _PLAIN:  # the common case first (exact types: a StrEnum is a str too)
            pass
        elif isinstance(v, Enum):
            v = v.value
        elif isinstance(v, np.generic):
            v = v.item()
        elif isinstance(v, dict):
            v = {k: (x.item() if isinstance(x, np.generic) else x) for k, x in v.items()}
        out[name] = v
    return out


_PLAIN = frozenset((float, str, int, bool, type(None)))


@functools.cache
def field_names(cls: type) -> tuple[str, ...]:
    """A record type's field names in ``to_row``'s order, looked up once (sinks ask per record)."""
    return tuple(f.name for f in dataclasses.fields(cls))


__all__ = [
    "RECORD_NAMES",
    "RECORD_TYPES",
    "BusItem",
    "Calibration",
    "Cue",
    "CueKind",
    "EventKind",
    "FatigueState",
    "Gap",
    "MarkerKind",
    "PhoneWear",
    "Placement",
    "PostureSample",
    "Record",
    "RollingMetrics",
    "RunnerInfo",
    "SampleBlock",
    "SensorHealth",
    "SensorInfo",
    "SessionInfo",
    "SessionMarker",
    "Side",
    "SourceItem",
    "SpeedSample",
    "StepEvent",
    "StepMetrics",
    "StrikeClass",
    "field_names",
    "to_row",
]
