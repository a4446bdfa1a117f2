"""Where the time goes: CPU per stage for one runner (3 pods, acc+gyro at 200 Hz).

Run: ``python -m bench.pipeline_cost [--seconds 300] [--blocks 0.04,1.0] [--repeats 3] [--profile]``

One simulated runner's items (as the live source makes them, in blocks of ``--blocks``
seconds) are pushed through each stage on its own, timed with ``process_time`` (best of
``--repeats``), then through the whole ``Session`` (simulator at max speed -> RunnerMetrics
-> cue engine -> bus -> RecordingSink). Figures are CPU microseconds per item and percent of a
core per runner in real time (``100 * CPU s / data s``), so "runners per core" = 100 / the
total. ``--profile`` adds cProfile's top functions (own time) for the metrics stage.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import math
import pstats
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench._measure import load_avg, machine, write_json
from sensorkit import __version__
from sensorkit.alerts import AlertsSettings, build_cue_engine
from sensorkit.dsp.chain import SensorChain
from sensorkit.metrics import RunnerMetrics
from sensorkit.model import BusItem, Gap, Placement, RunnerInfo, SampleBlock, SessionInfo
from sensorkit.pipeline.gc_pauses import freeze_startup_objects
from sensorkit.pipeline.session import Session
from sensorkit.sources.simulator import SimulatorSource, steady_config
from sensorkit.sources.simulator.feed import ItemFeed
from sensorkit.sources.simulator.run import SimulatedRun
from sensorkit.store.recording.sink import RecordingSink
from sensorkit.store.recording.writer import RecordingWriter

RESULTS = Path(__file__).resolve().parent / "results" / "pipeline_cost.json"


def _best(fn: Callable[[], Any], repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def measure(seconds: float, block_s: float, repeats: int) -> dict[str, Any]:
    cfg = steady_config(duration_s=seconds, seed=0, name="r0")
    runner = RunnerInfo("r0")
    sensors = SimulatedRun(cfg).sensors
    info = SessionInfo("cost", 0.0, (runner,), tuple(sensors), __version__, {})
    items: list[Any] = []

    def feed() -> None:
        items.clear()
        for window in ItemFeed(SimulatedRun(cfg), block_s, 1.0).windows():
            items.extend(x for _, x in window)

    rows: dict[str, float] = {"simulator (signals + blocks)": _best(feed, repeats)}
    blocks = [x for x in items if isinstance(x, SampleBlock | Gap)]
    for placement in (Placement.LOWER_BACK, Placement.LEFT_FOOT):
        sinfo = next(s for s in sensors if s.placement is placement)
        mine = [b for b in blocks if b.sensor_id == sinfo.sensor_id]

        def chain(sinfo: Any = sinfo, mine: list[Any] = mine) -> None:
            c = SensorChain(sinfo)
            for b in mine:
                c.update(b)

        rows[f"DSP chain {placement.value}"] = _best(chain, repeats)
    rows["DSP chain right_foot (= left)"] = rows["DSP chain left_foot"]
    records: list[BusItem] = []

    def metrics() -> None:
        records.clear()
        st = RunnerMetrics(runner, sensors)
        for it in items:
            records.extend(st.update(it))
        records.extend(st.finish())

    total_metrics = _best(metrics, repeats)
    chains = rows["DSP chain lower_back"] + 2 * rows["DSP chain left_foot"]
    rows["metrics fusion + records (RunnerMetrics - chains)"] = max(total_metrics - chains, 0.0)

    def cues() -> None:
        ce = build_cue_engine("r0", AlertsSettings())
        for it in items:
            ce.update(it)
        for r in records:
            ce.update(r)

    rows["cue engine"] = _best(cues, repeats)
    with tempfile.TemporaryDirectory(prefix="cost-") as tmp:
        k = [0]

        def record() -> None:
            k[0] += 1
            with RecordingWriter(Path(tmp) / f"w{k[0]}.skrec", info) as w:
                w.write_many([*items, *records])

        rows["recording writer (sync)"] = _best(record, repeats)

        def session() -> None:
            k[0] += 1
            src = SimulatorSource(cfg, speed=math.inf, block_duration_s=block_s)
            stages: dict[str, list[Any]] = {"r0": [RunnerMetrics(runner, sensors),
                                                   build_cue_engine("r0", AlertsSettings())]}
            asyncio.run(Session(info, [src], stages, [RecordingSink(Path(tmp) / f"s{k[0]}.skrec", info)]).run())

        freeze_startup_objects()  # as the CLI does before a session (short full collections)
        whole = _best(session, repeats)
    parts = sum(rows.values())
    rows["session, bus, channels, sink task (whole - parts)"] = max(whole - parts, 0.0)
    n = len(items)
    return {"block_s": block_s, "seconds": seconds, "items": n, "records": len(records), "whole_cpu_s": whole,
            "x_real_time": seconds / whole, "runners_per_core": seconds / whole,
            "stages": {k: {"cpu_s": v, "us_per_item": 1e6 * v / n, "pct_core_per_runner": 100 * v / seconds}
                       for k, v in rows.items()}}


def profile(seconds: float, block_s: float, top: int = 25) -> list[dict[str, Any]]:
    cfg = steady_config(duration_s=seconds, seed=0, name="r0")
    items = [x for w in ItemFeed(SimulatedRun(cfg), block_s, 1.0).windows() for _, x in w]
    st = RunnerMetrics(RunnerInfo("r0"), SimulatedRun(cfg).sensors)
    pr = cProfile.Profile()
    pr.enable()
    for it in items:
        st.update(it)
    pr.disable()
    stats = pstats.Stats(pr)
    rows = []
    total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
    for (file, line, fn), (_cc, nc, tt, ct, _) in sorted(stats.stats.items(),  # type: ignore[attr-defined]
                                                          key=lambda kv: -kv[1][2])[:top]:
        short = file.split("/sensorkit/")[-1] if "/sensorkit/" in file else file.rsplit("/", 1)[-1]
        rows.append({"function": f"{short}:{line}({fn})", "calls": nc, "own_pct": round(100 * tt / total, 1),
                     "cum_s": round(ct, 3)})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--seconds", type=float, default=300.0, help="simulated seconds")
    ap.add_argument("--blocks", default="0.04,1.0", help="block durations (s): 0.04 = live pods, 1.0 = batch")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="cProfile the metrics stage at the first block size")
    ap.add_argument("--quick", action="store_true", help="smoke run: 60 s, one repeat")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    seconds, repeats = (60.0, 1) if args.quick else (args.seconds, args.repeats)
    print(f"sensorkit {__version__}: one runner, 3 pods @200 Hz, {seconds:g} s; best of {repeats}; "
          f"load average {load_avg()}")
    results = []
    for b in [float(x) for x in args.blocks.split(",")]:
        r = measure(seconds, b, repeats)
        results.append(r)
        print(f"\nblocks of {b * 1000:g} ms: {r['items']} items, whole session {r['whole_cpu_s']:.2f} CPU s "
              f"= {r['x_real_time']:.0f}x real time (= runners per core)")
        print(f"  {'stage':52s} {'us/item':>9s} {'% core/runner':>14s}")
        for k, v in r["stages"].items():
            print(f"  {k:52s} {v['us_per_item']:9.1f} {v['pct_core_per_runner']:14.3f}")
    prof = profile(seconds, float(args.blocks.split(",")[0])) if args.profile else []
    if prof:
        print("\nRunnerMetrics at the first block size, top functions by own time:")
        for p in prof:
            print(f"  {p['own_pct']:5.1f} %  {p['calls']:8d}  {p['function']}")
    live = results[0]
    print(f"\nHEADLINE: {live['x_real_time']:.0f} runners per core by CPU at {live['block_s'] * 1000:g} ms blocks "
          f"(whole session); DSP chains are "
          f"{sum(v['cpu_s'] for k, v in live['stages'].items() if k.startswith('DSP')) / live['whole_cpu_s']:.0%} "
          f"of it")
    write_json(args.out, {"version": __version__, "results": results, "profile": prof,
                          "headline_runners_per_core_cpu": live["x_real_time"], "quick": args.quick, **machine()})
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
