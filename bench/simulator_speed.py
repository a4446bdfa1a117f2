"""How fast the simulator makes data: generator, item feed and async source, and marathon memory.

    python -m bench.simulator_speed [--seconds 1800] [--repeats 3]

Headline: simulated seconds per wall second for one runner with 3 pods at 200 Hz (target
>= 5000x real time). Times are the best of ``--repeats`` (the machine is shared; the load
average is recorded with the results).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from sensorkit.model import PhoneWear, Placement
from sensorkit.sources.simulator import (
    FatigueProfile,
    ItemFeed,
    PodConfig,
    RunnerProfile,
    SimulatedRun,
    SimulationConfig,
    SimulatorSource,
    default_pods,
)

RESULTS = Path(__file__).resolve().parent / "results" / "simulator_speed.json"


def configs(seconds: float) -> dict[str, SimulationConfig]:
    fat = RunnerProfile(fatigue=FatigueProfile(onset_s=seconds / 3, ramp_s=120.0))
    four = (*default_pods(208.0), PodConfig(Placement.PHONE, 100.0, acc_range_g=8.0, phone_wear=PhoneWear.POCKET))
    lossy = tuple(PodConfig(p.placement, 200.0, mount_rpy_deg=(10.0, -80.0, 90.0), clock_drift_ppm=50.0,
                            loss_fraction=0.02) for p in default_pods())
    return {
        "3 pods @200 Hz, steady": SimulationConfig(RunnerProfile(), default_pods(200.0), seconds, 1),
        "3 pods @200 Hz, fatigue": SimulationConfig(fat, default_pods(200.0), seconds, 1),
        "3 pods @208 + phone @100": SimulationConfig(RunnerProfile(), four, seconds, 1),
        "3 pods, mount+drift+loss": SimulationConfig(RunnerProfile(), lossy, seconds, 1),
    }


def best_of(repeats: int, fn: Callable[[], object]) -> tuple[float, float]:
    """Best CPU seconds and median wall seconds of ``repeats`` runs.

    CPU time (this process) is the fair figure on a shared machine; wall time shows the load.
    """
    cpu, wall = [], []
    for _ in range(repeats):
        c, w = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return min(cpu), statistics.median(wall)


def generate(cfg: SimulationConfig) -> int:
    run = SimulatedRun(cfg)
    n = 0
    for k in range(len(cfg.pods)):
        for ch in run.chunks(k):
            n += len(ch)
    return n


def feed(cfg: SimulationConfig) -> int:
    return sum(len(w) for w in ItemFeed(SimulatedRun(cfg)).windows())


def source(cfg: SimulationConfig) -> int:
    async def go() -> int:
        n = 0
        async with SimulatorSource(cfg, speed=math.inf) as src:
            async for _ in src.items():
                n += 1
        return n
    return asyncio.run(go())


def pacing(speed: float = 20.0, seconds: float = 60.0) -> dict[str, float]:
    """Lateness of items against their schedule ``t0 + arrival / speed`` (no drift may build up)."""
    cfg = SimulationConfig(RunnerProfile(), default_pods(200.0), seconds, 3)

    async def go() -> list[float]:
        late: list[float] = []
        async with SimulatorSource(cfg, speed=speed) as src:
            t0 = time.monotonic()
            async for item in src.items():
                end = getattr(item, "end_s", None)
                due = float(getattr(item, "time_s", 0.0) if end is None else end)
                late.append(time.monotonic() - (t0 + due / speed))
        return late

    in_order = asyncio.run(go())
    late = sorted(in_order)
    n = len(late)
    tenth = max(1, n // 10)
    return {"speed": speed, "simulated_s": seconds, "items": float(n), "median_late_ms": 1000 * late[n // 2],
            "p99_late_ms": 1000 * late[int(n * 0.99)], "max_late_ms": 1000 * late[-1],
            "first_tenth_median_late_ms": 1000 * statistics.median(in_order[:tenth]),
            "last_tenth_median_late_ms": 1000 * statistics.median(in_order[-tenth:])}


def marathon(seconds: float = 3 * 3600.0) -> dict[str, float]:
    """3 hours, 3 pods: wall time, peak traced memory while streaming, truth size."""
    cfg = SimulationConfig(RunnerProfile(fatigue=FatigueProfile()), default_pods(200.0), seconds, 2)
    best, _ = best_of(1, lambda: generate(cfg))  # CPU seconds
    tracemalloc.start()
    run = SimulatedRun(cfg)
    for k in range(3):
        for _ in run.chunks(k):
            pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    c = time.process_time()
    steps = len(run.truth.steps)  # the back pod's per-step truth is measured on the model on demand
    truth_cpu = time.process_time() - c
    return {"simulated_s": seconds, "cpu_s": best, "x_real_time": seconds / best,
            "peak_traced_mb": peak / 1e6, "steps": float(steps), "truth_cpu_s": truth_cpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1800.0, help="simulated seconds per generator case")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    load = os.getloadavg()[0]
    rows = []
    for name, cfg in configs(args.seconds).items():
        best, med = best_of(args.repeats, lambda cfg=cfg: generate(cfg))  # type: ignore[misc]
        rows.append({"case": f"generator: {name}", "simulated_s": args.seconds, "best_cpu_s": best,
                     "median_wall_s": med, "x_real_time": args.seconds / best})
    short = min(args.seconds, 300.0)
    base = configs(short)["3 pods @200 Hz, steady"]
    for label, fn in (("item feed (40 ms blocks)", feed), ("SimulatorSource, speed=inf", source)):
        best, med = best_of(args.repeats, lambda fn=fn: fn(base))  # type: ignore[misc]
        items = fn(base)
        rows.append({"case": f"{label}: 3 pods @200 Hz", "simulated_s": short, "best_cpu_s": best,
                     "median_wall_s": med, "x_real_time": short / best, "items_per_s": items / best})
    mar = marathon()
    pace = pacing()
    print(f"\nsimulator speed (load average {load:.1f} on {os.cpu_count()} cores; best of {args.repeats})")
    print(f"{'case':52s} {'sim s':>7s} {'cpu s':>8s} {'wall s':>9s} {'x real time':>12s}")
    print(f"{'':52s} {'':7s} {'(best)':>8s} {'(median)':>9s} {'(per cpu s)':>12s}")
    for r in rows:
        print(f"{r['case']:52s} {r['simulated_s']:7.0f} {r['best_cpu_s']:8.3f} {r['median_wall_s']:9.3f} "
              f"{r['x_real_time']:12.0f}" + (f"   {r['items_per_s']:.0f} items/s" if "items_per_s" in r else ""))
    print(f"{'3-hour marathon, 3 pods @200 Hz, streamed':52s} {mar['simulated_s']:7.0f} {mar['cpu_s']:8.3f} "
          f"{'':9s} {mar['x_real_time']:12.0f}   peak traced memory {mar['peak_traced_mb']:.1f} MB, "
          f"{mar['steps']:.0f} truth steps ({mar['truth_cpu_s']:.2f} CPU s)")
    print(f"pacing at speed {pace['speed']:.0f} over {pace['simulated_s']:.0f} s: items late by median "
          f"{pace['median_late_ms']:.2f} ms, p99 {pace['p99_late_ms']:.2f} ms, max {pace['max_late_ms']:.2f} ms; "
          f"median in the first tenth {pace['first_tenth_median_late_ms']:.2f} ms, in the last tenth "
          f"{pace['last_tenth_median_late_ms']:.2f} ms (no accumulation)")
    headline = rows[0]["x_real_time"]
    print(f"\nheadline: {headline:.0f}x real time per runner (3 pods @200 Hz; target >= 5000x)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "headline_x_real_time": headline, "target_x_real_time": 5000, "rows": rows, "marathon": mar,
        "pacing": pace,
        "load_average_1min": load, "cpus": os.cpu_count(), "python": platform.python_version(),
        "machine": platform.machine(), "time_unix_s": time.time()}, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
