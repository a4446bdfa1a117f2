"""``sensorkit import FILE --out NAME.skrec``: a CSV or phone app export as a sensorkit recording."""

from __future__ import annotations

import argparse
from pathlib import Path

from sensorkit.model import PhoneWear, Placement
from sensorkit.sources.csv_import import ACC_UNITS, GYRO_UNITS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "import", help="turn a CSV file or phone app export into a recording (replay, analyze, history)",
        description="Read a generic CSV (the `sensorkit analyze` contract), a Sensor Logger or phyphox "
                    "export or a HyperIMU log and write it as a sensorkit recording, with the metrics and "
                    "cues a live run would have recorded.")
    p.add_argument("file", help="CSV file, Sensor Logger zip/folder/JSON, phyphox zip/CSV, HyperIMU log")
    p.add_argument("--out", type=Path, metavar="NAME.skrec", help="recording to write (default: FILE's name "
                   "with .skrec, in the current folder)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing recording at --out")
    p.add_argument("--kind", choices=["csv", "sensorlogger", "phyphox", "hyperimu"],
                   help="input format (default: detected)")
    p.add_argument("--placement", choices=[x.value for x in Placement], default=Placement.LOWER_BACK.value,
                   help="where a CSV's sensor was worn (default: lower_back)")
    p.add_argument("--rate", type=float, metavar="HZ", help="sampling rate of a CSV without time_s")
    p.add_argument("--acc-unit", choices=ACC_UNITS, help="CSV acceleration unit (default g)")
    p.add_argument("--gyro-unit", choices=GYRO_UNITS, help="CSV angular-rate unit (default dps)")
    p.add_argument("--runner", default="runner", help="runner name (default: runner)")
    p.add_argument("--shoe", help="shoe worn (for mileage per shoe in `sensorkit history`)")
    p.add_argument("--phone-wear", choices=[w.value for w in PhoneWear], default=PhoneWear.ARMBAND.value,
                   help="where the phone was carried (default armband)")
    p.add_argument("--no-metrics", action="store_true", help="write the samples only, no metrics records")
    p.add_argument("--config", type=Path, help="sensorkit TOML config whose [metrics]/[alerts] to use")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sensorkit.analysis.importer import import_recording
    from sensorkit.analysis.inputs import InputOptions
    from sensorkit.analysis.progress import stage_settings

    opts = InputOptions(placement=Placement(args.placement), rate_hz=args.rate, acc_unit=args.acc_unit,
                        gyro_unit=args.gyro_unit, runner=args.runner, shoe=args.shoe,
                        phone_wear=PhoneWear(args.phone_wear), kind=args.kind)
    out = args.out or Path(Path(args.file.rstrip("/")).name.split(".")[0] + ".skrec")
    res = import_recording(args.file, out, opts, stage_settings(args.config), metrics=not args.no_metrics,
                           overwrite=args.overwrite)
    print(f"{args.file} ({res.kind}) -> {res.path}: {res.samples} samples, {res.records} records, "
          f"{res.duration_s:.1f} s")
    return 0
