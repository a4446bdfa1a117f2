"""Sensor Logger push messages (HTTP and MQTT share the schema) -> :class:`PhoneBatch`.

The app sends ``{"messageId", "sessionId", "deviceId", "payload": [{"name", "time",
"values": {...}}, ...]}`` once per batch period; ``time`` is UTC epoch nanoseconds; values
are m/s^2, rad/s and uT (see tszheichoi/awesome-sensor-logger, PUSHING.md, UNITS.md,
COORDINATES.md). Units and axis signs are converted here, at the edge:

* ``totalacceleration`` (Android) is specific force -> ACC; ``accelerometer`` is user
  acceleration without gravity -> LINEAR_ACC, combined with ``gravity`` downstream;
* iOS reports acceleration and gravity with all three signs flipped (unless the app's
  "Standardise Units & Frames" is on): ``platform="ios"`` flips them back;
* ``gyroscope`` rad/s -> deg/s; ``magnetometer`` uT; ``location`` -> :class:`GpsFix`
  (negative speed/accuracy mean invalid); ``battery`` level 0-1 -> percent.

Readings of other sensors are ignored; a malformed message raises :class:`DecodeError`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sensorkit.errors import DecodeError
from sensorkit.sources.phone.batch import (
    DEG_PER_RAD,
    STANDARD_GRAVITY_MPS2,
    Channel,
    ChannelData,
    GpsFix,
    PhoneBatch,
    to_units,
)

NS = 1e-9
_MAX_TIME_NS = 4_102_444_800 * 10**9  # 2100-01-01: anything later is garbage

_XYZ: dict[str, tuple[Channel, float, bool]] = {
    # name: (channel, scale to sensorkit units, sign flips on iOS)
    "totalacceleration": (Channel.ACC, 1 / STANDARD_GRAVITY_MPS2, True),
    "accelerometer": (Channel.LINEAR_ACC, 1 / STANDARD_GRAVITY_MPS2, True),
    "gravity": (Channel.GRAVITY, 1 / STANDARD_GRAVITY_MPS2, True),
    "gyroscope": (Channel.GYR, DEG_PER_RAD, False),
    "magnetometer": (Channel.MAG, 1.0, False),
}


class Reading(BaseModel):
    """One entry of ``payload``; unknown keys (``accuracy``...) are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(max_length=64)
    time: int = Field(ge=0, le=_MAX_TIME_NS)
    values: dict[str, float | int | str | bool | None] = Field(default_factory=dict, max_length=64)


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    messageId: int = Field(ge=0)  # the app's camelCase keys
    sessionId: str = Field("", max_length=128)
    deviceId: str = Field("", max_length=128)
    payload: list[Reading]


def _finite(values: Mapping[str, Any], key: str) -> float | None:
    v = values.get(key)
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def decode_message(raw: bytes | str, *, platform: Literal["android", "ios"] = "android",
                   max_readings: int = 50_000) -> tuple[PhoneBatch, int]:
    """Parse one pushed message; returns the batch and the number of readings skipped as invalid.

    Raises :class:`DecodeError` for anything that is not a Sensor Logger message.
    """
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise DecodeError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise DecodeError("not a JSON object")
    payload = doc.get("payload")
    if isinstance(payload, list) and len(payload) > max_readings:
        raise DecodeError(f"{len(payload)} readings, more than the limit of {max_readings}")
    try:
        msg = Message.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DecodeError(f"invalid message: {where}: {first['msg']} ({exc.error_count()} errors)") from None
    return readings_to_batch(msg.payload, platform=platform, message_id=msg.messageId,
                             session_id=msg.sessionId, device_id=msg.deviceId)


def readings_to_batch(readings: list[Reading], *, platform: Literal["android", "ios"] = "android",
                      message_id: int | None = None, session_id: str | None = None,
                      device_id: str | None = None) -> tuple[PhoneBatch, int]:
    """Group readings by sensor into channels (vectorised per channel)."""
    times: dict[Channel, list[int]] = {}
    vals: dict[Channel, list[tuple[float, float, float]]] = {}
    fixes: list[GpsFix] = []
    battery_pct: float | None = None
    skipped = 0
    for r in readings:
        name = r.name.lower()
        if name in _XYZ:
            ch = _XYZ[name][0]
            x, y, z = (_finite(r.values, k) for k in ("x", "y", "z"))
            if x is None or y is None or z is None:
                skipped += 1
                continue
            times.setdefault(ch, []).append(r.time)
            vals.setdefault(ch, []).append((x, y, z))
        elif name == "location":
            lat, lon = _finite(r.values, "latitude"), _finite(r.values, "longitude")
            if lat is None or lon is None:
                skipped += 1
                continue
            speed = _finite(r.values, "speed")
            acc = _finite(r.values, "horizontalAccuracy")
            fixes.append(GpsFix(r.time * NS, lat, lon,
                                speed if speed is not None and speed >= 0 else None,
                                acc if acc is not None and acc >= 0 else None))
        elif name == "battery":
            level = _finite(r.values, "batteryLevel")
            if level is not None and 0 <= level <= 1:
                battery_pct = 100.0 * level
    channels: dict[Channel, ChannelData] = {}
    for ch, scale, ios_flip in _XYZ.values():
        if ch not in times:
            continue
        sign = -1.0 if (ios_flip and platform == "ios") else 1.0
        t = np.asarray(times[ch], dtype=np.int64)
        data, out_of_range = to_units(t.astype(np.float64) * NS, np.asarray(vals[ch]), scale * sign)
        skipped += out_of_range
        if len(data):
            channels[ch] = data
    batch = PhoneBatch(channels, tuple(fixes), message_id, session_id, device_id, battery_pct)
    return batch, skipped
