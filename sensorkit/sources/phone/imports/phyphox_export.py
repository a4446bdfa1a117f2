"""phyphox CSV exports: a zip of one CSV per export set plus ``meta/``, or one minimal CSV.

The zip (phyphox-android DataExport) also holds ``meta/time.csv`` and ``meta/device.csv``.

Columns are named by the experiment, e.g. ``"Time (s)","Acceleration x (m/s^2)",...``;
numbers are ``0.000000000E0`` with ``,``/``.``, tab/``.`` or ``;``/``,`` as separator and
decimal point; ragged sets are padded with ``NaN``. Columns are recognised by name and unit;
experiment time becomes the phone's clock through the START events of ``meta/time.csv``.
"""

from __future__ import annotations

import csv
import io
import re

import numpy as np

from sensorkit.errors import InputFileError
from sensorkit.sources.phone.batch import Channel, GpsFix, to_units
from sensorkit.sources.phone.imports.raw import RawExport, unit_scale
from sensorkit.sources.phone.imports.tables import ExportFiles, finite_rows, read_table, sniff_dialect
from sensorkit.sources.phone.phyphox_protocol import TimeMap

_PATTERNS: list[tuple[re.Pattern[str], Channel]] = [
    (re.compile(r"^linear acceleration ([xyz])\b"), Channel.LINEAR_ACC),
    (re.compile(r"^acceleration ([xyz])\b"), Channel.ACC),
    (re.compile(r"^gravity ([xyz])\b"), Channel.GRAVITY),
    (re.compile(r"^(?:gyroscope|angular velocity) ([xyz])\b"), Channel.GYR),
    (re.compile(r"^magnetic field ([xyz])\b"), Channel.MAG),
]
_TIME = re.compile(r"^time\b.*\(s\)\s*$")


def looks_like(files: ExportFiles) -> bool:
    names = files.names()
    if any(n.lower().endswith("meta/time.csv") for n in names):
        return True
    csvs = [n for n in names if n.lower().endswith(".csv")]
    if len(csvs) == 1:
        head = files.read(csvs[0])[:200].decode("utf-8", errors="replace").lower()
        return head.startswith('"time (s)"') or head.startswith("time (s)")
    return False


def _csv_rows(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8-sig", errors="replace")
    delimiter, _ = sniff_dialect(text[:4096])
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def _time_map(files: ExportFiles) -> tuple[TimeMap, float | None]:
    name = next((n for n in files.names() if n.lower().endswith("meta/time.csv")), None)
    if name is None:
        return TimeMap(), None
    exp, sys_ = [], []
    for lineno, row in enumerate(_csv_rows(files.read(name))[1:], start=2):
        if len(row) < 3 or row[0].strip().upper() != "START":
            continue
        try:
            exp.append(float(row[1].replace(",", ".")))
            sys_.append(float(row[2].replace(",", ".")))
        except ValueError:
            raise InputFileError(files.where(name), "experiment/system time is not a number", line=lineno) from None
    if not exp:
        return TimeMap(), None
    order = np.argsort(exp)
    return TimeMap(np.asarray(exp)[order], np.asarray(sys_)[order]), float(min(sys_))


def _device(files: ExportFiles) -> str:
    name = next((n for n in files.names() if n.lower().endswith("meta/device.csv")), None)
    if name is None:
        return "phyphox"
    props = {r[0].strip(): r[1].strip() for r in _csv_rows(files.read(name))[1:] if len(r) >= 2}
    model = " ".join(v for k, v in props.items() if k in ("deviceBrand", "deviceModel") and v)
    return f"phyphox ({model})" if model else "phyphox"


def read_phyphox(files: ExportFiles) -> RawExport:
    """Every recognised sensor column of every export set."""
    time_map, start = _time_map(files)
    raw = RawExport("phyphox", start_unix_s=start, device=_device(files))
    if start is None:
        raw.notes["phyphox.clock"] = "no meta/time.csv: times are experiment seconds, start time unknown"
    sets = [n for n in files.names() if n.lower().endswith(".csv") and "meta/" not in n.lower()]
    for name in sets:
        data = files.read(name)
        delimiter, decimal = sniff_dialect(data[:4096].decode("utf-8-sig", errors="replace"))
        table = read_table(data, files.where(name), delimiter=delimiter, decimal=decimal)
        _take_set(table.header, table.columns, files.where(name), time_map, raw)
    if not raw.channels:
        raise InputFileError(str(files.path), "no accelerometer columns found (expected e.g. "
                                              "'Acceleration x (m/s^2)' next to 'Time (s)')")
    return raw


def _take_set(header: list[str], cols: dict[str, np.ndarray], where: str, time_map: TimeMap,
              raw: RawExport) -> None:
    time_cols = [h for h in header if _TIME.match(h.lower())]
    if not time_cols:
        return
    t = time_map.to_system(cols[time_cols[0]])
    found: dict[Channel, dict[str, str]] = {}
    for h in header:
        for pat, ch in _PATTERNS:
            m = pat.match(h.lower())
            if m:
                found.setdefault(ch, {})[m.group(1)] = h
                break
    for ch, axes in found.items():
        if set(axes) != {"x", "y", "z"}:
            continue
        scale = unit_scale(axes["x"], ch)
        if scale is None:
            raise InputFileError(where, "unknown unit", line=1, column=axes["x"])
        raw.add(ch, to_units(t, np.stack([cols[axes[a]] for a in "xyz"], axis=1), scale)[0])
    lower = {h.lower(): h for h in header}
    lat = next((lower[k] for k in lower if k.startswith("latitude")), None)
    lon = next((lower[k] for k in lower if k.startswith("longitude")), None)
    if lat and lon:
        speed = next((lower[k] for k in lower if k.startswith("velocity")), None)
        acc = next((lower[k] for k in lower if k.startswith("horizontal accuracy")), None)
        for i in np.flatnonzero(finite_rows(t, cols[lat], cols[lon])):
            sp = float(cols[speed][i]) if speed and np.isfinite(cols[speed][i]) else None
            ac = float(cols[acc][i]) if acc and np.isfinite(cols[acc][i]) else None
            raw.fixes.append(GpsFix(float(t[i]), float(cols[lat][i]), float(cols[lon][i]), sp, ac))
