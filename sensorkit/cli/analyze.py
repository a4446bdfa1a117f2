"""``sensorkit analyze FILE``: gait metrics from a recording or a generic CSV file."""

from __future__ import annotations

import argparse
import sys

from sensorkit.metrics.files import analyze_file, write_events_csv, write_steps_csv
from sensorkit.model import Placement
from sensorkit.sources.csv_import import ACC_UNITS, GYRO_UNITS, CsvOptions


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "analyze", help="compute step events and metrics from a recording or a CSV file",
        description="Analyse a sensorkit recording (*.skrec) or a CSV file with columns time_s (or "
                    "--rate), ax_g, ay_g, az_g and optionally gx_dps, gy_dps, gz_dps, in any "
                    "orientation.")
    p.add_argument("file", help="recording directory (*.skrec) or CSV file")
    p.add_argument("--placement", choices=[x.value for x in Placement], default=Placement.LOWER_BACK.value,
                   help="where the CSV's sensor was worn (default: lower_back)")
    p.add_argument("--rate", type=float, default=None, metavar="HZ",
                   help="sampling rate of a CSV without a time_s column")
    p.add_argument("--acc-unit", choices=ACC_UNITS, default=None, help="CSV acceleration unit (default g)")
    p.add_argument("--gyro-unit", choices=GYRO_UNITS, default=None,
                   help="CSV angular-rate unit (default dps)")
    p.add_argument("--events-out", metavar="FILE.csv", help="write time_s,event,side,sensor")
    p.add_argument("--steps-out", metavar="FILE.csv", help="write one row per step")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    opts = CsvOptions(placement=Placement(args.placement), rate_hz=args.rate, acc_unit=args.acc_unit,
                      gyro_unit=args.gyro_unit)
    result = analyze_file(args.file, opts)
    if args.events_out:
        write_events_csv(result.events(), args.events_out)
    if args.steps_out:
        write_steps_csv(result.steps(), args.steps_out)
    for runner in result.info.runners:
        print(f"{runner.name}:")
        for key, value in result.summary(runner.name).items():
            shown = "-" if value is None else (f"{value:.1f}" if isinstance(value, float) else str(value))
            print(f"  {key:24s} {shown}")
    sys.stdout.flush()
    return 0
