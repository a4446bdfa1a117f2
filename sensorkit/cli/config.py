"""`sensorkit config`: check a config file, print the reference or a starting point."""

from __future__ import annotations

import argparse
from importlib import resources


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="check a config file, print the key reference or an example")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate a TOML config without running anything")
    check.add_argument("file")
    check.set_defaults(func=_check)
    actions.add_parser("reference", help="every section and key, as Markdown").set_defaults(func=_reference)
    actions.add_parser("example", help="the demo's config, to start from").set_defaults(func=_example)


def _check(args: argparse.Namespace) -> int:
    from sensorkit.config import load_config

    cfg = load_config(args.file)
    pods = sum(len(r.pods) for r in cfg.runners)
    phones = sum(len(r.phones) for r in cfg.runners)
    sim = cfg.simulator.runners if cfg.simulator else 0
    print(f"{args.file}: ok ({len(cfg.runners)} runner(s), {pods} pod(s), {phones} phone(s), "
          f"{sim} simulated runner(s))")
    return 0


def _reference(args: argparse.Namespace) -> int:
    from sensorkit.config.reference import markdown_reference

    print(markdown_reference(), end="")
    return 0


def _example(args: argparse.Namespace) -> int:
    print(resources.files("sensorkit.config").joinpath("demo.toml").read_text(encoding="utf-8"), end="")
    return 0
