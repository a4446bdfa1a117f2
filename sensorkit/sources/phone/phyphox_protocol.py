"""phyphox remote access: the JSON of ``/config``, ``/time`` and ``/get``, and incremental queries.

From the phyphox wiki (Remote-interface communication) and phyphox-android RemoteServer:

* ``/config`` lists the experiment's inputs: ``{"inputs": [{"source": "accelerometer",
  "outputs": [{"x": "accX"}, {"y": "accY"}, {"z": "accZ"}, {"t": "acc_time"}]}, ...]}``;
  location inputs have ``lat``/``lon``/``v``/``t``/``accuracy`` outputs.
* ``/get?acc_time=12.5&accX=12.5|acc_time`` returns the values whose ``acc_time`` is above
  12.5 (``updateMode: "partial"``); an empty value returns only the last value (``single``);
  ``full`` (or a forced full update after the user cleared data) returns everything.
  ``{"buffer": {name: {"size", "updateMode", "buffer": [...]}}, "status": {"session",
  "measuring", "timedRun", "countDown"}}``; values carry 8 significant digits; NaN is null.
* ``/time`` (since 1.1.8) lists ``{"event": "START"|"PAUSE", "experimentTime",
  "systemTime"}``: experiment time stands still while paused, so samples are mapped to the
  phone's wall clock (``systemTime``, unix seconds) through the last START before them.

Units: m/s^2, rad/s, uT, Android axis signs (phyphox keeps them on iOS too).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sensorkit.errors import DecodeError
from sensorkit.sources.phone.batch import (
    DEG_PER_RAD,
    F64,
    STANDARD_GRAVITY_MPS2,
    Channel,
    ChannelData,
    GpsFix,
    PhoneBatch,
    to_units,
)

SENSORS: dict[str, tuple[Channel, float]] = {
    "accelerometer": (Channel.ACC, 1 / STANDARD_GRAVITY_MPS2),
    "linear_acceleration": (Channel.LINEAR_ACC, 1 / STANDARD_GRAVITY_MPS2),
    "gravity": (Channel.GRAVITY, 1 / STANDARD_GRAVITY_MPS2),
    "gyroscope": (Channel.GYR, DEG_PER_RAD),
    "magnetic_field": (Channel.MAG, 1.0),
}


@dataclass(frozen=True, slots=True)
class BufferSet:
    """The buffers one phyphox sensor input writes to."""

    channel: Channel
    scale: float
    t: str
    xyz: tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class GpsBuffers:
    t: str
    lat: str
    lon: str
    speed: str | None = None
    accuracy: str | None = None


@dataclass(frozen=True, slots=True)
class Layout:
    sets: tuple[BufferSet, ...]
    gps: GpsBuffers | None = None

    @property
    def time_buffers(self) -> list[str]:
        out = [s.t for s in self.sets]
        if self.gps:
            out.append(self.gps.t)
        return out


DEFAULT_LAYOUT = Layout((
    BufferSet(Channel.ACC, 1 / STANDARD_GRAVITY_MPS2, "acc_time", ("accX", "accY", "accZ")),
    BufferSet(Channel.GYR, DEG_PER_RAD, "gyr_time", ("gyrX", "gyrY", "gyrZ")),
))
"""Buffer names of phyphox's raw-sensor experiments, used when ``/config`` is unavailable."""


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Input(_Loose):
    source: str = Field(max_length=64)
    outputs: list[dict[str, str]] = Field(default_factory=list, max_length=32)


class _Config(_Loose):
    inputs: list[_Input] = Field(default_factory=list, max_length=64)


def _load(raw: bytes | str, what: str) -> object:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise DecodeError(f"phyphox {what}: not JSON: {exc}") from None


def layout_from_config(raw: bytes | str) -> Layout:
    """Which buffers hold which sensor, from the ``/config`` answer."""
    try:
        cfg = _Config.model_validate(_load(raw, "/config"))
    except ValidationError as exc:
        raise DecodeError(f"phyphox /config: {exc.errors()[0]['msg']}") from None
    sets: list[BufferSet] = []
    gps: GpsBuffers | None = None
    for inp in cfg.inputs:
        out: dict[str, str] = {}
        for o in inp.outputs:
            out.update(o)
        if inp.source in SENSORS and all(k in out for k in ("x", "y", "z", "t")):
            ch, scale = SENSORS[inp.source]
            sets.append(BufferSet(ch, scale, out["t"], (out["x"], out["y"], out["z"])))
        elif inp.source == "location" and all(k in out for k in ("lat", "lon", "t")):
            gps = GpsBuffers(out["t"], out["lat"], out["lon"], out.get("v"), out.get("accuracy"))
    if not sets:
        raise DecodeError("phyphox /config: the experiment has no accelerometer input with a time buffer "
                          "(use e.g. 'Acceleration with g' or a custom experiment)")
    return Layout(tuple(sets), gps)


@dataclass(frozen=True, slots=True)
class TimeMap:
    """Experiment time -> phone system time through the START events of ``/time``."""

    starts_exp_s: F64 = field(default_factory=lambda: np.empty(0))
    starts_sys_s: F64 = field(default_factory=lambda: np.empty(0))

    def to_system(self, t: F64) -> F64:
        if self.starts_exp_s.size == 0:
            return t  # no /time (phyphox < 1.1.8): experiment time is the device clock
        i = np.clip(np.searchsorted(self.starts_exp_s, t, side="right") - 1, 0, None)
        return self.starts_sys_s[i] + (t - self.starts_exp_s[i])


def parse_time(raw: bytes | str) -> TimeMap:
    doc = _load(raw, "/time")
    if not isinstance(doc, list):
        raise DecodeError("phyphox /time: not a list")
    exp, sys_ = [], []
    for ev in doc[:10_000]:
        if not isinstance(ev, dict) or ev.get("event") != "START":
            continue
        e, s = ev.get("experimentTime"), ev.get("systemTime")
        if not (isinstance(e, int | float) and isinstance(s, int | float)):
            continue
        if math.isfinite(e) and math.isfinite(s):
            exp.append(float(e))
            sys_.append(float(s))
    order = np.argsort(exp, kind="stable")
    return TimeMap(np.asarray(exp)[order], np.asarray(sys_)[order])


class BufferPayload(_Loose):
    size: int = 0
    updateMode: str = Field("partial", max_length=16)  # the app's camelCase keys
    buffer: list[float | None] = Field(default_factory=list)


class Status(_Loose):
    session: str = Field("", max_length=128)
    measuring: bool = False
    timedRun: bool = False
    countDown: float = 0.0


class GetResponse(_Loose):
    buffer: dict[str, BufferPayload] = Field(default_factory=dict, max_length=256)
    status: Status = Field(default_factory=Status)


def parse_get(raw: bytes | str) -> GetResponse:
    try:
        return GetResponse.model_validate(_load(raw, "/get"))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise DecodeError(f"phyphox /get: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def get_query(layout: Layout, thresholds: dict[str, float | None]) -> list[tuple[str, str]]:
    """Query of an incremental ``/get``: values after each time buffer's last seen time.

    A time buffer without a threshold yet asks only for its last value (joining a running
    measurement must not download its whole history).
    """
    q: list[tuple[str, str]] = []

    def add(t: str, names: list[str]) -> None:
        th = thresholds.get(t)
        q.append((t, "" if th is None else repr(th)))
        for n in names:
            q.append((n, "" if th is None else f"{th!r}|{t}"))

    for s in layout.sets:
        add(s.t, list(s.xyz))
    if layout.gps:
        g = layout.gps
        add(g.t, [n for n in (g.lat, g.lon, g.speed, g.accuracy) if n])
    return q


def _column(resp: GetResponse, name: str) -> tuple[F64, str] | None:
    b = resp.buffer.get(name)
    if b is None:
        return None
    arr = np.array([np.nan if v is None else v for v in b.buffer], dtype=np.float64)
    return arr, b.updateMode


def extract(resp: GetResponse, layout: Layout, thresholds: dict[str, float | None],
            time_map: TimeMap) -> PhoneBatch:
    """Samples of one ``/get`` answer; advances ``thresholds`` in place."""
    channels: dict[Channel, ChannelData] = {}
    for s in layout.sets:
        cols = [_column(resp, n) for n in (s.t, *s.xyz)]
        if any(c is None for c in cols):
            continue
        arrays = [c[0] for c in cols if c is not None]
        t = arrays[0]
        if t.size and np.isfinite(t).any():
            thresholds[s.t] = float(np.nanmax(t))
        if cols[0] is not None and cols[0][1] == "single":
            continue
        n = min(a.size for a in arrays)
        t, xyz = t[:n], np.stack([a[:n] for a in arrays[1:]], axis=1)
        ok = np.isfinite(t) & np.isfinite(xyz).all(axis=1)
        if ok.any():
            data, _ = to_units(time_map.to_system(t[ok]), xyz[ok], s.scale)
            if len(data):
                channels[s.channel] = data
    fixes: tuple[GpsFix, ...] = ()
    if layout.gps:
        fixes = _gps(resp, layout.gps, thresholds, time_map)
    return PhoneBatch(channels, fixes)


def _gps(resp: GetResponse, g: GpsBuffers, thresholds: dict[str, float | None],
         time_map: TimeMap) -> tuple[GpsFix, ...]:
    t_col, lat_col, lon_col = _column(resp, g.t), _column(resp, g.lat), _column(resp, g.lon)
    if t_col is None or lat_col is None or lon_col is None:
        return ()
    t = t_col[0]
    if t.size and np.isfinite(t).any():
        thresholds[g.t] = float(np.nanmax(t))
    if t_col[1] == "single":
        return ()
    sp = _column(resp, g.speed) if g.speed else None
    ac = _column(resp, g.accuracy) if g.accuracy else None
    n = min(t.size, lat_col[0].size, lon_col[0].size)
    sys_t = time_map.to_system(t[:n])
    fixes = []
    for i in range(n):  # GPS: about one fix per second, a loop is fine
        lat, lon = float(lat_col[0][i]), float(lon_col[0][i])
        if not (math.isfinite(float(sys_t[i])) and math.isfinite(lat) and math.isfinite(lon)):
            continue
        speed = float(sp[0][i]) if sp is not None and i < sp[0].size and math.isfinite(sp[0][i]) else None
        acc = float(ac[0][i]) if ac is not None and i < ac[0].size and math.isfinite(ac[0][i]) else None
        fixes.append(GpsFix(float(sys_t[i]), lat, lon, speed if speed is None or speed >= 0 else None,
                            acc if acc is None or acc >= 0 else None))
    return tuple(fixes)
