"""Sensor Logger recordings: the zip (or unzipped folder) of CSVs, or the JSON export.

CSV layout (awesome-sensor-logger README/UNITS.md): one file per sensor, ``time`` (UTC epoch
ns), ``seconds_elapsed``, then the values (``z,y,x`` order, m/s^2, rad/s, uT);
``Location.csv`` has ``latitude``, ``longitude``, ``speed``, ``horizontalAccuracy``...;
``Metadata.csv`` names the platform. The JSON export is one array of records with a
``sensor`` key and the same fields as strings. Units and iOS axis signs are converted the way
the live push is (:mod:`sensorkit.sources.phone.sensorlogger`).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Literal

import numpy as np

from sensorkit.errors import InputFileError
from sensorkit.sources.phone.batch import (
    DEG_PER_RAD,
    STANDARD_GRAVITY_MPS2,
    Channel,
    GpsFix,
    to_units,
)
from sensorkit.sources.phone.imports.raw import RawExport
from sensorkit.sources.phone.imports.tables import ExportFiles, finite_rows, read_table

FILES: dict[str, tuple[Channel, float, bool]] = {
    # file stem (lower case): (channel, scale, flips sign on iOS)
    "totalacceleration": (Channel.ACC, 1 / STANDARD_GRAVITY_MPS2, True),
    "accelerometer": (Channel.LINEAR_ACC, 1 / STANDARD_GRAVITY_MPS2, True),
    "gravity": (Channel.GRAVITY, 1 / STANDARD_GRAVITY_MPS2, True),
    "gyroscope": (Channel.GYR, DEG_PER_RAD, False),
    "magnetometer": (Channel.MAG, 1.0, False),
}
NS = 1e-9


def looks_like(files: ExportFiles) -> bool:
    for stem in ("Accelerometer.csv", "TotalAcceleration.csv"):
        name = files.find(stem)
        if name is not None:
            head = files.read(name)[:200].split(b"\n", 1)[0]
            return b"seconds_elapsed" in head
    jsons = [n for n in files.names() if n.lower().endswith(".json")]
    if len(jsons) == 1:
        head = files.read(jsons[0])[:4096]
        return b'"seconds_elapsed"' in head and b'"sensor"' in head
    return False


def _metadata(files: ExportFiles) -> dict[str, str]:
    name = files.find("Metadata.csv")
    if name is None:
        return {}
    text = files.read(name).decode("utf-8-sig", errors="replace")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if len(rows) < 2:
        return {}
    return {k.strip().lower(): v.strip() for k, v in zip(rows[0], rows[1], strict=False)}


def read_sensorlogger(files: ExportFiles, platform: Literal["android", "ios"] | None = None) -> RawExport:
    """All motion and location data of one recording, units converted, on the phone clock."""
    meta = _metadata(files)
    if platform is None:
        platform = "ios" if meta.get("platform", "").lower() == "ios" else "android"
    raw = RawExport("sensorlogger", device=f"Sensor Logger ({meta.get('device name', 'phone')})")
    raw.notes = {f"sensorlogger.{k}": v for k, v in meta.items() if k and v}
    raw.notes["sensorlogger.sign_convention"] = platform
    csvs = {n.rsplit("/", 1)[-1].lower().removesuffix(".csv"): n for n in files.names() if n.lower().endswith(".csv")}
    if not csvs.keys() & (FILES.keys() | {"location"}):
        jsons = [n for n in files.names() if n.lower().endswith(".json")]
        if jsons:
            return _read_json(files, jsons[0], raw, platform)
        raise InputFileError(str(files.path), "no Sensor Logger sensor files (Accelerometer.csv, ...) found")
    for stem, (ch, scale, flips) in FILES.items():
        if stem not in csvs:
            continue
        t = read_table(files.read(csvs[stem]), files.where(csvs[stem]), ["time", "x", "y", "z"])
        time, x, y, z = (t.require(c) for c in ("time", "x", "y", "z"))
        sign = -1.0 if flips and platform == "ios" else 1.0
        data, skipped = to_units(time * NS, np.stack([x, y, z], axis=1), scale * sign)
        raw.add(ch, data)
        if skipped:
            raw.notes[f"sensorlogger.{stem}.skipped_rows"] = str(skipped)
    if "location" in csvs:
        _read_location(files, csvs["location"], raw)
    return raw


def _read_location(files: ExportFiles, name: str, raw: RawExport) -> None:
    t = read_table(files.read(name), files.where(name), ["time", "latitude", "longitude", "speed",
                                                         "horizontalAccuracy"])
    time, lat, lon = t.require("time"), t.require("latitude"), t.require("longitude")
    speed = t.columns.get("speed", np.full(len(t), np.nan))
    acc = t.columns.get("horizontalAccuracy", np.full(len(t), np.nan))
    for i in np.flatnonzero(finite_rows(time, lat, lon)):
        sp = float(speed[i]) if np.isfinite(speed[i]) and speed[i] >= 0 else None
        ac = float(acc[i]) if np.isfinite(acc[i]) and acc[i] >= 0 else None
        raw.fixes.append(GpsFix(float(time[i]) * NS, float(lat[i]), float(lon[i]), sp, ac))


def _num(rec: dict[str, Any], key: str, where: str, index: int) -> float:
    try:
        return float(rec[key])
    except (KeyError, TypeError, ValueError):
        raise InputFileError(where, f"record {index} ({rec.get('sensor')!r}): {key!r} is missing or not a number",
                             column=key) from None


def _optional(rec: dict[str, Any], key: str) -> float | None:
    """A non-negative number, or None (Sensor Logger marks invalid values negative)."""
    try:
        v = float(rec[key])
    except (KeyError, TypeError, ValueError):
        return None
    return v if np.isfinite(v) and v >= 0 else None


def _read_json(files: ExportFiles, name: str, raw: RawExport, platform: str) -> RawExport:
    where = files.where(name)
    try:
        doc = json.loads(files.read(name))
    except json.JSONDecodeError as exc:
        raise InputFileError(where, f"not JSON: {exc.msg}", line=exc.lineno) from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise InputFileError(where, f"not JSON: {exc}") from None
    if not isinstance(doc, list):
        raise InputFileError(where, "expected an array of records")
    groups: dict[str, tuple[list[float], list[tuple[float, float, float]]]] = {}
    for i, rec in enumerate(doc):
        if not isinstance(rec, dict):
            raise InputFileError(where, f"record {i} is not an object")
        sensor = str(rec.get("sensor", "")).lower()
        if sensor in FILES:
            g = groups.setdefault(sensor, ([], []))
            g[0].append(_num(rec, "time", where, i) * NS)
            g[1].append((_num(rec, "x", where, i), _num(rec, "y", where, i), _num(rec, "z", where, i)))
        elif sensor == "location":
            sp, ac = _optional(rec, "speed"), _optional(rec, "horizontalAccuracy")
            raw.fixes.append(GpsFix(_num(rec, "time", where, i) * NS, _num(rec, "latitude", where, i),
                                    _num(rec, "longitude", where, i), sp, ac))
    for stem, (times, vals) in groups.items():
        ch, scale, flips = FILES[stem]
        sign = -1.0 if flips and platform == "ios" else 1.0
        raw.add(ch, to_units(np.asarray(times, dtype=np.float64), np.asarray(vals), scale * sign)[0])
    return raw
