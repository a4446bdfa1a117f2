"""A small but complete session for InfluxDB tests, and the points the schema says it must give.

``expected_points`` is written from docs/influxdb.md, independently of the sink's encoder, so a
round trip through a real server checks the documented schema, not the code against itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import Sequence
from enum import Enum
from typing import Any

import numpy as np

from sensorkit.model import (
    BusItem,
    Calibration,
    Cue,
    CueKind,
    EventKind,
    FatigueState,
    Gap,
    MarkerKind,
    Placement,
    PostureSample,
    RollingMetrics,
    RunnerInfo,
    SampleBlock,
    SensorHealth,
    SensorInfo,
    SessionInfo,
    SessionMarker,
    Side,
    SpeedSample,
    StepEvent,
    StepMetrics,
    StrikeClass,
    to_row,
)
from sensorkit.pipeline.channel import Channel

Key = tuple[str, tuple[tuple[str, str], ...], int]
"""(measurement, sorted tags, timestamp ns)."""


def make_info(session_id: str = "s-test", runners: Sequence[str] = ("alice", "bob"),
              start_unix_s: float | None = None, rate_hz: float = 100.0) -> SessionInfo:
    sensors = []
    for r in runners:
        sensors.append(SensorInfo(f"{r}/lower_back", r, Placement.LOWER_BACK, rate_hz, device="polar_verity"))
        sensors.append(SensorInfo(f"{r}/left_foot", r, Placement.LEFT_FOOT, rate_hz,
                                  device="sensorkit pod, v2\\beta", has_mag=True))
    start = time.time() - 3600 if start_unix_s is None else start_unix_s
    return SessionInfo(session_id, start, tuple(RunnerInfo(r) for r in runners), tuple(sensors), "test")


def make_items(info: SessionInfo, duration_s: float = 6.0, block_len: int = 25,
               seed: int = 1) -> list[BusItem]:
    """Raw blocks of every sensor (full-precision random values) and records of every type."""
    rng = np.random.default_rng(seed)
    items: list[BusItem] = []
    for s in info.sensors:
        n = int(duration_s * s.sampling_rate_hz)
        for b in range(0, n, block_len):
            idx = np.arange(b, min(n, b + block_len))
            t = idx / s.sampling_rate_hz + 0.0001234
            mag = rng.normal(0, 40, (len(idx), 3)) if s.has_mag else None
            items.append(SampleBlock(s.sensor_id, t, rng.normal(0, 1.5, (len(idx), 3)),
                                     rng.normal(0, 300, (len(idx), 3)), mag))
        items.append(Gap(s.sensor_id, 2.0, 2.25, "link lost", 25))
        items.append(SensorHealth(s.runner, s.sensor_id, s.placement, 1.0, True, 50, 100, 0, 0, 0, 0, 0,
                                  87.5, 1.25))
        items.append(Calibration(s.runner, s.sensor_id, 0.5, tuple(float(x) for x in rng.normal(size=9)),
                                 "standing", 1.5))
    for r in info.runners:
        name = r.name
        items.append(SessionMarker(name, 0.0, MarkerKind.START, info.session_id))
        for i in range(int(duration_s * 2.8)):
            t = 0.3 + i / 2.8
            side = Side.LEFT if i % 2 == 0 else Side.RIGHT
            items.append(StepEvent(name, t, EventKind.INITIAL_CONTACT, side, f"{name}/left_foot",
                                   Placement.LEFT_FOOT))
            items.append(StepMetrics(name, t, side, 0.357, 168.0 + i, 170.25, 245.5, 110.0, 0.345,
                                     float(rng.uniform(2, 4)), 80.5, i == 3, 8.5,
                                     None if i == 2 else 12.5, StrikeClass.REARFOOT, 6.25, 3.4,
                                     "lower_back+left_foot"))
        for sec in range(1, int(duration_s) + 1):
            items.append(RollingMetrics(name, float(sec), 10.0, 28, 170.0, 240.0, None, 0.35, 3.1, 80.0, 8.0,
                                        6.0, -1.5, 49.5, 80.0, 15.0, 5.0, 3.3, 3.3 * sec, True))
            items.append(FatigueState(name, float(sec), 12.5 * sec, sec > 2,
                                      {"cadence": 10.0, "contact time": 2.5 * sec}))
            items.append(SpeedSample(f"{name}/lower_back", float(sec) + 0.5, 3.3, 170.0, 1.16, 3.3 * sec,
                                     "gps"))
        for k in range(int(duration_s * 10)):
            items.append(PostureSample(name, k / 10 + 0.05, 5.0 + k / 100, None if k % 7 == 0 else -1.25))
        items.append(Cue(name, 4.0, CueKind.TRUNK_LEAN, 'Stand "tall", relax shoulders\\ now', 2, 9.0, 3.9,
                         "trunk_lean_deg", 12.5, 6.0, "en"))
        items.append(Cue(name, 5.0, CueKind.IMPACT, "Kürzere Schritte = weniger Aufprall", 1, 10.0, 4.8,
                         "impact_g", None, None, "de"))
        items.append(SessionMarker(name, duration_s, MarkerKind.STOP, info.session_id))
    items.sort(key=lambda x: x.start_s if isinstance(x, SampleBlock | Gap) else x.time_s)
    return items


def _ts(info: SessionInfo, time_s: float) -> int:
    whole = math.floor(info.start_unix_s)
    return whole * 1_000_000_000 + round((info.start_unix_s - whole) * 1e6) * 1000 + round(time_s * 1e9)


def expected_points(info: SessionInfo, items: Sequence[BusItem],
                    raw_imu: str = "full") -> dict[Key, dict[str, Any]]:
    """The documented schema applied by hand: (measurement, tags, ts) -> fields."""
    names = {StepEvent: "events", StepMetrics: "steps", RollingMetrics: "rolling", PostureSample: "posture",
             FatigueState: "fatigue", Cue: "cues", SensorHealth: "health", SessionMarker: "markers",
             Calibration: "calibration", Gap: "gaps", SpeedSample: "speed"}
    out: dict[Key, dict[str, Any]] = {}

    def sensor_tags(sensor_id: str) -> dict[str, str]:
        s = info.sensor(sensor_id)
        return {"runner": s.runner, "session": info.session_id, "sensor": sensor_id,
                "placement": s.placement.value, "device": s.device}

    for item in items:
        if isinstance(item, SampleBlock):
            if raw_imu != "full":
                continue
            tags = tuple(sorted(sensor_tags(item.sensor_id).items()))
            for i in range(len(item)):
                f = dict(zip(("ax", "ay", "az"), item.acc_g[i].tolist(), strict=True))
                if item.gyr_dps is not None:
                    f |= dict(zip(("gx", "gy", "gz"), item.gyr_dps[i].tolist(), strict=True))
                if item.mag_ut is not None:
                    f |= dict(zip(("mx", "my", "mz"), item.mag_ut[i].tolist(), strict=True))
                out[("imu", tags, _ts(info, float(item.time_s[i])))] = f
            continue
        row = to_row(item)
        sid = row.pop("sensor_id", None)
        tags = sensor_tags(sid) if sid else {"runner": row["runner"], "session": info.session_id}
        for k in ("runner", "session_id", "placement"):
            row.pop(k, None)
        if isinstance(item, StepMetrics | StepEvent):
            tags["side"] = row.pop("side")
        if isinstance(item, Cue):
            tags["kind"] = row.pop("kind")
        if isinstance(item, Gap):
            t = row.pop("start_s")
            row["duration_s"] = row.pop("end_s") - t
        else:
            t = row.pop("time_s")
        if isinstance(item, FatigueState):
            row |= {f"component_{k}": v for k, v in row.pop("components").items()}
        if isinstance(item, Calibration):
            row |= {f"r{i}": v for i, v in enumerate(row.pop("sf_to_bf"))}
        fields = {k: (v.value if isinstance(v, Enum) else v) for k, v in row.items() if v is not None}
        out[(names[type(item)], tuple(sorted(tags.items())), _ts(info, t))] = fields
    return out


def field_names(t: type) -> list[str]:
    return [f.name for f in dataclasses.fields(t)]


async def feed_live(items: Sequence[BusItem], channel: Channel[Any], accepts: tuple[type, ...]) -> None:
    """Hand ``items`` to a sink's channel when their host time comes, as the bus would (never
    waiting for room), then close it."""
    t0 = time.monotonic()
    for item in items:
        due = item.start_s if isinstance(item, SampleBlock | Gap) else item.time_s  # type: ignore[union-attr]
        delay = t0 + due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if isinstance(item, accepts):
            channel.send_nowait(item)
    channel.close()
