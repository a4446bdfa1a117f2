"""Readers for the Fukuchi et al. (2017) running biomechanics data set (RBDS) text files.

The files are tab-separated with one header row. Marker files hold ``Time`` and one
``<marker>X``/``Y``/``Z`` triple per marker in mm in the lab frame (X along the belt, the runner
facing +X; Y vertical; Z to the runner's right), 150 Hz; an empty cell is a missing marker.
Force files hold ``Time`` (a 1-based sample index, not seconds), ``Fx``/``Fy``/``Fz`` in N
(Fy vertical) and the centre of pressure ``COPx``/``COPy``/``COPz`` in mm, 300 Hz.
The rounded ``Time`` column of marker files is checked but not used: times are ``row / rate``.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from sensorkit.errors import InputFileError
from sensorkit.model import Side, StrikeClass

F64 = NDArray[np.float64]

MARKER_RATE_HZ = 150.0
FORCE_RATE_HZ = 300.0
_MM = 1e-3


@dataclass(frozen=True, slots=True, eq=False)
class MarkerTrial:
    """Marker trajectories in metres, lab frame; missing samples are NaN."""

    path: Path
    sampling_rate_hz: float
    time_s: F64
    markers: dict[str, F64]

    def __len__(self) -> int:
        return int(self.time_s.shape[0])

    def has(self, name: str, max_missing: float = 1.0) -> bool:
        """True if the marker exists and at most ``max_missing`` of its samples are NaN."""
        xyz = self.markers.get(name)
        return xyz is not None and float(np.isnan(xyz[:, 0]).mean()) <= max_missing

    def marker(self, name: str) -> F64:
        try:
            return self.markers[name]
        except KeyError:
            raise InputFileError(str(self.path), f"marker {name!r} not in file") from None


@dataclass(frozen=True, slots=True, eq=False)
class ForceTrial:
    """Treadmill force plate: ``force_n`` (n, 3) lab-frame Fx, Fy (vertical), Fz; COP in m."""

    path: Path
    sampling_rate_hz: float
    time_s: F64
    force_n: F64
    cop_m: F64

    def __len__(self) -> int:
        return int(self.time_s.shape[0])

    @property
    def vertical_n(self) -> F64:
        return self.force_n[:, 1]


@dataclass(frozen=True, slots=True)
class SubjectInfo:
    """One RBDS subject: body data and the lab's foot-strike label per foot and speed.

    ``strike`` maps ``(side, speed_key)`` to the label, ``speed_key`` being ``"25"``, ``"35"``
    or ``"45"`` (2.5, 3.5, 4.5 m/s).
    """

    subject: int
    mass_kg: float | None
    height_cm: float | None
    strike: dict[tuple[Side, str], StrikeClass] = field(default_factory=dict)

    def strike_label(self, side: Side, speed_mps: float) -> StrikeClass | None:
        return self.strike.get((side, f"{round(speed_mps * 10):02d}"))


def _read_table(path: Path) -> tuple[list[str], F64]:
    """Header and float matrix of a tab-separated file; empty cells become NaN."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputFileError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    lines = text.splitlines()
    if not lines:
        raise InputFileError(str(path), "empty file", 1)
    header = lines[0].split("\t")
    width = len(header)
    rows: list[list[float]] = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) != width:
            raise InputFileError(str(path), f"{len(cells)} cells, header has {width}", lineno)
        try:
            rows.append([float(c) if c.strip() else math.nan for c in cells])
        except ValueError:
            for col, c in zip(header, cells, strict=True):
                try:
                    float(c) if c.strip() else None
                except ValueError:
                    raise InputFileError(str(path), f"not a number: {c!r}", lineno, col) from None
            raise
    if not rows:
        raise InputFileError(str(path), "no data rows", 2)
    return header, np.asarray(rows, dtype=np.float64)


def read_markers(path: str | Path, sampling_rate_hz: float = MARKER_RATE_HZ) -> MarkerTrial:
    """Parse a marker file (``*run*.txt``, ``*runT*markers.txt``, ``*static.txt``)."""
    path = Path(path)
    header, data = _read_table(path)
    if header[0] != "Time":
        raise InputFileError(str(path), f"first column is {header[0]!r}, expected 'Time'", 1, header[0])
    n = data.shape[0]
    time_s = np.arange(n) / sampling_rate_hz
    drift = np.nanmax(np.abs(data[:, 0] - time_s)) if n else 0.0
    if drift > 0.01:
        raise InputFileError(str(path), f"Time column departs {drift:.3f} s from {sampling_rate_hz:g} Hz",
                             None, "Time")
    markers: dict[str, F64] = {}
    for i in range(1, len(header), 3):
        name = header[i][:-1]
        axes = header[i:i + 3]
        if len(axes) != 3 or [a[:-1] for a in axes] != [name] * 3 or [a[-1] for a in axes] != ["X", "Y", "Z"]:
            raise InputFileError(str(path), f"expected {name}X/Y/Z columns, got {axes}", 1, header[i])
        markers[name] = np.ascontiguousarray(data[:, i:i + 3] * _MM)
    return MarkerTrial(path, sampling_rate_hz, time_s, markers)


def read_forces(path: str | Path, sampling_rate_hz: float = FORCE_RATE_HZ) -> ForceTrial:
    """Parse a treadmill force file (``*forces.txt``); time 0 is sample index 1."""
    path = Path(path)
    header, data = _read_table(path)
    need = ["Time", "Fx", "Fy", "Fz", "COPx", "COPy", "COPz"]
    missing = [c for c in need if c not in header]
    if missing:
        raise InputFileError(str(path), f"missing columns {missing}", 1)
    col = {c: header.index(c) for c in need}
    idx = data[:, col["Time"]]
    if np.any(np.isnan(idx)) or np.any(np.diff(idx) != 1):
        raise InputFileError(str(path), "Time must be consecutive sample indices", None, "Time")
    values = data[:, [col[c] for c in need[1:]]]
    if np.isnan(values).any():
        row = int(np.flatnonzero(np.isnan(values).any(axis=1))[0])
        bad = need[1 + int(np.flatnonzero(np.isnan(values[row]))[0])]
        raise InputFileError(str(path), "empty force cell", row + 2, bad)
    time_s = (idx - idx[0]) / sampling_rate_hz
    return ForceTrial(path, sampling_rate_hz, time_s, np.ascontiguousarray(values[:, :3]),
                      np.ascontiguousarray(values[:, 3:] * _MM))


_LABELS = {"rearfoot": StrikeClass.REARFOOT, "midfoot": StrikeClass.MIDFOOT, "forefoot": StrikeClass.FOREFOOT}


def read_info(path: str | Path) -> dict[int, SubjectInfo]:
    """Parse ``RBDSinfo.txt``: subjects' mass, height and strike labels (RFSI25 ... LFSI45)."""
    path = Path(path)
    try:
        with path.open(newline="") as fh:
            rows = list(csv.reader(fh, delimiter="\t"))
    except OSError as exc:
        raise InputFileError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    if not rows or "Subject" not in rows[0]:
        raise InputFileError(str(path), "no 'Subject' header", 1)
    header = rows[0]
    out: dict[int, SubjectInfo] = {}
    for lineno, row in enumerate(rows[1:], start=2):
        if not row or not row[0].strip():
            continue
        rec = dict(zip(header, row, strict=False))
        try:
            subject = int(rec["Subject"])
        except ValueError:
            raise InputFileError(str(path), f"bad subject {rec['Subject']!r}", lineno, "Subject") from None
        if subject in out:
            continue
        strike: dict[tuple[Side, str], StrikeClass] = {}
        for side, prefix in ((Side.RIGHT, "RFSI"), (Side.LEFT, "LFSI")):
            for speed in ("25", "35", "45"):
                label = rec.get(prefix + speed, "").strip().lower()
                if label:
                    if label not in _LABELS:
                        raise InputFileError(str(path), f"unknown strike label {label!r}", lineno,
                                             prefix + speed)
                    strike[(side, speed)] = _LABELS[label]
        out[subject] = SubjectInfo(subject, _num(rec.get("Mass")), _num(rec.get("Height")), strike)
    return out


def _num(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None
