"""Analyse one file (a recording or a generic CSV) and export its events and steps.

The library behind ``sensorkit analyze``: one function per file so batch tools and reports
can call it directly. Items are replayed through :func:`~sensorkit.metrics.analyze_items`, the
same stages the live pipeline runs.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean, median

import numpy as np

from sensorkit.errors import InputFileError, RecordingError
from sensorkit.metrics.offline import analyze_items
from sensorkit.metrics.settings import MetricsSettings
from sensorkit.model import (
    Calibration,
    Gap,
    PostureSample,
    Record,
    SessionInfo,
    SourceItem,
    SpeedSample,
    StepEvent,
    StepMetrics,
    StrikeClass,
)
from sensorkit.sources.csv_import import CsvOptions, read_csv
from sensorkit.store.recording import RecordingReader

EVENT_COLUMNS = ("time_s", "event", "side", "sensor")
"""Columns of ``--events-out`` (the public contract)."""
STEP_COLUMNS = ("time_s", "side", "step_time_s", "cadence_spm", "contact_time_ms", "flight_time_ms",
                "impact_g", "loading_rate_gps", "strike_angle_deg", "strike_class", "trunk_lean_deg")
"""Columns of ``--steps-out`` (the public contract); empty cells where unknown."""


@dataclass(slots=True)
class FileAnalysis:
    """The records made from one file, with convenient views."""

    path: str
    info: SessionInfo
    records: list[Record] = field(default_factory=list)

    def steps(self, runner: str | None = None) -> list[StepMetrics]:
        return [r for r in self.records
                if isinstance(r, StepMetrics) and (runner is None or r.runner == runner)]

    def events(self) -> list[StepEvent]:
        return sorted((r for r in self.records if isinstance(r, StepEvent)), key=lambda e: (e.time_s, e.kind))

    def calibrations(self) -> list[Calibration]:
        return [r for r in self.records if isinstance(r, Calibration)]

    def summary(self, runner: str) -> dict[str, float | int | None]:
        """Per-runner totals for a quick look (the CLI prints these)."""
        steps = self.steps(runner)
        lean = [r.trunk_lean_deg for r in self.records if isinstance(r, PostureSample) and r.runner == runner]

        def med(xs: Sequence[float | None]) -> float | None:
            v = [x for x in xs if x is not None]
            return median(v) if v else None

        classes = [s.strike_class for s in steps if s.strike_class is not StrikeClass.UNKNOWN]
        return {
            "steps": len(steps),
            "cadence_spm": med([s.cadence_spm for s in steps]),
            "contact_time_ms": med([s.contact_time_ms for s in steps]),
            "flight_time_ms": med([s.flight_time_ms for s in steps]),
            "impact_g": med([s.impact_g for s in steps]),
            "vertical_oscillation_cm": med([s.vertical_oscillation_cm for s in steps]),
            "strike_angle_deg": med([s.strike_angle_deg for s in steps]),
            "rearfoot_pct": 100.0 * classes.count(StrikeClass.REARFOOT) / len(classes) if classes else None,
            "trunk_lean_deg": fmean(lean) if lean else None,
        }


def analyze_csv(path: str | Path, options: CsvOptions | None = None,
                settings: MetricsSettings | None = None) -> FileAnalysis:
    """Analyse a generic CSV file (see :mod:`sensorkit.sources.csv_import` for the contract)."""
    opts = options or CsvOptions()
    stream = read_csv(path, opts)
    records = analyze_items(stream.info, stream.blocks(opts.block_s), settings)
    return FileAnalysis(str(path), stream.info, records)


def analyze_recording(path: str | Path, settings: MetricsSettings | None = None,
                      block_s: float = 1.0) -> FileAnalysis:
    """Re-analyse a sensorkit recording from its raw samples (recorded metrics are ignored)."""
    try:
        reader = RecordingReader(path)
    except RecordingError as exc:
        raise InputFileError(str(path), str(exc)) from exc
    with reader:
        info = reader.info
        records = analyze_items(info, recording_items(reader, block_s), settings)
    return FileAnalysis(str(path), info, records)


def analyze_file(path: str | Path, options: CsvOptions | None = None,
                 settings: MetricsSettings | None = None) -> FileAnalysis:
    """A recording (``*.skrec`` directory) or else a CSV file."""
    p = Path(path)
    if not p.exists():
        raise InputFileError(str(path), "no such file")
    if p.is_dir() or p.suffix == ".skrec":
        return analyze_recording(p, settings)
    return analyze_csv(p, options, settings)


def recording_items(r: RecordingReader, block_s: float = 1.0) -> Iterator[SourceItem]:
    """A recording's samples, gaps and speed readings cut on a common ``block_s`` time grid.

    Within each grid cell every sensor's samples come as one block (split where a recorded gap
    starts, the Gap in between), then the speed readings of that cell.
    """
    sids: list[str] = list(r.sensor_ids)
    gaps: list[Gap] = sorted(r.gaps(), key=lambda g: g.start_s)
    speed: list[SpeedSample] = sorted(r.speed(), key=lambda s: s.time_s)
    ends = []
    for sid in sids:
        n = r.sample_count(sid)
        if n:
            ends.append(float(r.block(sid, n - 1, n).time_s[0]))
    t_end = max(ends, default=0.0)
    if speed:
        t_end = max(t_end, speed[-1].time_s)
    starts = {sid: 0 for sid in sids}
    gi = {sid: [g for g in gaps if g.sensor_id == sid] for sid in sids}
    si = 0
    for k in range(math.floor(t_end / block_s) + 1):
        t1 = (k + 1) * block_s
        for sid in sids:
            i0 = starts[sid]
            _, i1 = r.index_range(sid, None, t1)
            if i1 <= i0:
                continue
            block = r.block(sid, i0, i1)
            starts[sid] = i1
            cuts = [g for g in gi[sid] if block.start_s < g.start_s <= block.end_s]
            a = 0
            for g in cuts:
                b = int(np.searchsorted(block.time_s, g.start_s))
                if b > a:
                    yield block.slice(a, b)
                yield g
                a = b
            if a < len(block):
                yield block.slice(a, len(block))
        while si < len(speed) and speed[si].time_s < t1:
            yield speed[si]
            si += 1


def _fmt(v: float | None, digits: int) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    return f"{v:.{digits}f}"


def write_events_csv(events: Sequence[StepEvent], path: str | Path) -> int:
    """``time_s,event,side,sensor``; returns the number of rows."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(EVENT_COLUMNS)
        for e in sorted(events, key=lambda e: (e.time_s, e.kind)):
            w.writerow([_fmt(e.time_s, 4), e.kind.value, e.side.value, e.sensor_id])
    return len(events)


def write_steps_csv(steps: Sequence[StepMetrics], path: str | Path) -> int:
    """The ``--steps-out`` columns, empty where a value is unknown; returns the number of rows."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(STEP_COLUMNS)
        for s in steps:
            w.writerow([
                _fmt(s.time_s, 4), s.side.value, _fmt(s.step_time_s, 4), _fmt(s.cadence_spm, 2),
                _fmt(s.contact_time_ms, 1), _fmt(s.flight_time_ms, 1), _fmt(s.impact_g, 3),
                _fmt(s.loading_rate_gps, 1), _fmt(s.strike_angle_deg, 2),
                "" if s.strike_class is StrikeClass.UNKNOWN else s.strike_class.value,
                _fmt(s.trunk_lean_deg, 2)])
    return len(steps)
