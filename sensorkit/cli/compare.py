"""``sensorkit compare A B``: two sessions (or two windows of one) side by side in one report."""

from __future__ import annotations

import argparse
from pathlib import Path

from sensorkit.errors import ConfigError


def _window(text: str | None) -> tuple[float, float] | None:
    """``"5:15"`` (minutes) -> (300.0, 900.0) seconds; an empty end means to the end."""
    if text is None:
        return None
    try:
        a, _, b = text.partition(":")
        start = float(a) * 60.0 if a else 0.0
        end = float(b) * 60.0 if b else float("inf")
    except ValueError:
        raise ConfigError(f"window {text!r}: expected START:END in minutes, e.g. 5:15") from None
    if not end > start:
        raise ConfigError(f"window {text!r}: END must be after START")
    return start, end


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compare", help="compare two sessions (fresh vs fatigued, old vs new shoes) in one HTML report",
        description="Analyse two inputs (recordings, phone exports, CSV) with the live stages and write "
                    "one report with both side by side: differences, effect sizes, plots. Give the same "
                    "file twice with --window-a/--window-b to compare parts of one run.")
    p.add_argument("a", help="first session (the reference)")
    p.add_argument("b", help="second session")
    p.add_argument("--out", type=Path, default=Path("comparison.html"), help="report file (default comparison.html)")
    p.add_argument("--label-a", default="A", help="name of the first side (e.g. fresh)")
    p.add_argument("--label-b", default="B", help="name of the second side (e.g. fatigued)")
    p.add_argument("--runner-a", help="runner in A (default: the first)")
    p.add_argument("--runner-b", help="runner in B (default: the first)")
    p.add_argument("--window-a", metavar="START:END", help="minutes of A to use, e.g. 5:15")
    p.add_argument("--window-b", metavar="START:END", help="minutes of B to use, e.g. 35:45")
    p.add_argument("--config", type=Path, help="sensorkit TOML config: its [metrics] and [alerts]")
    p.add_argument("--placement", default="lower_back", help="where a CSV's sensor was worn")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sensorkit.analysis.compare import compare, side, write_compare_report
    from sensorkit.analysis.inputs import InputOptions
    from sensorkit.analysis.progress import print_table, stage_settings
    from sensorkit.analysis.session import analyze_path
    from sensorkit.model import Placement

    settings = stage_settings(args.config)
    opts = InputOptions(placement=Placement(args.placement))
    wa, wb = _window(args.window_a), _window(args.window_b)
    first = analyze_path(args.a, opts, settings)
    second = first if args.b == args.a else analyze_path(args.b, opts, settings)
    for analysis, runner, flag in ((first, args.runner_a, "--runner-a"), (second, args.runner_b, "--runner-b")):
        if runner is not None and runner not in analysis.runners:
            raise ConfigError(f"{flag} {runner!r}: {analysis.path} has {', '.join(analysis.runners)}")
    a = side(first, args.label_a, args.runner_a, wa)
    b = side(second, args.label_b, args.runner_b, wb)
    out = write_compare_report(a, b, args.out, settings.alerts)
    print_table(f"{a.label} vs {b.label} -> {out}", ["metric", a.label, b.label, "B - A", "%", "g", "effect"],
                [[c.label, c.mean_a, c.mean_b, c.diff, c.diff_pct, c.hedges_g, c.magnitude]
                 for c in compare(a, b)])
    return 0
