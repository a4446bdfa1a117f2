"""Entry point: discovers subcommand modules in ``sensorkit.cli`` and dispatches to them.

A subcommand module defines ``register(subparsers)`` which adds its parser and sets
``func=callable(args) -> int``; the command ``X`` lives in ``X.py`` (or ``X_.py`` when ``X`` is a
Python keyword). Only the chosen command's module is imported, so ``sensorkit CMD`` starts fast
however heavy the other commands are. Adding a command never touches this file.
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


def command_modules() -> dict[str, str]:
    """Command name -> module name, found without importing anything."""
    import sensorkit.cli as pkg

    return {m.name.rstrip("_"): m.name for m in pkgutil.iter_modules(pkg.__path__)
            if m.name != "main" and not m.name.startswith("_")}


def build_parser(only: str | None = None, *, commands: bool = True) -> argparse.ArgumentParser:
    """The parser with every command, just ``only`` (the command being run), or none."""
    parser = argparse.ArgumentParser(
        prog="sensorkit",
        description="Live running-form metrics and fatigue cues from IMU pods, shoes and phones.",
    )
    parser.add_argument("--version", action="version", version=f"sensorkit {sensorkit.__version__}")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log verbosity (stderr)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = command_modules()
    for name in ([] if not commands else sorted(modules) if only is None else [only]):
        register = getattr(importlib.import_module(f"sensorkit.cli.{modules[name]}"), "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = command_modules()
    chosen = next((a for a in argv if a in commands), None)
    wants_help = any(a in ("-h", "--help") for a in (argv if chosen is None else argv[: argv.index(chosen)]))
    if wants_help:
        chosen = None  # `sensorkit --help [run]`: the full command list
    # `sensorkit --version` needs no command at all; the full list only for help.
    unknown_word = chosen is None and any(not a.startswith("-") for a in argv)  # a typo: list them all
    parser = build_parser(chosen, commands=chosen is not None or wants_help or unknown_word)
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        build_parser().print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SensorkitError as exc:
        print(f"sensorkit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
