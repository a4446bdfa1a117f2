"""``sensorkit export RECORDING --influx URL ...``: push a recorded session somewhere else.

Each destination is an :class:`ExportTarget` in :data:`TARGETS` with its own argument group;
one command line may name several (``--influx`` today; CSV, Parquet and FIT targets add
themselves to the tuple). Secrets come from the environment or files, never from arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import tomllib
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from sensorkit.errors import ConfigError, SensorkitError


class ExportTarget(Protocol):
    """One export destination: its flags, whether the command line asks for it, and the export."""

    name: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def wanted(self, args: argparse.Namespace) -> bool: ...

    def run(self, args: argparse.Namespace, reader: Any) -> str:
        """Export the open recording; returns a one-line summary, raises SensorkitError."""
        ...


class InfluxTarget:
    """InfluxDB 1.x (``--api v1``) or 2.x/3.x/Cloud and compatibles (``--api v2``)."""

    name = "influx"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        g = parser.add_argument_group(
            "InfluxDB", "Settings default to the [influx] section of --config; flags override them. "
                        "Token/password come from the environment variable or file named here.")
        g.add_argument("--influx", metavar="URL", nargs="?", const="",
                       help="export to the InfluxDB at URL (http:// or https://); without URL, to the "
                            "url of the config's [influx] section")
        g.add_argument("--api", choices=["v1", "v2"], help="v2: InfluxDB 2/3/Cloud (org, bucket, token); "
                                                           "v1: InfluxDB 1.x (database, user/password)")
        g.add_argument("--org", help="v2 organization")
        g.add_argument("--bucket", help="v2 bucket (InfluxDB 3: database)")
        g.add_argument("--database", help="v1 database")
        g.add_argument("--retention-policy", help="v1 retention policy")
        g.add_argument("--username", help="v1 user name")
        g.add_argument("--token-env", metavar="VAR", help="environment variable holding the API token")
        g.add_argument("--token-file", type=Path, metavar="FILE", help="file holding the API token")
        g.add_argument("--password-env", metavar="VAR", help="environment variable holding the v1 password")
        g.add_argument("--password-file", type=Path, metavar="FILE", help="file holding the v1 password")
        g.add_argument("--raw-imu", choices=["full", "downsampled", "off"],
                       help="raw IMU samples: every sample, downsampled, or none (default: full)")
        g.add_argument("--raw-imu-rate-hz", type=float, help="rate of raw IMU points when downsampled")
        g.add_argument("--numeric-fields-only", action="store_true", default=None,
                       help="leave out text fields (for VictoriaMetrics)")
        g.add_argument("--batch-points", type=int, help="points per write request")

    def wanted(self, args: argparse.Namespace) -> bool:
        return args.influx is not None

    def settings(self, args: argparse.Namespace) -> Any:
        from sensorkit.store.influx import InfluxSettings

        base = _config_section(args.config, "influx")
        base.setdefault("raw_imu", "full")  # an export keeps everything unless told otherwise
        flags = {"url": args.influx or None, "api": args.api, "org": args.org, "bucket": args.bucket,
                 "database": args.database, "retention_policy": args.retention_policy,
                 "username": args.username, "token_env": args.token_env, "token_file": args.token_file,
                 "password_env": args.password_env, "password_file": args.password_file,
                 "raw_imu": args.raw_imu, "raw_imu_rate_hz": args.raw_imu_rate_hz,
                 "numeric_fields_only": args.numeric_fields_only, "batch_points": args.batch_points}
        merged = base | {k: v for k, v in flags.items() if v is not None}
        try:
            return InfluxSettings(**merged)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise ConfigError(f"influx export: {where}: {first['msg']}") from None

    def run(self, args: argparse.Namespace, reader: Any) -> str:
        from sensorkit.store.influx.export import export_recording

        settings = self.settings(args)
        t0 = time.monotonic()
        stats = asyncio.run(export_recording(reader, settings))
        took = time.monotonic() - t0
        lost = stats.points_dropped_spool_full + stats.points_rejected
        left = (f", {stats.spool_points} left in the spool {settings.spool_path()}"
                if stats.spool_points else "")
        warn = f", {lost} NOT written (see the log)" if lost else ""
        return (f"{settings.target}: {stats.points_written} points in {took:.1f} s "
                f"({stats.points_written / max(took, 1e-9):,.0f} points/s){left}{warn}")


from sensorkit.analysis.export_targets import TARGETS as _RESEARCH_TARGETS  # noqa: E402

TARGETS: tuple[ExportTarget, ...] = (InfluxTarget(), *_RESEARCH_TARGETS)


def _config_section(path: Path | None, section: str) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    value = data.get(section, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: [{section}] must be a table")
    return dict(value)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export", help="push a recorded session to InfluxDB (and other targets)",
        description="Export a recording (a .skrec folder) to one or more targets.")
    p.add_argument("recording", type=Path, help="the recording to export (NAME.skrec)")
    p.add_argument("--config", type=Path, help="sensorkit TOML config whose sections give target defaults")
    for target in TARGETS:
        target.add_arguments(p)
    p.set_defaults(func=run, _export_parser=p)


def run(args: argparse.Namespace) -> int:
    chosen = [t for t in TARGETS if t.wanted(args)]
    if not chosen:
        args._export_parser.error("name a target, e.g. --influx http://127.0.0.1:8086, --csv DIR, --parquet DIR "
                                  "or --fit FILE.fit")
    from sensorkit.store.recording import RecordingReader

    try:
        reader = RecordingReader(args.recording)
    except (OSError, KeyError) as exc:
        raise ConfigError(f"{args.recording}: not a readable recording ({exc})") from exc
    failed = 0
    with reader:
        for target in chosen:
            try:
                print(f"export {target.name}: {target.run(args, reader)}")
            except ConfigError:
                raise  # a usage problem: main prints it and exits with 2
            except SensorkitError as exc:
                failed += 1
                print(f"export {target.name}: error: {exc}", file=sys.stderr)
    return 1 if failed else 0
