"""Soak: a simulated 3-hour marathon, 3 pods at 200 Hz, flat out through the whole pipeline.

Run: ``python -m bench.soak_marathon [--hours 3] [--runners 1] [--loss 0.002] [--seed 0]``

The real composition (metrics, cue engine, recording, dashboard, cue WAVs) on a fatiguing
simulated runner whose pods lose bursts of packets. Holds when RSS grows less than 10 %
after warm-up, no asyncio task outlives the session, and every sample the simulator made is
either in the recording or counted in a recorded gap (bench/soak_common.py). Prints the
figures and writes bench/results/soak_marathon.json. The CI version (a few minutes of data)
is tests/test_soak.py.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
from pathlib import Path

from bench.soak_common import SoakPlan, print_result, run_soak, save_result

RESULTS = Path(__file__).resolve().parent / "results" / "soak_marathon.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--hours", type=float, default=3.0, help="simulated data time")
    ap.add_argument("--runners", type=int, default=1)
    ap.add_argument("--loss", type=float, default=0.002, help="injected packet loss per pod (bursts of 3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    plan = SoakPlan(runners=args.runners, duration_s=args.hours * 3600, speed=math.inf, loss_fraction=args.loss,
                    seed=args.seed, rss_every_s=1.0, warmup_fraction=0.1)
    with tempfile.TemporaryDirectory(prefix="soak-marathon-") as tmp:
        result = asyncio.run(run_soak(plan, Path(tmp)))
    print_result(f"soak_marathon: {args.runners} runner(s) x 3 pods, {args.hours:g} h simulated, flat out", result)
    verdict = save_result("soak_marathon", args.out, result)
    print(f"headline: {args.hours:g} h marathon in {result.wall_s:.0f} s wall; {verdict}")
    return 1 if result.problems() else 0


if __name__ == "__main__":
    raise SystemExit(main())
