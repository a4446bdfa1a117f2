"""`sensorkit demo`: simulated runners through the whole pipeline, on embedded defaults."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="simulated runners through the whole pipeline (no sensors, no servers)",
                       description="Run simulated runners (runner1 tires from minute 20) through DSP, cues, "
                       "the recording, the terminal view and whatever else the config switches on.")
    p.add_argument("--config", help="TOML config instead of the embedded demo defaults")
    p.add_argument("--runners", type=int, help="number of simulated runners (default 3)")
    p.add_argument("--speed", default="1", help="times real time, or 'max' (default 1: real time)")
    p.add_argument("--duration-min", type=float, help="length of the simulated run in minutes (default 32)")
    p.add_argument("--seed", type=int, help="random seed of the simulation")
    p.add_argument("--no-record", action="store_true", help="do not write a recording")
    p.add_argument("--no-terminal", action="store_true", help="no live terminal table")
    p.add_argument("--dashboard", action=argparse.BooleanOptionalAction, default=None,
                   help="serve the live web dashboard (default: the config's [dashboard] enabled, on in the demo)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sensorkit.cli._runtime import execute
    from sensorkit.compose import Mode, assemble, parse_speed
    from sensorkit.config import demo_config, load_config
    from sensorkit.sources.simulator.settings import SimulatorSettings

    cfg = load_config(args.config) if args.config else demo_config()
    sim = cfg.simulator or SimulatorSettings()
    update = {k: v for k, v in {"runners": args.runners, "seed": args.seed,
                                "duration_s": None if args.duration_min is None else args.duration_min * 60}.items()
              if v is not None}
    if update:
        sim = SimulatorSettings.model_validate({**sim.model_dump(), **update})
    cfg = cfg.model_copy(update={"simulator": sim})
    assembly = assemble(cfg, Mode.DEMO, speed=parse_speed(args.speed),
                        terminal=False if args.no_terminal else None, dashboard=args.dashboard,
                        record=False if args.no_record else None)
    return execute(assembly)
