"""``python -m bench``: every benchmark, one summary table, bench/results/summary.json.

Usage::

    python -m bench                      # full run (what the README figures come from)
    python -m bench --quick              # smoke run for CI: small sizes, results in bench/results/quick/
    python -m bench --only dsp_speed,live_capacity
    python -m bench --list

Each benchmark also runs alone as ``python -m bench.<name>`` and keeps its own JSON.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench._registry import select
from bench._runner import discover, exists, run_all


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true",
                    help="small sizes for a smoke run; results go to bench/results/quick/ (not the committed ones)")
    ap.add_argument("--only", action="append", metavar="NAME[,NAME]", help="run only these benchmarks")
    ap.add_argument("--results", type=Path, help="folder for the JSON files and summary.json")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = ap.parse_args(argv)
    specs = discover()
    if args.list:
        for s in specs:
            print(f"{s.name:18s} {'' if exists(s) else '(missing) '}python -m {s.module} {' '.join(s.full_args)}")
        return 0
    try:
        chosen = select(specs, args.only)
    except KeyError as exc:
        ap.error(str(exc.args[0]))
    summary = run_all(chosen, quick=args.quick, results=args.results)
    broken = [b["name"] for b in summary["benchmarks"] if b["status"] in ("failed", "timeout")]
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
