"""``sensorkit analyze FILE...``: gait metrics from recordings, phone exports or CSV files.

One file and no batch flags: the original single-file command (summary on stdout,
``--events-out``/``--steps-out`` per the CSV contract). Several files, globs, ``--out-dir``
or ``--jobs``: a batch over a process pool with a progress bar, writing per session the
contract CSVs, a Parquet table and an HTML report, plus pooled ``summary``/``steps`` tables.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sensorkit.errors import ConfigError
from sensorkit.metrics.files import FileAnalysis, analyze_file, write_events_csv, write_steps_csv
from sensorkit.model import PhoneWear, Placement
from sensorkit.sources.csv_import import ACC_UNITS, GYRO_UNITS, CsvOptions

if TYPE_CHECKING:
    from sensorkit.analysis.inputs import InputOptions


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "analyze", help="compute step events and metrics from recordings, phone exports or CSV files",
        description="Analyse sensorkit recordings (*.skrec), phone app exports (Sensor Logger, phyphox, "
                    "HyperIMU) or CSV files with columns time_s (or --rate), ax_g, ay_g, az_g and "
                    "optionally gx_dps, gy_dps, gz_dps, in any orientation. Several files or glob patterns "
                    "(quoted, ** for subfolders) run as a batch in parallel and write reports.")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="recording directory (*.skrec), phone export or CSV file; or a glob pattern")
    p.add_argument("--placement", choices=[x.value for x in Placement], default=Placement.LOWER_BACK.value,
                   help="where the CSV's sensor was worn (default: lower_back)")
    p.add_argument("--rate", type=float, default=None, metavar="HZ",
                   help="sampling rate of a CSV without a time_s column")
    p.add_argument("--acc-unit", choices=ACC_UNITS, default=None, help="CSV acceleration unit (default g)")
    p.add_argument("--gyro-unit", choices=GYRO_UNITS, default=None,
                   help="CSV angular-rate unit (default dps)")
    p.add_argument("--events-out", metavar="FILE.csv", help="write time_s,event,side,sensor (one file only)")
    p.add_argument("--steps-out", metavar="FILE.csv", help="write one row per step (one file only)")
    b = p.add_argument_group("batch", "used with several files, or with any of these flags")
    b.add_argument("--out-dir", type=Path, metavar="DIR",
                   help="write per-session CSV, Parquet and HTML report here (default ./sensorkit-analysis)")
    b.add_argument("--jobs", "-j", type=int, metavar="N",
                   help="worker processes (default: one per core)")
    b.add_argument("--no-report", action="store_true", help="skip the HTML reports")
    b.add_argument("--no-parquet", action="store_true", help="skip the Parquet tables")
    b.add_argument("--config", type=Path, help="sensorkit TOML config: its [metrics] and [alerts] settings")
    b.add_argument("--runner", default="runner", help="runner name for CSV files and phone exports")
    b.add_argument("--shoe", help="shoe worn, for inputs that do not record it")
    b.add_argument("--phone-wear", choices=[w.value for w in PhoneWear], default=PhoneWear.ARMBAND.value,
                   help="where the phone of a phone export was carried (default armband)")
    p.set_defaults(func=run)


def _batch_requested(args: argparse.Namespace) -> bool:
    return (len(args.files) > 1 or any(c in f for f in args.files for c in "*?[")
            or args.out_dir is not None or args.jobs is not None or args.config is not None)


def _print_summary(result: FileAnalysis) -> None:
    for runner in result.info.runners:
        print(f"{runner.name}:")
        for key, value in result.summary(runner.name).items():
            shown = "-" if value is None else (f"{value:.1f}" if isinstance(value, float) else str(value))
            print(f"  {key:24s} {shown}")


def run(args: argparse.Namespace) -> int:
    if _batch_requested(args):
        return run_batch(args)
    from sensorkit.analysis.inputs import detect_kind

    path = args.files[0]
    if detect_kind(path) in ("recording", "csv"):
        opts = CsvOptions(placement=Placement(args.placement), rate_hz=args.rate, acc_unit=args.acc_unit,
                          gyro_unit=args.gyro_unit)
        result = analyze_file(path, opts)
    else:
        from sensorkit.analysis.session import analyze_path

        a = analyze_path(path, _input_options(args))
        result = FileAnalysis(a.path, a.info, a.records)
    if args.events_out:
        write_events_csv(result.events(), args.events_out)
    if args.steps_out:
        write_steps_csv(result.steps(), args.steps_out)
    _print_summary(result)
    sys.stdout.flush()
    return 0


def _input_options(args: argparse.Namespace) -> InputOptions:
    from sensorkit.analysis.inputs import InputOptions

    return InputOptions(placement=Placement(args.placement), rate_hz=args.rate, acc_unit=args.acc_unit,
                        gyro_unit=args.gyro_unit, runner=args.runner, shoe=args.shoe,
                        phone_wear=PhoneWear(args.phone_wear))


def run_batch(args: argparse.Namespace) -> int:
    from sensorkit.analysis.batch import expand, run_batch
    from sensorkit.analysis.outputs import OutputOptions
    from sensorkit.analysis.progress import file_progress, print_table, stage_settings

    if args.events_out or args.steps_out:
        raise ConfigError("--events-out/--steps-out take one input file; with several, use --out-dir")
    paths = expand(args.files)
    out_dir = args.out_dir or Path("sensorkit-analysis")
    outputs = OutputOptions(out_dir, parquet=not args.no_parquet, report=not args.no_report)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    jobs = args.jobs if args.jobs is not None else cores
    if jobs < 1:
        raise ConfigError("--jobs must be >= 1")
    with file_progress(len(paths)) as done:
        result = run_batch(paths, outputs, inputs=_input_options(args), stages=stage_settings(args.config),
                           jobs=jobs, on_done=done)
    rows = [[Path(r["file"]).name, r["runner"], r["steps"], r["cadence_spm"], r["contact_time_ms"], r["impact_g"],
             r["trunk_lean_deg"], r["balance_left_pct"], r["cues"]] for r in result.summary.to_pylist()]
    print_table(f"{len(paths)} files in {result.wall_s:.1f} s -> {out_dir}",
                ["file", "runner", "steps", "cadence", "contact ms", "impact g", "lean deg", "left %", "cues"],
                rows)
    for o in result.failed:
        print(f"sensorkit: error: {o.error}", file=sys.stderr)
    return 1 if result.failed else 0
