"""Research export targets of ``sensorkit export``: ``--csv``, ``--parquet``, ``--fit``.

Light to import (the CLI builds every parser at start-up); the work is in :mod:`.exports`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from sensorkit.errors import ConfigError


class CsvTarget:
    """``--csv DIR``: samples per sensor (import contract), steps and events (analyze contract), records."""

    name = "csv"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        g = parser.add_argument_group("CSV", "Plain CSV files for spreadsheets, R, pandas.")
        g.add_argument("--csv", type=Path, metavar="DIR", help="write CSV files into DIR")

    def wanted(self, args: argparse.Namespace) -> bool:
        return getattr(args, "csv", None) is not None

    def run(self, args: argparse.Namespace, reader: Any) -> str:
        from sensorkit.analysis.exports import export_csv

        return export_csv(reader, args.csv)


class ParquetTarget:
    """``--parquet DIR``: samples per sensor and every record table as Parquet (zstd)."""

    name = "parquet"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        g = parser.add_argument_group("Parquet", "Columnar files for pandas, polars, R arrow, DuckDB.")
        g.add_argument("--parquet", type=Path, metavar="DIR", help="write Parquet files into DIR")

    def wanted(self, args: argparse.Namespace) -> bool:
        return getattr(args, "parquet", None) is not None

    def run(self, args: argparse.Namespace, reader: Any) -> str:
        from sensorkit.analysis.exports import export_parquet

        return export_parquet(reader, args.parquet)


class FitTarget:
    """``--fit FILE.fit``: a FIT activity with running dynamics, one file per runner."""

    name = "fit"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        g = parser.add_argument_group("FIT", "Activity file for Garmin Connect, Strava, GoldenCheetah.")
        g.add_argument("--fit", type=Path, metavar="FILE.fit",
                       help="write a FIT activity (several runners: FILE-<runner>.fit each)")
        g.add_argument("--fit-runner", metavar="NAME", help="export only this runner")
        g.add_argument("--start", metavar="YYYY-MM-DDTHH:MM:SS",
                       help="wall-clock start (local time) for sessions that lack one (CSV imports)")

    def wanted(self, args: argparse.Namespace) -> bool:
        return getattr(args, "fit", None) is not None

    def run(self, args: argparse.Namespace, reader: Any) -> str:
        from sensorkit.analysis.exports import export_fit

        start = None
        if getattr(args, "start", None):
            try:
                start = time.mktime(time.strptime(args.start, "%Y-%m-%dT%H:%M:%S"))
            except ValueError:
                raise ConfigError(f"--start {args.start!r}: expected YYYY-MM-DDTHH:MM:SS") from None
        paths = export_fit(reader, args.fit, runner=getattr(args, "fit_runner", None), start_unix_s=start)
        return ", ".join(str(p) for p in paths)


TARGETS = (CsvTarget(), ParquetTarget(), FitTarget())
"""Added to the tuple of targets in sensorkit/cli/export.py."""
