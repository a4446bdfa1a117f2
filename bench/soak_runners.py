"""Soak: 20 simulated runners (60 pods) in real time for 10 minutes through the whole pipeline.

Run: ``python -m bench.soak_runners [--runners 20] [--minutes 10] [--loss 0.002] [--seed 0]``

The real composition (metrics, cue engine, recording, dashboard, cue WAVs), paced by the
host clock as live pods would be. Holds when RSS grows less than 10 % after warm-up (the
first fifth: the dashboard's 60 s of chart history and the baselines fill), no asyncio task
outlives the session, and every sample the simulator made is in the recording or in a
recorded gap (bench/soak_common.py). Also reports how far the pipeline fell behind real time
(``lag``: wall time minus data time at each probe). Writes bench/results/soak_runners.json.
The CI version (20 runners for 15 s) is tests/test_soak.py.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from bench.soak_common import SoakPlan, print_result, run_soak, save_result

RESULTS = Path(__file__).resolve().parent / "results" / "soak_runners.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runners", type=int, default=20)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--loss", type=float, default=0.002, help="injected packet loss per pod (bursts of 3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    plan = SoakPlan(runners=args.runners, duration_s=args.minutes * 60, speed=1.0, loss_fraction=args.loss,
                    seed=args.seed, rss_every_s=2.0, warmup_fraction=0.2)
    with tempfile.TemporaryDirectory(prefix="soak-runners-") as tmp:
        result = asyncio.run(run_soak(plan, Path(tmp)))
    print_result(f"soak_runners: {args.runners} runners x 3 pods, {args.minutes:g} min in real time", result)
    lags = [wall - data for wall, data, _ in result.rss if data > 0]
    max_lag = round(max(lags), 2) if lags else None
    print(f"  pipeline behind real time: max {max_lag} s")
    verdict = save_result("soak_runners", args.out, result, max_lag_s=max_lag)
    print(f"headline: {args.runners} runners x {args.minutes:g} min: {verdict}")
    return 1 if result.problems() else 0


if __name__ == "__main__":
    raise SystemExit(main())
