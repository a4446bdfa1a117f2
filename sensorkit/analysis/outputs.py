"""Files written per analysed session: contract CSVs, Parquet tables and the HTML report.

The CSVs are written by :mod:`sensorkit.metrics.files` itself, so their columns are the public
``sensorkit analyze`` contract to the byte. Parquet keeps every field of every step (plus
``file``/``session_id``), which is what pooled analyses in pandas/polars/R want.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sensorkit.alerts import AlertsSettings
from sensorkit.analysis.columns import arrow_table
from sensorkit.analysis.report import write_session_report
from sensorkit.analysis.session import SessionAnalysis
from sensorkit.metrics.files import write_events_csv, write_steps_csv
from sensorkit.model import StepMetrics


@dataclass(frozen=True, slots=True)
class OutputOptions:
    """Which files to write for each session (into ``out_dir``, named after the input)."""

    out_dir: Path
    csv: bool = True
    events: bool = True
    parquet: bool = True
    report: bool = True


def steps_table(analysis: SessionAnalysis) -> pa.Table:
    """Every step of every runner with all StepMetrics fields, tagged with file and session."""
    return arrow_table(analysis.steps(), StepMetrics,
                       {"file": analysis.path, "session_id": analysis.info.session_id})


def write_parquet(table: pa.Table, path: str | Path) -> Path:
    out = Path(path)
    pq.write_table(table, out, compression="zstd")
    return out


def write_outputs(analysis: SessionAnalysis, stem: str, options: OutputOptions,
                  alerts: AlertsSettings | None = None) -> list[Path]:
    """Write the chosen files for one session; returns their paths."""
    d = options.out_dir
    d.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if options.csv:
        write_steps_csv(analysis.steps(), d / f"{stem}.steps.csv")
        written.append(d / f"{stem}.steps.csv")
    if options.events:
        write_events_csv(analysis.events(), d / f"{stem}.events.csv")
        written.append(d / f"{stem}.events.csv")
    if options.parquet:
        written.append(write_parquet(steps_table(analysis), d / f"{stem}.steps.parquet"))
    if options.report:
        written.append(write_session_report(analysis, d / f"{stem}.html", alerts))
    return written
