"""The InfluxDB schema: which measurement, tags and fields each bus item becomes.

Documented for users in docs/influxdb.md. Measurements are the stable table names of
:data:`sensorkit.model.RECORD_NAMES` plus ``imu`` for raw samples. Every point carries the tags
``runner`` and ``session``; points about one sensor add ``sensor``, ``placement`` and ``device``.
Timestamps are wall-clock nanoseconds of the aligned host timeline:
``SessionInfo.start_unix_s + time_s``, computed in integers so no float rounding creeps in.
Field types are fixed per record field (a float field stays float even when a stage hands in
an ``int``), because InfluxDB refuses a field whose type changes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sensorkit.model import (
    RECORD_NAMES,
    BusItem,
    Calibration,
    Cue,
    FatigueState,
    Gap,
    SampleBlock,
    SessionInfo,
    StepEvent,
    StepMetrics,
)
from sensorkit.store.influx.lineproto import FieldValue, format_point, format_rows, tag_set
from sensorkit.store.influx.settings import RawImuMode

IMU_MEASUREMENT = "imu"
IMU_FIELDS = ("ax", "ay", "az", "gx", "gy", "gz", "mx", "my", "mz")
"""Raw IMU fields: acc in g (``a*``), angular rate in deg/s (``g*``), magnetic field in uT (``m*``)."""

EXTRA_TAGS: dict[type, tuple[str, ...]] = {StepMetrics: ("side",), StepEvent: ("side",), Cue: ("kind",)}
"""Record fields promoted to tags (beyond runner/session/sensor), because dashboards group by them."""

_DROP = {"runner", "time_s", "sensor_id", "session_id", "placement"}


@dataclass(frozen=True, slots=True)
class Encoded:
    """Line-protocol bytes (newline-terminated lines) and how many points they hold."""

    data: bytes
    points: int


@dataclass(frozen=True, slots=True, eq=False)
class RawPart:
    """Raw IMU samples of one block, formatted later together with the rest of their batch.

    Formatting is vectorised, and its fixed cost per call is far above the cost per point, so
    blocks of 8 samples are gathered and formatted a batch at a time (off the event loop).
    """

    series: int
    """Index into :attr:`PointEncoder.series_tags`."""
    names: tuple[str, ...]
    block: SampleBlock
    """The block itself (immutable by contract): no numpy work on the event loop."""
    start_ns: int
    keep: NDArray[np.intp] | None = None
    """Indices of the samples to write (downsampling), or None for all."""

    @property
    def points(self) -> int:
        return len(self.block) if self.keep is None else int(self.keep.shape[0])


def format_raw_parts(parts: Sequence[RawPart], series_tags: Sequence[str]) -> bytes:
    """Line protocol of many raw parts, one vectorised call per field set."""
    groups: dict[tuple[str, ...], list[RawPart]] = {}
    for part in parts:
        groups.setdefault(part.names, []).append(part)
    out = []
    for names, group in groups.items():
        idx = np.repeat(np.array([p.series for p in group], dtype=np.int32), [p.points for p in group])
        times, values = [], []
        for p in group:
            b, k = p.block, p.keep
            chans = [b.acc_g] + [c for c in (b.gyr_dps, b.mag_ut) if c is not None]
            v = np.hstack(chans) if len(chans) > 1 else chans[0]
            times.append(b.time_s if k is None else b.time_s[k])
            values.append(v if k is None else v[k])
        ts = group[0].start_ns + np.rint(np.concatenate(times) * 1e9).astype(np.int64)
        data, _ = format_rows(IMU_MEASUREMENT, series_tags, idx, names, np.concatenate(values), ts)
        out.append(data)
    return b"".join(out)


def start_ns(info: SessionInfo) -> int:
    """Host-timeline zero in integer nanoseconds since the Unix epoch, rounded to the microsecond.

    A float near 1.7e9 s resolves only ~0.24 us, so digits below the microsecond are noise;
    rounding them away makes the same session give the same timestamps everywhere.
    """
    whole = math.floor(info.start_unix_s)
    return int(whole) * 1_000_000_000 + round((info.start_unix_s - whole) * 1e6) * 1000


def _caster(annotation: object) -> Callable[[Any], FieldValue]:
    text = str(annotation)
    if "bool" in text:
        return lambda v: None if v is None else bool(v)
    if "float" in text:
        return lambda v: None if v is None else float(v)
    if "int" in text:
        return lambda v: None if v is None else int(v)
    return _generic


def _generic(v: Any) -> FieldValue:
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, Enum):
        return str(v.value)
    if isinstance(v, np.generic):
        return v.item()
    return str(v)


_CASTERS: dict[type, dict[str, Callable[[Any], FieldValue]]] = {}


def _casters(t: type) -> dict[str, Callable[[Any], FieldValue]]:
    c = _CASTERS.get(t)
    if c is None:
        c = {f.name: _caster(f.type) for f in dataclasses.fields(t)} if dataclasses.is_dataclass(t) else {}
        _CASTERS[t] = c
    return c


def record_fields(item: Any) -> dict[str, FieldValue]:
    """The fields of one record (everything but its tags and time), typed per the schema."""
    t = type(item)
    casters = _casters(t)
    promoted = EXTRA_TAGS.get(t, ())
    out: dict[str, FieldValue] = {}
    for name in casters:
        if name in _DROP or name in promoted:
            continue
        value = getattr(item, name)
        if isinstance(item, FatigueState) and name == "components":
            for k, v in sorted(value.items()):
                out[f"component_{k}"] = float(v)
        elif isinstance(item, Calibration) and name == "sf_to_bf":
            for i, v in enumerate(value):
                out[f"r{i}"] = float(v)
        elif isinstance(item, Gap) and name in ("start_s", "end_s"):
            if name == "end_s":
                out["duration_s"] = float(item.end_s - item.start_s)
        elif isinstance(value, Enum):
            out[name] = str(value.value)
        else:
            out[name] = casters[name](value)
    return out


class PointEncoder:
    """Turns bus items of one session into line protocol; keeps per-sensor downsampling state.

    Not thread-safe and cheap: it runs in the sink's reader, between channel receives.
    """

    def __init__(self, info: SessionInfo, raw_imu: RawImuMode = RawImuMode.DOWNSAMPLED,
                 raw_imu_rate_hz: float = 10.0, numeric_fields_only: bool = False) -> None:
        self.info = info
        self.numeric_fields_only = numeric_fields_only
        self.raw_imu = raw_imu
        self.raw_imu_rate_hz = raw_imu_rate_hz
        self._start_ns = start_ns(info)
        self._sensor_tags: dict[str, dict[str, str]] = {}
        self._series_of: dict[str, int] = {}
        self.series_tags: list[str] = []
        """Tag sets of raw IMU series; :attr:`RawPart.series` indexes it (append-only)."""
        self._last_bucket: dict[str, int] = {}
        self.skipped: dict[str, int] = {}
        """Items that became no point, by reason (counted, never raised)."""

    def ts_ns(self, time_s: float) -> int:
        return self._start_ns + round(time_s * 1e9)

    def _sensor(self, sensor_id: str, runner_hint: str = "") -> dict[str, str]:
        """Tags of one sensor; an unknown sensor keeps its id and the record's runner."""
        tags = self._sensor_tags.get(sensor_id)
        if tags is None:
            try:
                s = self.info.sensor(sensor_id)
                tags = {"runner": s.runner, "placement": s.placement.value, "device": s.device}
            except KeyError:
                tags = {"runner": runner_hint}
                self._skip("unknown_sensor_tagged_partially")
            tags |= {"session": self.info.session_id, "sensor": sensor_id}
            self._sensor_tags[sensor_id] = tags
        return tags

    def _skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def encode_bytes(self, item: BusItem) -> Encoded | None:
        """Like :meth:`encode` but always formatted now (for tests and one-off use)."""
        out = self.encode(item)
        if isinstance(out, RawPart):
            return Encoded(format_raw_parts([out], self.series_tags), out.points)
        return out

    def encode(self, item: BusItem) -> Encoded | RawPart | None:
        """Line protocol for one record, a deferred :class:`RawPart` for a sample block, or None.

        Items that yield no point are counted in ``skipped``.
        """
        if isinstance(item, SampleBlock):
            return self._encode_block(item)
        measurement = RECORD_NAMES.get(type(item)) or type(item).__name__.lower()
        sensor_id = getattr(item, "sensor_id", None)
        runner = str(getattr(item, "runner", ""))
        if sensor_id is not None:
            tags = dict(self._sensor(sensor_id, runner))
        else:
            tags = {"runner": runner, "session": self.info.session_id}
        for k in EXTRA_TAGS.get(type(item), ()):
            v = getattr(item, k)
            tags[k] = str(v.value if isinstance(v, Enum) else v)
        time_s = item.start_s if isinstance(item, Gap) else getattr(item, "time_s", None)
        if time_s is None or not math.isfinite(time_s):
            self._skip("no_time")
            return None
        fields = record_fields(item)
        if self.numeric_fields_only:
            fields = {k: v for k, v in fields.items() if not isinstance(v, str)}
        line = format_point(measurement, tag_set(tags), fields, self.ts_ns(time_s))
        if line is None:
            self._skip("no_fields")
            return None
        return Encoded((line + "\n").encode(), 1)

    def _encode_block(self, block: SampleBlock) -> RawPart | None:
        if self.raw_imu is RawImuMode.OFF or len(block) == 0:
            return None
        keep = None
        if self.raw_imu is RawImuMode.DOWNSAMPLED:
            bucket = np.floor(block.time_s * self.raw_imu_rate_hz).astype(np.int64)
            prev = np.empty_like(bucket)
            prev[0] = self._last_bucket.get(block.sensor_id, np.iinfo(np.int64).min)
            prev[1:] = bucket[:-1]
            self._last_bucket[block.sensor_id] = max(int(bucket[-1]), int(prev[0]))
            keep = np.flatnonzero(bucket > prev)
            if not keep.size:
                return None
        names = IMU_FIELDS[:3] + (IMU_FIELDS[3:6] if block.gyr_dps is not None else ()) + (
            IMU_FIELDS[6:] if block.mag_ut is not None else ())
        series = self._series_of.get(block.sensor_id)
        if series is None:
            series = self._series_of[block.sensor_id] = len(self.series_tags)
            self.series_tags.append(tag_set(self._sensor(block.sensor_id)))
        return RawPart(series, names, block, self._start_ns, keep)
