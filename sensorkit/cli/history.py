"""``sensorkit history [FOLDER...]``: weekly running time and distance, load warnings, shoe mileage."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "history", help="training load per week (with >10 %% increase warnings) and mileage per shoe",
        description="Read every recording in the folders (default: [history] directories of --config, "
                    "else ./recordings) and print weekly running time and distance per runner, warnings "
                    "when the weekly load rises too fast, and the kilometres on each shoe.")
    p.add_argument("folders", nargs="*", type=Path, help="folders (searched recursively) or recordings")
    p.add_argument("--config", type=Path, help="sensorkit TOML config: its [history] section and runners' shoes")
    p.add_argument("--runner", help="only this runner")
    p.add_argument("--weeks", type=int, default=12, help="show the last N weeks (default 12; 0 = all)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write everything as JSON")
    p.set_defaults(func=run)


def read_config(path: Path | None) -> tuple[Any, dict[str, str]]:
    """HistorySettings from ``[history]`` and each configured runner's shoe (the one config loader)."""
    from sensorkit.analysis.history import HistorySettings
    from sensorkit.config import load_config

    if path is None:
        return HistorySettings(), {}
    cfg = load_config(path)
    return cfg.history, {r.name: r.shoe for r in cfg.runners if r.shoe}


def run(args: argparse.Namespace) -> int:
    from sensorkit.analysis.history import history, scan
    from sensorkit.analysis.history.load import fmt_duration
    from sensorkit.analysis.progress import print_table

    settings, shoes = read_config(args.config)
    entries, problems = scan(settings, shoes, args.folders or None)
    h = history(entries, settings, args.runner)
    weeks = h.weeks[-args.weeks * max(1, len({w.runner for w in h.weeks})):] if args.weeks else h.weeks
    print_table(f"{len(h.entries)} sessions", ["runner", "week of", "sessions", "time", "km", "change %", ""],
                [[w.runner, w.start.isoformat(), w.sessions, fmt_duration(w.running_s),
                  f"{w.distance_m / 1000:.1f}" if w.distance_known else "?",
                  "-" if w.change_pct is None else f"{w.change_pct:+.0f}", "WARNING" if w.warning else ""]
                 for w in weeks])
    print_table(f"shoes (replace at {settings.shoe_replace_km:g} km)", ["shoe", "km", "sessions", "last run", "status"],
                [[s.shoe, f"{s.km:.1f}", s.sessions, s.last.isoformat() if s.last else "-", s.status]
                 for s in h.shoes])
    for w in h.warnings:
        print(f"warning: {w}")
    if h.undated:
        print(f"note: {h.undated} session(s) without a start date count for shoes, not for weeks")
    for p in problems:
        print(f"note: {p}")
    if args.json:
        args.json.write_text(json.dumps(to_json(h), indent=1), encoding="utf-8")
    return 0


def to_json(h: Any) -> dict[str, Any]:
    import dataclasses

    def plain(x: Any) -> Any:
        d = dataclasses.asdict(x)
        return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in d.items()}

    return {"sessions": [plain(e) for e in h.entries], "weeks": [plain(w) for w in h.weeks],
            "shoes": [plain(s) for s in h.shoes], "warnings": h.warnings}
