"""HyperIMU log files (``HIMU-<date>.csv``): ``@`` header lines, then the streamed CSV lines.

The header names the sensors by their Android names (``@Sensors: MPLAccelerometer -
MPLGyroscope``) and the period (``@ SamplingTime: 10ms``); the value order is the app's,
so the sensors are given by the caller (as in the live settings). A leading timestamp column
is recognised by its magnitude; without it, samples are spaced by the sampling time.
"""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np

from sensorkit.errors import InputFileError
from sensorkit.sources.phone.hyperimu_protocol import SENSORS, LineFormat, parse_lines, to_batch
from sensorkit.sources.phone.imports.raw import RawExport
from sensorkit.sources.phone.imports.tables import ExportFiles, is_number, iter_lines

_PERIOD = re.compile(r"samplingtime\s*:\s*([0-9.]+)\s*(ms|s)?", re.IGNORECASE)
_DATE = re.compile(r"date\s*:\s*(.+)$", re.IGNORECASE)


def looks_like(files: ExportFiles) -> bool:
    names = files.names()
    if len(names) != 1:
        return False
    head = files.read(names[0])[:300].decode("utf-8", errors="replace")
    return head.startswith("@") and ("HyperIMU" in head or "SamplingTime" in head)


def _parse_date(text: str) -> float | None:
    for fmt in ("%a %b %d %H:%M:%S %Z %Y", "%a %b %d %H:%M:%S %Y", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text.strip(), fmt).timestamp()
        except ValueError:
            continue
    parts = text.split()  # "Sat Aug 02 17:32:42 CEST 2014": unknown zone names; read as local time
    if len(parts) == 6:
        try:
            return datetime.strptime(" ".join(parts[:4] + parts[5:]), "%a %b %d %H:%M:%S %Y").timestamp()
        except ValueError:
            return None
    return None


def read_hyperimu(files: ExportFiles, sensors: tuple[str, ...] = ("accelerometer", "gyroscope"),
                  sampling_rate_hz: float | None = None) -> RawExport:
    name = files.names()[0]
    where = files.where(name)
    unknown = [s for s in sensors if s not in SENSORS]
    if unknown:
        raise InputFileError(where, f"unknown HyperIMU sensors {unknown}; use {sorted(SENSORS)}")
    period_s = 1.0 / sampling_rate_hz if sampling_rate_hz else None
    start: float | None = None
    data_lines: list[tuple[int, str]] = []
    for lineno, text in iter_lines(files.read(name)):
        s = text.strip()
        if not s:
            continue
        if s.startswith("@"):
            m = _PERIOD.search(s.replace(" ", ""))
            if m and period_s is None:
                period_s = float(m.group(1)) * (1e-3 if (m.group(2) or "ms").lower() == "ms" else 1.0)
            d = _DATE.search(s.lstrip("@ "))
            if d and start is None:
                start = _parse_date(d.group(1))
            continue
        data_lines.append((lineno, s))
    if not data_lines:
        raise InputFileError(where, "no data lines")
    n_fields = len([t for t in data_lines[0][1].split(",") if t.strip()])
    first = data_lines[0][1].split(",")[0]
    has_ts = n_fields == 3 * len(sensors) + 1 and is_number(first) and abs(float(first)) > 1e9
    fmt = LineFormat(tuple(sensors), timestamp=has_ts)
    if n_fields != fmt.n_values:
        raise InputFileError(where, f"{n_fields} values per line; {len(sensors)} sensors "
                                    f"({', '.join(sensors)}) need {3 * len(sensors)} (+1 with a timestamp)",
                             line=data_lines[0][0])
    parsed = parse_lines([s.encode() for _, s in data_lines], fmt)
    if parsed.bad_lines:
        for lineno, s in data_lines:  # name the first bad line
            one = parse_lines([s.encode()], fmt)
            if one.bad_lines:
                raise InputFileError(where, one.first_error, line=lineno)
    if parsed.device_s is not None:
        t = parsed.device_s
        start = float(t.min())  # the samples' own clock beats the header's local-time date
    else:
        if period_s is None:
            raise InputFileError(where, "no timestamps and no '@ SamplingTime' header: set the sampling rate")
        t = np.asarray((start or 0.0) + np.arange(len(parsed)) * period_s, dtype=np.float64)
    raw = RawExport("hyperimu", start_unix_s=start, device="HyperIMU")
    for ch, data in to_batch(parsed, t, fmt).channels.items():
        raw.add(ch, data)
    if period_s:
        raw.notes["hyperimu.sampling_time_ms"] = f"{period_s * 1e3:g}"
    return raw
