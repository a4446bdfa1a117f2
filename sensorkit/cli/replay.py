"""`sensorkit replay FILE`: a recorded session through the same pipeline as live."""

from __future__ import annotations

import argparse
import math
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="replay a recording through the live pipeline",
                       description="Feed a recording's raw samples through the same stages and sinks as a "
                       "live run: the metrics are the live run's, whatever the speed.")
    p.add_argument("recording", type=Path, help="a .skrec recording")
    speed = p.add_mutually_exclusive_group()
    speed.add_argument("--speed", default="1", help="times real time (default 1)")
    speed.add_argument("--max", action="store_true", help="as fast as possible")
    p.add_argument("--config", help="TOML config for sinks, and for metrics and cues when it sets them "
                   "(default: the recorded run's metrics and cue settings, no servers)")
    p.add_argument("--record", type=Path, metavar="DIR",
                   help="write the replay's output as a new recording in DIR")
    p.add_argument("--no-terminal", action="store_true", help="no live terminal table")
    p.add_argument("--dashboard", action=argparse.BooleanOptionalAction, default=None,
                   help="serve the live web dashboard (default: the config's [dashboard] enabled)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sensorkit.cli._runtime import execute
    from sensorkit.compose import Mode, assemble, parse_speed, replay_config
    from sensorkit.config import Config, load_config
    from sensorkit.store.recording.settings import RecordingSettings

    cfg = load_config(args.config) if args.config else Config()
    cfg = replay_config(args.recording, cfg, explicit=cfg.model_fields_set)
    if args.record is not None:
        cfg = cfg.model_copy(update={"recording": RecordingSettings(directory=args.record)})
    assembly = assemble(cfg, Mode.REPLAY, speed=math.inf if args.max else parse_speed(args.speed),
                        replay=args.recording, record=args.record is not None,
                        terminal=False if args.no_terminal else None, dashboard=args.dashboard)
    return execute(assembly)

