"""Recording write/read throughput for a 1-hour, 3-pod, 200 Hz session (720 k samples per pod, 2.16 M in all).

Run: ``python -m bench.recording_io [--minutes 60] [--block-ms 40] [--keep DIR]``

* write: items fed to RecordingWriter the way the live sink does (one SampleBlock per pod per
  ``block_ms``, records at their live rates, a flush every 0.5 s of session time); CPU time
  per hour of session is the cost of recording live.
* read: RecordingReader opening the file and loading every pod as float64 arrays, and the
  record tables as typed records.
* replay: ReplaySource yielding every item at maximum speed, without a pipeline behind it.

Reads are from the page cache (the file was just written), which is the common case for
replay right after a run; a cold read adds the disk's sequential read time (~360 MB/hour).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from sensorkit import __version__
from sensorkit.model import (
    Placement,
    PostureSample,
    RollingMetrics,
    RunnerInfo,
    SampleBlock,
    SensorHealth,
    SensorInfo,
    SessionInfo,
    Side,
    StepMetrics,
)
from sensorkit.sources.replay import ReplaySource
from sensorkit.store.recording import RecordingReader, RecordingWriter

RATE_HZ = 200.0
PLACEMENTS = (Placement.LOWER_BACK, Placement.LEFT_FOOT, Placement.RIGHT_FOOT)
RESULTS = Path(__file__).resolve().parent / "results" / "recording_io.json"


def _session() -> SessionInfo:
    sensors = tuple(SensorInfo(f"bench/{p.value}", "bench", p, RATE_HZ, device="synthetic")
                    for p in PLACEMENTS)
    return SessionInfo("bench", time.time(), (RunnerInfo("bench"),), sensors, __version__)


def _signals(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE_HZ
    phase = 2 * np.pi * 1.45 * t
    acc = np.stack([0.3 * np.sin(phase), 0.1 * np.cos(phase), 1 + 0.8 * np.sin(2 * phase)], axis=1)
    gyr = np.stack([40 * np.cos(phase), 10 * np.sin(phase), 5 * np.cos(2 * phase)], axis=1)
    return t, acc + rng.normal(0, 0.02, acc.shape), gyr + rng.normal(0, 1.0, gyr.shape)


def bench_write(path: Path, info: SessionInfo, minutes: float, block_ms: float) -> dict[str, float]:
    n = int(minutes * 60 * RATE_HZ)
    per_block = max(1, round(block_ms / 1000 * RATE_HZ))
    data = [_signals(n, seed) for seed in range(len(info.sensors))]
    # Pre-build the items so only the recording's cost is timed.
    items: list[object] = []
    flush_every = int(0.5 * RATE_HZ / per_block)
    step_dt, posture_dt = 1 / 2.9, 0.1
    next_step = next_posture = next_second = 0.0
    for k, i in enumerate(range(0, n, per_block)):
        for s, (t, acc, gyr) in zip(info.sensors, data, strict=True):
            j = i + per_block
            items.append(SampleBlock(s.sensor_id, t[i:j], acc[i:j], gyr[i:j]))
        now = i / RATE_HZ
        while next_step <= now:
            items.append(StepMetrics("bench", next_step, Side.LEFT, 0.34, 174.0, 174.2, 245.0, 95.0, 0.36,
                                     2.9, 80.0, False, 8.1, 6.0, trunk_lean_deg=7.5, sources="lower_back"))
            next_step += step_dt
        while next_posture <= now:
            items.append(PostureSample("bench", next_posture, 7.5, -0.4))
            next_posture += posture_dt
        while next_second <= now:
            items.append(RollingMetrics("bench", next_second, 30.0, 87, 174.0, 245.0))
            items.extend(SensorHealth("bench", s.sensor_id, s.placement, next_second, True, samples=i)
                         for s in info.sensors)
            next_second += 1.0
        if k % flush_every == flush_every - 1:
            items.append(None)  # flush marker
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with RecordingWriter(path, info, auto_flush=False) as writer:
        for item in items:
            if item is None:
                writer.flush()
            else:
                writer.write(item)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    samples = n * len(info.sensors)
    return {"write_wall_s": wall, "write_cpu_s": cpu, "samples": samples, "items": len(items),
            "bytes": size, "write_msamples_per_s": samples / wall / 1e6,
            "write_cpu_pct_of_real_time": 100 * cpu / (minutes * 60)}


def bench_read(path: Path) -> dict[str, float]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    reader = RecordingReader(path)
    blocks = [reader.samples(sid) for sid in reader.sensor_ids]
    read_samples_s, read_samples_cpu_s = time.perf_counter() - wall0, time.process_time() - cpu0
    assert all(np.isfinite(b.acc_g).all() for b in blocks)
    wall1 = time.perf_counter()
    n_records = sum(len(reader.records(name)) for name in ("steps", "posture", "rolling", "health"))
    read_records_s = time.perf_counter() - wall1
    wall2 = time.perf_counter()
    raw = [reader.raw(sid) for sid in reader.sensor_ids]
    memmap_s = time.perf_counter() - wall2
    return {"read_samples_s": read_samples_s, "read_samples_cpu_s": read_samples_cpu_s,
            "read_records_s": read_records_s, "records": n_records,
            "open_memmap_s": memmap_s, "samples_read": sum(len(b) for b in blocks),
            "read_mb_per_s": sum(r.nbytes for r in raw) / read_samples_s / 1e6}


async def _replay(path: Path, block_ms: float) -> tuple[int, float, float, float]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    async with ReplaySource(path, speed=math.inf) as src:  # the recorded blocks
        n = 0
        async for _ in src.items():
            n += 1
        span = src.end_time_s
    return n, time.perf_counter() - wall0, time.process_time() - cpu0, span


def bench_replay(path: Path, block_ms: float) -> dict[str, float]:
    n, wall, cpu, span = asyncio.run(_replay(path, block_ms))
    return {"replay_items": n, "replay_wall_s": wall, "replay_cpu_s": cpu, "replay_x_real_time": span / wall,
            "replay_x_real_time_cpu": span / cpu, "replay_us_per_item": 1e6 * wall / n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--block-ms", type=float, default=40.0)
    ap.add_argument("--keep", type=Path, help="keep the recording in this folder")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="skrec-bench-"))
    path = (args.keep or tmp) / "bench.skrec"
    if path.exists():
        shutil.rmtree(path)
    try:
        info = _session()
        res: dict[str, object] = {"minutes": args.minutes, "pods": len(info.sensors), "rate_hz": RATE_HZ,
                                  "block_ms": args.block_ms, "cores": os.cpu_count(),
                                  "load_avg_1min_before": os.getloadavg()[0]}
        res |= bench_write(path, info, args.minutes, args.block_ms)
        res |= bench_read(path)
        res |= bench_replay(path, args.block_ms)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = [
        ("session", f"{args.minutes:g} min, {len(info.sensors)} pods x {RATE_HZ:g} Hz, "
                    f"{res['samples']:,} samples, {res['bytes'] / 1e6:.0f} MB"),
        ("machine", f"{res['cores']} cores, load average {res['load_avg_1min_before']:.1f} before the run "
                    "(wall times grow with load; CPU times much less)"),
        ("write: wall / CPU", f"{res['write_wall_s']:.2f} s / {res['write_cpu_s']:.2f} s "
                              f"({res['write_msamples_per_s']:.1f} M samples/s)"),
        ("write: CPU at real time", f"{res['write_cpu_pct_of_real_time']:.3f} % of one core"),
        ("read all samples (float64)", f"{res['read_samples_s']:.3f} s wall, {res['read_samples_cpu_s']:.3f} s CPU "
                                       f"({res['read_mb_per_s']:.0f} MB/s)"),
        ("read records (4 tables)", f"{res['read_records_s']:.3f} s for {res['records']:,} rows"),
        ("open memory maps", f"{res['open_memmap_s'] * 1e3:.2f} ms"),
        ("replay source, max speed", f"{res['replay_x_real_time']:,.0f} x real time "
                                     f"({res['replay_x_real_time_cpu']:,.0f} x per CPU second) "
                                     f"({res['replay_us_per_item']:.1f} us/item, "
                                     f"{res['replay_items']:,} items)"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(f"\nheadline: reading a {args.minutes:g}-minute 3-pod session takes {res['read_samples_s']:.3f} s; "
          f"recording it costs {res['write_cpu_pct_of_real_time']:.3f} % CPU")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
