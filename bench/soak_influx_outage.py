"""Fault bench: InfluxDB down for 10 minutes in the middle of a live session (issue 10).

Run: ``python -m bench.soak_influx_outage [--down-min 10] [--runners 3] [--raw-imu full]``

A real InfluxDB 1.x (Debian's influxd, started here on loopback) receives a session of
``--runners`` runners (two pods each at 100 Hz, every record type) fed in real time, as the
bus would. After ``--up-s`` it is killed (SIGKILL) for ``--down-min`` minutes, then
restarted; the session goes on for ``--after-s`` more. The CI version is the store
engineer's 32-second outage (tests/test_influx_outage.py); this is the same check, 20 times
longer: zero points lost, every series reached the server in time order, nothing dropped at
the queue or for a full spool. Reports the spool's peak size and how long the drain took,
and writes bench/results/soak_influx_outage.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._measure import cpu_s, load_avg, machine, rss_mb
from sensorkit.pipeline.channel import Channel
from sensorkit.store.influx import InfluxSink
from tests.support.influx_data import expected_points, feed_live, make_info, make_items
from tests.support.influx_readback import influx_points
from tests.support.servers import start_influxd
from tests.test_influx_sink import RecordingWriter, settings_for

RESULTS = Path(__file__).resolve().parent / "results" / "soak_influx_outage.json"


async def session(server: Any, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    duration_s = args.up_s + args.down_min * 60 + args.after_s
    info = make_info(runners=tuple(f"r{i + 1}" for i in range(args.runners)))
    items = make_items(info, duration_s=duration_s)
    settings = settings_for(server, tmp, "outage", raw_imu=args.raw_imu, batch_points=5000, flush_interval_s=1.0,
                            retry_initial_s=0.5, retry_max_s=10.0, queue_size=20000, spool_max_mb=4096,
                            shutdown_drain_s=600)
    writer = RecordingWriter(settings)
    sink = InfluxSink(settings, info, writer=writer)
    channel: Channel[Any] = Channel("sink:influx", sink.queue_size, sink.policy)
    marks: dict[str, float] = {}
    peak: dict[str, float] = {"spool_points": 0, "spool_mb": 0.0, "rss_mb": 0.0}

    async def live_feed() -> None:
        await feed_live(items, channel, sink.accepts)
        marks["fed"] = time.monotonic()

    async def outage() -> None:
        await asyncio.sleep(args.up_s)
        server.stop(kill=True)
        marks["killed"] = time.monotonic()
        print(f"  influxd killed; down for {args.down_min:g} min", flush=True)
        await asyncio.sleep(args.down_min * 60)
        await asyncio.to_thread(server.start)
        marks["restarted"] = time.monotonic()
        print(f"  influxd restarted with {sink.stats().spool_points} points in the spool", flush=True)
        while sink.stats().spool_points:  # noqa: ASYNC110 - polling the sink's counters
            await asyncio.sleep(0.5)
        marks["drained"] = time.monotonic()

    async def watch() -> None:
        while True:
            s = sink.stats()
            peak["spool_points"] = max(peak["spool_points"], s.spool_points)
            peak["spool_mb"] = max(peak["spool_mb"], s.spool_bytes / 1e6)
            peak["rss_mb"] = max(peak["rss_mb"], rss_mb())
            await asyncio.sleep(1.0)

    async with sink, asyncio.TaskGroup() as tg:
        watcher = tg.create_task(watch())
        tg.create_task(live_feed())
        outage_task = tg.create_task(outage())
        await sink.consume(channel)
        await outage_task
        watcher.cancel()
    want = expected_points(info, items)
    got = read_back(server, "outage", min(k[2] for k in want), max(k[2] for k in want))
    s = sink.stats()
    unordered = [k for k, stamps in writer.series.items() if stamps != sorted(stamps)]
    return {
        "duration_s": duration_s, "points_expected": len(want), "points_in_influx": len(got),
        "points_lost": len(set(want) - set(got)), "points_differing": sum(got.get(k) != v for k, v in want.items()),
        "series_out_of_order": len(unordered), "down_s": round(marks["restarted"] - marks["killed"], 1),
        "drain_s": round(marks["drained"] - marks["restarted"], 1), "peak_spool_points": int(peak["spool_points"]),
        "peak_spool_mb": round(peak["spool_mb"], 1), "peak_rss_mb": round(peak["rss_mb"], 1),
        "points_written": s.points_written, "points_spooled": s.points_spooled, "write_failures": s.write_failures,
        "dropped_spool_full": s.points_dropped_spool_full, "dropped_at_queue": s.items_dropped_at_queue,
        "rejected": s.points_rejected,
    }


def read_back(server: Any, db: str, first_ns: int, last_ns: int, window_s: int = 20) -> dict[Any, Any]:
    """Every point, a time window per query (one query for the whole outage would time out)."""
    out: dict[Any, Any] = {}
    step = window_s * 1_000_000_000
    for t in range(first_ns, last_ns + 1, step):
        out.update(influx_points(server, db, f"WHERE time >= {t} AND time < {t + step}"))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--down-min", type=float, default=10.0, help="minutes InfluxDB stays down")
    ap.add_argument("--up-s", type=float, default=30.0, help="seconds of normal writing before the kill")
    ap.add_argument("--after-s", type=float, default=60.0, help="seconds the session goes on after the restart")
    ap.add_argument("--runners", type=int, default=3)
    ap.add_argument("--raw-imu", choices=["full", "downsampled", "off"], default="full")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="  %(levelname)s %(name)s: %(message)s")
    c0, t0 = cpu_s(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="soak-influx-") as tmp:
        server = start_influxd(Path(tmp) / "influxd")
        try:
            server.query('CREATE DATABASE "outage"')
            print(f"InfluxDB down for {args.down_min:g} min mid-session: {args.runners} runners, raw IMU "
                  f"{args.raw_imu}, real time", flush=True)
            res = asyncio.run(session(server, Path(tmp), args))
        finally:
            server.stop()
    res |= {"bench": "soak_influx_outage", "runners": args.runners, "raw_imu": args.raw_imu,
            "wall_s": round(time.perf_counter() - t0, 1), "cpu_s": round(cpu_s() - c0, 1),
            "machine": machine(), "load_avg": load_avg()}
    problems = [k for k in ("points_lost", "points_differing", "series_out_of_order", "dropped_spool_full",
                            "dropped_at_queue", "rejected") if res[k]]
    res["problems"] = problems
    print(f"  {res['points_expected']} points sent over {res['duration_s']:.0f} s; {res['points_in_influx']} in "
          f"InfluxDB; lost {res['points_lost']}, differing {res['points_differing']}, series out of order "
          f"{res['series_out_of_order']}")
    print(f"  spool peak {res['peak_spool_points']} points / {res['peak_spool_mb']} MB; drained in "
          f"{res['drain_s']} s after the restart; RSS peak {res['peak_rss_mb']} MB")
    print(f"headline: InfluxDB down {res['down_s']:.0f} s, "
          + ("zero points lost, every series in time order" if not problems else "FAILED: " + ", ".join(problems)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
