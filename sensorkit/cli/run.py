"""`sensorkit run --config FILE`: real pods and phones (and any simulated runners) live."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="stream real pods and phones live through the pipeline",
                       description="Connect the pods and phones named in the config and run until Ctrl-C.")
    p.add_argument("--config", required=True, help="TOML config (see README, Configuration)")
    p.add_argument("--no-terminal", action="store_true", help="no live terminal table")
    p.add_argument("--dashboard", action=argparse.BooleanOptionalAction, default=None,
                   help="serve the live web dashboard (default: the config's [dashboard] enabled)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sensorkit.cli._runtime import execute
    from sensorkit.compose import Mode, assemble
    from sensorkit.config import load_config

    cfg = load_config(args.config)
    assembly = assemble(cfg, Mode.RUN, terminal=False if args.no_terminal else None, dashboard=args.dashboard)
    return execute(assembly)
