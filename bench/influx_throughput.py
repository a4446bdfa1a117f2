"""InfluxDB writer: formatting cost, sustained points/s to real servers, and pipeline latency.

    python -m bench.influx_throughput [--seconds 20] [--runners 30] [--source memory|sim]

1. Line-protocol formatting of raw IMU: vectorised (Arrow) vs a Python loop per sample.
2. Sustained write rate through InfluxSink (encode + batch + HTTP) to InfluxDB 1.6.7 (v1 API)
   and VictoriaMetrics (v2 API via influxdb-client), both started on loopback.
3. Live pipeline latency at N runners (3 pods x 200 Hz each, 40 ms blocks, real time): the
   delay from a block's last sample to a probe sink, with and without InfluxSink (raw IMU at
   full rate) in the same session.
Writes bench/results/influx_throughput.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np

from sensorkit.model import BusItem, Placement, RunnerInfo, SampleBlock, SensorInfo, SessionInfo
from sensorkit.pipeline.channel import Channel, OverflowPolicy
from sensorkit.pipeline.clock import HostClock
from sensorkit.pipeline.session import Session
from sensorkit.store.influx import InfluxSettings, InfluxSink
from sensorkit.store.influx.lineproto import format_columns, format_point, tag_set
from sensorkit.store.influx.schema import RawPart, format_raw_parts
from tests.support.servers import start_influxd, start_victoria_metrics

RESULTS = Path(__file__).resolve().parent / "results" / "influx_throughput.json"
PLACEMENTS = (Placement.LOWER_BACK, Placement.LEFT_FOOT, Placement.RIGHT_FOOT)


def bench_format(n: int = 200_000) -> dict[str, float]:
    rng = np.random.default_rng(0)
    cols = [np.round(rng.normal(0, 2, n) * 4096) / 4096 for _ in range(6)]
    ts = np.arange(n, dtype=np.int64) * 5_000_000 + 1_700_000_000_000_000_000
    names = ["ax", "ay", "az", "gx", "gy", "gz"]
    tags = tag_set({"runner": "alice", "session": "s1", "sensor": "alice/lower_back",
                    "placement": "lower_back", "device": "polar_verity"})
    format_columns("imu", tags, names, [c[:1000] for c in cols], ts[:1000])  # warm up Arrow
    rows = np.column_stack(cols)
    t_s = (ts - ts[0]) / 1e9
    parts = [RawPart(0, tuple(names), SampleBlock("s", t_s[j:j + 8], rows[j:j + 8, :3], rows[j:j + 8, 3:]),
                     int(ts[0])) for j in range(0, n, 8)]
    best = dict.fromkeys(("vec8", "loop", "batch", "one"), math.inf)
    for _ in range(3):
        t0 = time.perf_counter()
        for i in range(0, n, 8):  # one call per 40 ms block at 200 Hz: Arrow's fixed cost dominates
            format_columns("imu", tags, names, [c[i:i + 8] for c in cols], ts[i:i + 8])
        best["vec8"] = min(best["vec8"], time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in range(0, n, 8):  # a Python loop per sample (the path the sink avoids)
            "".join(f"{format_point('imu', tags, dict(zip(names, row, strict=True)), int(t))}\n"
                    for row, t in zip(rows[i:i + 8].tolist(), ts[i:i + 8].tolist(), strict=True))
        best["loop"] = min(best["loop"], time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in range(0, len(parts), 625):  # what the sink does: 8-sample blocks gathered into 5000-point batches
            format_raw_parts(parts[i:i + 625], [tags])
        best["batch"] = min(best["batch"], time.perf_counter() - t0)
        t0 = time.perf_counter()
        format_columns("imu", tags, names, cols, ts)
        best["one"] = min(best["one"], time.perf_counter() - t0)
    return {"points": n, "vectorised_per_8_sample_block_ns_per_point": best["vec8"] / n * 1e9,
            "python_loop_ns_per_point": best["loop"] / n * 1e9,
            "sink_batches_ns_per_point": best["batch"] / n * 1e9,
            "one_call_ns_per_point": best["one"] / n * 1e9}


def session_info(runners: int, rate_hz: float, start_unix_s: float) -> SessionInfo:
    names = [f"r{i:02d}" for i in range(runners)]
    sensors = tuple(SensorInfo(f"{r}/{p.value}", r, p, rate_hz, device="bench") for r in names for p in PLACEMENTS)
    return SessionInfo(f"bench-{int(start_unix_s)}", start_unix_s, tuple(RunnerInfo(r) for r in names),
                       sensors, "bench")


def blocks(info: SessionInfo, seconds: float, block_s: float = 0.04) -> list[SampleBlock]:
    rng = np.random.default_rng(1)
    out = []
    for s in info.sensors:
        n = round(block_s * s.sampling_rate_hz)
        for k in range(int(seconds / block_s)):
            t = (np.arange(n) + k * n) / s.sampling_rate_hz
            out.append(SampleBlock(s.sensor_id, t, rng.normal(0, 1, (n, 3)), rng.normal(0, 100, (n, 3))))
    out.sort(key=lambda b: b.end_s)
    return out


async def sustained(settings: InfluxSettings, runners: int, seconds: float) -> dict[str, float]:
    """Feed blocks as fast as the sink takes them (BLOCK channel), like an export."""
    info = session_info(runners, 200.0, time.time() - 3600)
    items = blocks(info, seconds)
    sink = InfluxSink(settings, info)
    channel: Channel[BusItem] = Channel("bench", 256, OverflowPolicy.BLOCK)
    points = sum(len(b) for b in items)

    async def feed() -> None:
        for b in items:
            await channel.send(b)
        channel.close()

    cpu0, t0 = time.process_time(), time.perf_counter()
    async with sink, asyncio.TaskGroup() as tg:
        tg.create_task(feed())
        tg.create_task(sink.consume(channel))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    s = sink.stats()
    assert s.points_written == points, (s, points)
    return {"points": points, "wall_s": wall, "points_per_s": points / wall, "client_cpu_s": cpu,
            "client_cpu_us_per_point": cpu / points * 1e6, "batches": s.batches_written}


class PacedSource:
    """Pre-built blocks released when their host time comes (a cheap stand-in for 90 live pods)."""

    def __init__(self, infos: Sequence[SensorInfo], items: Sequence[SampleBlock], clock: HostClock) -> None:
        self._infos, self._items, self._clock = list(infos), list(items), clock

    @property
    def sensors(self) -> Sequence[SensorInfo]:
        return self._infos

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        return None

    async def items(self) -> AsyncIterator[SampleBlock]:
        for b in self._items:
            delay = b.end_s - self._clock.now_s()
            if delay > 0:
                await asyncio.sleep(delay)
            yield b


class LatencyProbe:
    """A sink that notes how long after its last sample each block reached it."""

    name = "latency-probe"
    accepts = (SampleBlock,)
    policy = OverflowPolicy.DROP_OLDEST
    queue_size = 4096

    def __init__(self, clock: HostClock) -> None:
        self.clock = clock
        self.latency_s: list[float] = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        return None

    async def consume(self, items: Any) -> None:
        async for b in items:
            self.latency_s.append(self.clock.now_s() - b.end_s)


async def pipeline_latency(runners: int, seconds: float, influx: InfluxSettings | None, source: str
                           ) -> dict[str, Any]:
    clock = HostClock()
    info = session_info(runners, 200.0, clock.start_unix_s)
    if source == "sim":
        from sensorkit.sources.simulator import SimulatorSource, demo_runners

        cfgs = demo_runners(n=runners, duration_s=seconds, speed_output_hz=None)
        sources: list[Any] = [SimulatorSource(c, speed=1.0, clock=clock) for c in cfgs]
        info = SessionInfo(info.session_id, clock.start_unix_s,
                           tuple(RunnerInfo(c.runner.name) for c in cfgs),
                           tuple(s for src in sources for s in src.sensors), "bench")
    else:
        by_runner: dict[str, list[SampleBlock]] = {}
        for b in blocks(info, seconds):
            by_runner.setdefault(b.sensor_id.split("/")[0], []).append(b)
        sources = [PacedSource(info.sensors_of(r), bl, clock) for r, bl in by_runner.items()]
    probe = LatencyProbe(clock)
    sinks: list[Any] = [probe]
    if influx is not None:
        sinks.append(InfluxSink(influx, info))
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    stats = await Session(info, sources, {}, sinks).run()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    lat = np.array(probe.latency_s) * 1000
    out: dict[str, Any] = {
        "blocks": int(lat.size), "p50_ms": float(np.percentile(lat, 50)), "p95_ms": float(np.percentile(lat, 95)),
        "p99_ms": float(np.percentile(lat, 99)), "max_ms": float(lat.max()), "cpu_pct": 100 * cpu / wall,
        "channel_drops": sum(c.dropped for c in stats.channels)}
    if influx is not None:
        s = sinks[1].stats()
        out |= {"influx_points_written": s.points_written, "influx_dropped_at_queue": s.items_dropped_at_queue}
    return out


def _proc_cpu_s(pid: int) -> float:
    """User+system CPU seconds of another process (the server), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-key median over repeated runs (numbers only)."""
    return {k: float(np.median([r[k] for r in runs])) for k in runs[0] if isinstance(runs[0][k], int | float)}


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"runners": args.runners, "pods_per_runner": 3, "rate_hz": 200.0,
                               "seconds": args.seconds, "cpus": os.cpu_count(), "source": args.source}
    fmt = bench_format()
    results["format"] = fmt
    print(table([("formatting raw IMU (6 fields)", "ns/point"),
                 ("Python loop per sample", f"{fmt['python_loop_ns_per_point']:.0f}"),
                 ("vectorised, one call per 8-sample block",
                  f"{fmt['vectorised_per_8_sample_block_ns_per_point']:.0f}"),
                 ("vectorised per 5000-point batch (the sink)", f"{fmt['sink_batches_ns_per_point']:.0f}"),
                 ("vectorised, one 200k-point call", f"{fmt['one_call_ns_per_point']:.0f}")]))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        influxd = start_influxd(root / "influxd")
        vm = start_victoria_metrics(root / "vm")
        try:
            influxd.query('CREATE DATABASE "bench"')
            v1 = InfluxSettings(enabled=True, api="v1", url=influxd.url, database="bench", raw_imu="full",
                                spool_dir=root / "spool", queue_size=50_000)
            v2 = InfluxSettings(enabled=True, api="v2", url=vm.url, bucket="bench", raw_imu="full",
                                spool_dir=root / "spool", queue_size=50_000)
            results["sustained_v1_influxd_1_6"] = await sustained(v1, args.runners, args.seconds)
            results["sustained_v2_victoriametrics"] = await sustained(v2, args.runners, args.seconds)
            print()
            print(table([("sustained write (raw IMU, 5000-point batches)", "points/s", "client CPU us/point"),
                         *[(name, f"{r['points_per_s']:,.0f}", f"{r['client_cpu_us_per_point']:.2f}")
                           for name, r in (("InfluxDB 1.6.7, v1 /write", results["sustained_v1_influxd_1_6"]),
                                           ("VictoriaMetrics, influxdb-client v2",
                                            results["sustained_v2_victoriametrics"]))]]))
            live = v1.model_copy(update={"queue_size": 20_000})
            runs: dict[str, list[dict[str, Any]]] = {"without": [], "with": []}
            pid = influxd.process.proc.pid if influxd.process.proc else 0
            for _ in range(args.repeats):  # alternate, so load from other processes hits both alike
                runs["without"].append(await pipeline_latency(args.runners, args.seconds, None, args.source))
                cpu0 = _proc_cpu_s(pid)
                r = await pipeline_latency(args.runners, args.seconds, live, args.source)
                r["influxd_cpu_pct"] = 100 * (_proc_cpu_s(pid) - cpu0) / args.seconds
                runs["with"].append(r)
            base, with_w = (_median_run(runs["without"]), _median_run(runs["with"]))
            results["pipeline_without_writer"], results["pipeline_with_writer"] = base, with_w
            results["pipeline_runs"] = runs
        finally:
            influxd.stop()
            vm.stop()
    print()
    print(table([(f"pipeline, {args.runners} runners x 3 pods x 200 Hz, {args.seconds:g} s real time"
                  f" (median of {args.repeats})",
                  "p50 ms", "p95 ms", "p99 ms", "max ms", "CPU %"),
                 *[(name, f"{r['p50_ms']:.2f}", f"{r['p95_ms']:.2f}", f"{r['p99_ms']:.2f}", f"{r['max_ms']:.1f}",
                    f"{r['cpu_pct']:.0f}")
                   for name, r in (("without InfluxSink", base),
                                   ("with InfluxSink (raw IMU full rate)", with_w))]]))
    results["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    d95 = with_w["p95_ms"] - base["p95_ms"]
    print(f"influxd on the same cores used {with_w['influxd_cpu_pct']:.0f} % of one core meanwhile")
    print(f"\nheadline: {results['sustained_v1_influxd_1_6']['points_per_s']:,.0f} points/s to InfluxDB 1.6.7, "
          f"{results['sustained_v2_victoriametrics']['points_per_s']:,.0f} points/s to VictoriaMetrics; "
          f"pipeline p95 latency {base['p95_ms']:.2f} -> {with_w['p95_ms']:.2f} ms with the writer "
          f"({d95:+.2f} ms), {with_w['influx_points_written']:,.0f} points written live per run")
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=20.0, help="data per run (s); latency runs are real time")
    p.add_argument("--runners", type=int, default=30)
    p.add_argument("--repeats", type=int, default=3, help="alternating with/without latency runs (medians)")
    p.add_argument("--source", choices=["memory", "sim"], default="memory",
                   help="paced in-memory blocks (isolates the writer) or the simulator")
    args = p.parse_args()
    results = asyncio.run(run(args))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
