"""Entry point: discovers subcommand modules in ``sensorkit.cli`` and dispatches to them.

A subcommand module defines ``register(subparsers)`` which adds its parser and sets
``func=callable(args) -> int``. Adding a command never touches this file.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

import sensorkit
from sensorkit.errors import SensorkitError

log = logging.getLogger("sensorkit")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sensorkit",
        description="Live running-form metrics and fatigue cues from IMU pods, shoes and phones.",
    )
    parser.add_argument("--version", action="version", version=f"sensorkit {sensorkit.__version__}")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log verbosity (stderr)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    import sensorkit.cli as pkg

    for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if mod.name in {"main"} or mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"sensorkit.cli.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SensorkitError as exc:
        print(f"sensorkit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
