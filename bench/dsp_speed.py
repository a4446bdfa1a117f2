"""DSP throughput: samples per second per core through each placement's whole chain.

Run: ``python -m bench.dsp_speed [--seconds 300] [--repeats 3]``

A simulated 200 Hz run (acc + gyro, crooked mounting, 5 s standing then running) is fed to
``SensorChain`` (calibration, detector, AHRS for the lower back) in blocks of 1..1000 samples;
CPU time (``process_time``, so other load on the machine matters less) of the best of
``--repeats`` runs gives samples/s/core. Every block size must give exactly the same contacts
as the biggest one ("same" column). The last table runs the whole ``RunnerMetrics`` stage
(three pods fused, records made) for the end-to-end cost per sample of all pods.

Headline: lower back, acc+gyro at 200 Hz, blocks of 1000 samples (target >= 1,000,000).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from sensorkit import __version__
from sensorkit.dsp.chain import DspSettings, SensorChain
from sensorkit.dsp.posture import PostureSettings
from sensorkit.metrics import RunnerMetrics
from sensorkit.model import Placement, RunnerInfo, SampleBlock
from sensorkit.sources.simulator.profile import PodConfig, SimulationConfig
from sensorkit.sources.simulator.run import SimulatedRun

RESULTS = Path(__file__).resolve().parent / "results" / "dsp_speed.json"
BLOCKS = (1, 10, 50, 200, 1000)
TARGET = 1_000_000.0


def _blocks(ch, size: int, sid: str) -> list[SampleBlock]:  # type: ignore[no-untyped-def]
    return [SampleBlock(sid, ch.time_s[i:i + size], ch.acc_g[i:i + size], ch.gyr_dps[i:i + size])
            for i in range(0, len(ch), size)]


def _run_chain(sim: SimulatedRun, k: int, blocks: list[SampleBlock], dsp: DspSettings) -> tuple[float, list]:
    chain = SensorChain(sim.sensors[k], dsp)
    contacts = []
    t0 = time.process_time()
    for b in blocks:
        contacts.extend(chain.update(b).contacts)
    return time.process_time() - t0, contacts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=300.0, help="simulated run length (s)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ahrs-rates", default="25,50,100", help="AHRS rates (Hz) to compare for the back")
    args = ap.parse_args()
    dur = args.seconds
    pods = tuple(PodConfig(p, mount_rpy_deg=(10.0, -20.0, 40.0))
                 for p in (Placement.LOWER_BACK, Placement.LEFT_FOOT, Placement.RIGHT_FOOT))
    sim = SimulatedRun(SimulationConfig(pods=pods, duration_s=dur))
    dsp = DspSettings()
    rows = []
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"sensorkit {__version__}, {platform.python_version()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cpus, load average {load:.1f} (CPU time inflates when the machine is shared)")
    print(f"{'placement':12s} {'block':>6s} {'samples/s/core':>15s} {'us/sample':>10s} {'contacts':>9s} same")
    for k, info in enumerate(sim.sensors):
        ch = sim.samples(info.sensor_id, 0.0, dur)
        ref = None
        for size in sorted(BLOCKS, reverse=True):
            blocks = _blocks(ch, size, info.sensor_id)
            reps = 1 if size == 1 else args.repeats
            best = float("inf")
            contacts: list = []
            for _ in range(reps):
                dt, contacts = _run_chain(sim, k, blocks, dsp)
                best = min(best, dt)
            if ref is None:
                ref = contacts
            same = contacts == ref
            rate = len(ch) / best
            rows.append({"placement": info.placement.value, "block": size, "samples_per_s": rate,
                         "us_per_sample": 1e6 / rate, "contacts": len(contacts), "same_as_block_1000": same})
            print(f"{info.placement.value:12s} {size:6d} {rate:15,.0f} {1e6 / rate:10.3f} {len(contacts):9d} "
                  f"{'yes' if same else 'NO'}")
    # AHRS rate: cost of the lower back chain at 1000-sample blocks
    print("\nlower back, 1000-sample blocks, by AHRS rate")
    ahrs_rows = []
    ch = sim.samples(Placement.LOWER_BACK, 0.0, dur)
    blocks = _blocks(ch, 1000, sim.sensors[0].sensor_id)
    for hz in [float(x) for x in args.ahrs_rates.split(",")]:
        d = DspSettings(posture=PostureSettings(ahrs_rate_hz=hz))
        best = min(_run_chain(sim, 0, blocks, d)[0] for _ in range(args.repeats))
        ahrs_rows.append({"ahrs_rate_hz": hz, "samples_per_s": len(ch) / best})
        print(f"  AHRS {hz:5.0f} Hz: {len(ch) / best:12,.0f} samples/s/core")
    # end to end: RunnerMetrics over three pods
    chunks = [sim.samples(s.sensor_id, 0.0, dur) for s in sim.sensors]
    n_total = sum(len(c) for c in chunks)
    items = []
    size = 200
    for i in range(0, len(chunks[0]), size):
        for c, info in zip(chunks, sim.sensors, strict=True):
            items.append(SampleBlock(info.sensor_id, c.time_s[i:i + size], c.acc_g[i:i + size],
                                     c.gyr_dps[i:i + size]))
    best = float("inf")
    n_rec = 0
    for _ in range(args.repeats):
        stage = RunnerMetrics(RunnerInfo(sim.runner.name), sim.sensors)
        t0 = time.process_time()
        n_rec = 0
        for it in items:
            n_rec += len(stage.update(it))
        n_rec += len(stage.finish())
        best = min(best, time.process_time() - t0)
    e2e = n_total / best
    print(f"\nRunnerMetrics, 3 pods, 200-sample blocks: {e2e:,.0f} samples/s/core "
          f"({n_rec} records, {dur / best:,.0f}x real time for the runner)")
    head = next(r for r in rows if r["placement"] == "lower_back" and r["block"] == 1000)
    print(f"\nHEADLINE lower back acc+gyro 200 Hz: {head['samples_per_s']:,.0f} samples/s/core "
          f"(target {TARGET:,.0f}); block sizes 1..1000 identical: "
          f"{all(r['same_as_block_1000'] for r in rows)}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "version": __version__, "seconds": dur, "rows": rows, "ahrs": ahrs_rows,
        "runner_metrics_samples_per_s": e2e, "headline_samples_per_s": head["samples_per_s"],
        "target_samples_per_s": TARGET, "block_sizes_identical": all(r["same_as_block_1000"] for r in rows),
        "python": platform.python_version(), "machine": platform.machine(), "load_average": load,
    }, indent=2))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
