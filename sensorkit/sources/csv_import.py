"""Generic CSV import of one IMU stream: the public file contract of ``sensorkit analyze``.

Contract (documented in ``docs/dsp.md``):

* a header row; one row per sample; comma-separated; ``#`` comment lines are skipped;
* ``time_s`` (seconds, increasing) or ``--rate HZ`` for equally spaced samples;
* ``ax_g, ay_g, az_g`` in g, or in m/s^2 with ``--acc-unit ms2`` (columns may then also be
  named ``ax_ms2, ay_ms2, az_ms2``);
* optional ``gx_dps, gy_dps, gz_dps`` in deg/s, or rad/s with ``--gyro-unit rads`` (or columns
  ``gx_rads, gy_rads, gz_rads``);
* axes in any orientation (the mounting calibration finds them); axes given as all zeros
  are accepted (an all-zero gyro counts as no gyro);
* anything malformed raises :class:`~sensorkit.errors.InputFileError` naming the file, the
  line (1 = header) and the column.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sensorkit.errors import InputFileError
from sensorkit.model import PhoneWear, Placement, RunnerInfo, SampleBlock, SensorInfo, SessionInfo

G_MPS2 = 9.80665
ACC_UNITS = ("g", "ms2")
GYRO_UNITS = ("dps", "rads")


@dataclass(frozen=True, slots=True)
class CsvOptions:
    """How to read a CSV file; mirrors the ``sensorkit analyze`` flags."""

    placement: Placement = Placement.LOWER_BACK
    rate_hz: float | None = None
    """Sampling rate when the file has no ``time_s`` column (Hz)."""
    acc_unit: str | None = None
    """``g`` or ``ms2``; None: from the column names (``*_g`` or ``*_ms2``), default g."""
    gyro_unit: str | None = None
    """``dps`` or ``rads``; None: from the column names, default deg/s."""
    runner: str = "runner"
    block_s: float = 1.0
    """Length of the blocks the samples are cut into (s); results do not depend on it."""


@dataclass(frozen=True, slots=True, eq=False)
class CsvStream:
    """A parsed CSV: the session it describes and its samples in sensorkit units."""

    info: SessionInfo
    sensor: SensorInfo
    time_s: np.ndarray
    acc_g: np.ndarray
    gyr_dps: np.ndarray | None

    def blocks(self, block_s: float = 1.0) -> list[SampleBlock]:
        n = self.time_s.shape[0]
        step = max(round(block_s * self.sensor.sampling_rate_hz), 1)
        out = []
        for a in range(0, n, step):
            b = min(a + step, n)
            out.append(SampleBlock(self.sensor.sensor_id, self.time_s[a:b], self.acc_g[a:b],
                                   None if self.gyr_dps is None else self.gyr_dps[a:b]))
        return out


def _pick(names: list[str], axis: str, kind: str, units: tuple[str, ...], unit: str | None,
          path: str) -> tuple[str | None, str | None]:
    """The column for one axis (e.g. ``ax``) and the unit it implies."""
    found = [(f"{axis}_{u}", u) for u in units if f"{axis}_{u}" in names]
    if len(found) > 1:
        raise InputFileError(path, f"both {found[0][0]!r} and {found[1][0]!r} present; keep one", 1)
    if found:
        col, col_unit = found[0]
        if unit is not None and col_unit != units[0] and col_unit != unit:
            raise InputFileError(path, f"column {col!r} is in {col_unit} but --{kind}-unit is {unit}",
                                 1, col)
        return col, col_unit
    return None, None


def read_csv(path: str | Path, options: CsvOptions | None = None) -> CsvStream:
    """Parse ``path`` per the contract above; raises InputFileError on any problem."""
    opts = options or CsvOptions()
    p = str(path)
    if opts.acc_unit is not None and opts.acc_unit not in ACC_UNITS:
        raise InputFileError(p, f"--acc-unit must be one of {ACC_UNITS}, not {opts.acc_unit!r}")
    if opts.gyro_unit is not None and opts.gyro_unit not in GYRO_UNITS:
        raise InputFileError(p, f"--gyro-unit must be one of {GYRO_UNITS}, not {opts.gyro_unit!r}")
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputFileError(p, f"cannot read: {exc.strerror or exc}") from exc
    lines = data.decode("utf-8-sig", errors="replace").splitlines()  # -sig: Excel's "CSV UTF-8" BOM
    content = (i for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#"))
    header_line = next(content, None)
    if header_line is None:
        raise InputFileError(p, "empty file: expected a header row")
    names = [h.strip() for h in next(csv.reader([lines[header_line]]))]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise InputFileError(p, f"duplicate column {sorted(dup)[0]!r}", header_line + 1, sorted(dup)[0])
    acc_cols, acc_units = [], set()
    for ax in ("ax", "ay", "az"):
        col, u = _pick(names, ax, "acc", ("g", "ms2"), opts.acc_unit, p)
        if col is None:
            want = f"{ax}_g" if opts.acc_unit != "ms2" else f"{ax}_g or {ax}_ms2"
            raise InputFileError(p, f"missing column {want!r} (header: {', '.join(names)})", header_line + 1)
        acc_cols.append(col)
        acc_units.add(u)
    gyr_cols, gyr_units = [], set()
    for gx in ("gx", "gy", "gz"):
        col, u = _pick(names, gx, "gyro", ("dps", "rads"), opts.gyro_unit, p)
        if col is not None:
            gyr_cols.append(col)
            gyr_units.add(u)
    if gyr_cols and len(gyr_cols) != 3:
        raise InputFileError(p, "gyro needs all three columns gx, gy, gz (or none)", header_line + 1)
    has_time = "time_s" in names
    if not has_time and opts.rate_hz is None:
        raise InputFileError(p, "no 'time_s' column: give the sampling rate with --rate HZ", header_line + 1)
    if opts.rate_hz is not None and not (opts.rate_hz > 0 and math.isfinite(opts.rate_hz)):
        raise InputFileError(p, f"--rate must be a positive number, not {opts.rate_hz}")
    wanted = (["time_s"] if has_time else []) + acc_cols + gyr_cols
    body = "\n".join(lines[header_line:])
    cols = _parse(p, body, names, wanted, header_line)
    n = cols[acc_cols[0]].shape[0]
    if n < 2:
        raise InputFileError(p, f"only {n} data rows; need at least 2")
    if has_time:
        t = cols["time_s"]
        bad = np.flatnonzero(np.diff(t) <= 0)
        if bad.shape[0]:
            line = _data_line(lines, header_line, int(bad[0]) + 1)
            raise InputFileError(p, "time_s must increase from row to row", line, "time_s")
        rate = opts.rate_hz or 1.0 / float(np.median(np.diff(t)))
    else:
        rate = float(opts.rate_hz)  # type: ignore[arg-type]
        t = np.arange(n) / rate
    acc = np.column_stack([cols[c] for c in acc_cols])
    acc_unit = opts.acc_unit or ("ms2" if acc_units == {"ms2"} else "g")
    if acc_unit == "ms2":
        acc = acc / G_MPS2
    gyr = None
    if gyr_cols:
        gyr = np.column_stack([cols[c] for c in gyr_cols])
        gyro_unit = opts.gyro_unit or ("rads" if gyr_units == {"rads"} else "dps")
        if gyro_unit == "rads":
            gyr = np.degrees(gyr)
        if not np.any(gyr):
            gyr = None  # all zeros: a stand-in for "no gyro"
    placement = opts.placement
    sid = f"{opts.runner}/{placement.value}"
    sensor = SensorInfo(sid, opts.runner, placement, rate, device="csv:" + Path(path).name,
                        has_gyro=gyr is not None,
                        phone_wear=PhoneWear.POCKET if placement is Placement.PHONE else None)
    info = SessionInfo(f"csv-{Path(path).stem}", 0.0, (RunnerInfo(opts.runner),), (sensor,), "csv-import",
                       {"source_file": str(path)})
    return CsvStream(info, sensor, np.ascontiguousarray(t, dtype=np.float64), acc, gyr)


def _data_line(lines: list[str], header_line: int, row: int) -> int:
    """1-based file line of data row ``row`` (0-based), skipping blank and comment lines."""
    k = -1
    for i in range(header_line + 1, len(lines)):
        s = lines[i].strip()
        if s and not s.startswith("#"):
            k += 1
            if k == row:
                return i + 1
    return len(lines)


def _parse(path: str, body: str, names: list[str], wanted: list[str],
           header_line: int) -> dict[str, np.ndarray]:
    """Fast path through pyarrow; on any problem the slow path finds the exact line and column."""
    import pyarrow as pa  # here, not at the top: ~26 MB of RSS that live runs and replays never need
    import pyarrow.csv as pacsv

    try:
        table = pacsv.read_csv(
            io.BytesIO(body.encode()),
            parse_options=pacsv.ParseOptions(ignore_empty_lines=True),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),  # stripped: "t, ax_g" works
            convert_options=pacsv.ConvertOptions(column_types={c: pa.float64() for c in wanted},
                                                 include_columns=wanted, strings_can_be_null=False,
                                                 null_values=[]))
        out = {c: table.column(c).to_numpy(zero_copy_only=False).astype(np.float64) for c in wanted}
        if all(np.isfinite(v).all() for v in out.values()) and "#" not in body:
            return out
    except (pa.ArrowException, ValueError):  # any Arrow error (e.g. ArrowKeyError): the slow path explains
        pass
    return _parse_slow(path, body, names, wanted, header_line)


def _parse_slow(path: str, body: str, names: list[str], wanted: list[str],
                header_line: int) -> dict[str, np.ndarray]:
    idx = {c: names.index(c) for c in wanted}
    vals: dict[str, list[float]] = {c: [] for c in wanted}
    lines = body.splitlines()
    for k, text in enumerate(lines[1:], start=1):
        line_no = header_line + k + 1
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        row = next(csv.reader([text]))
        if len(row) != len(names):
            raise InputFileError(path, f"expected {len(names)} fields, found {len(row)}", line_no)
        for c, i in idx.items():
            cell = row[i].strip()
            try:
                v = float(cell)
            except ValueError:
                raise InputFileError(path, f"not a number: {cell!r}", line_no, c) from None
            if not math.isfinite(v):
                raise InputFileError(path, f"not a finite number: {cell!r}", line_no, c)
            vals[c].append(v)
    return {c: np.asarray(v, dtype=np.float64) for c, v in vals.items()}
