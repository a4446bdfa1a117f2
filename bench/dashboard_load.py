"""Dashboard server CPU and update latency at 30 runners (and browser memory over time).

The server runs in its own process (``--serve``): a DashboardSink fed through a DROP_OLDEST
channel, as the bus feeds it, by a generator emitting what 30 runners produce per second
(10 posture samples, ~3 steps, 1 rolling-metrics record, 1 fatigue state, 3 sensor-health
records; a cue now and then): ~540 records/s, each runner at its own random phase. Every
record's ``time_s`` is the wall time at which it was emitted (minus the session start), so
a WebSocket client in this process measures, for every RollingMetrics record, latency =
arrival of the first message that shows it - its emission ("record emitted -> visible in a
client message"; coalescing at ``update_hz`` adds up to one period by design, half a period
on average). CPU is the server process's user+system time; the same generator without the
dashboard gives the baseline, so the dashboard's own share is the difference.

``--browser-min M`` adds a browser soak: headless Chromium on the page for M minutes while 30
runners stream at 10x data time (the 10-minute chart history fills in one minute), sampling
the JS heap and the DOM node count every 10 s: they must level off, not grow.

    python -m bench.dashboard_load [--seconds 20] [--browser-min 0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from sensorkit.dashboard import DashboardSettings
from sensorkit.dashboard.sink import DashboardSink
from sensorkit.model import (
    BusItem,
    Cue,
    CueKind,
    FatigueState,
    Placement,
    PostureSample,
    RollingMetrics,
    SensorHealth,
    Side,
    StepMetrics,
    StrikeClass,
)
from sensorkit.pipeline.channel import Channel

RESULTS = Path(__file__).parent / "results" / "dashboard_load.json"
PLACEMENTS = (Placement.LOWER_BACK, Placement.LEFT_FOOT, Placement.RIGHT_FOOT)
TICK_S = 0.1
WARMUP_S = 3.0


# -- the server process ------------------------------------------------------------------------


def records(runner: int, tick: int, t: float, data_per_tick_s: float) -> list[BusItem]:
    """What one runner emits in one 100 ms tick (records staggered across runners)."""
    name = f"runner{runner + 1:02d}"
    out: list[BusItem] = [PostureSample(name, t, 8.0 + (tick % 7) * 0.1)]
    phase = (tick + runner) % 10
    if phase in (0, 3, 6):
        out.append(StepMetrics(name, t, Side.LEFT if phase == 3 else Side.RIGHT, 0.35, 172.0, 171.5, 245.0,
                               105.0, 0.7, 2.6, 90.0, False, 8.5, 10.0, StrikeClass.REARFOOT, 8.0, 3.2))
    if phase == 0 or data_per_tick_s >= 1.0:
        out.append(RollingMetrics(name, t, 10.0, 29, 170.0 + (tick // 10 + runner) % 5, 245.0 + tick % 3, 105.0,
                                  0.7, 2.6, 90.0, 8.5, 8.0, 0.4, 49.5, 80.0, 20.0, 0.0, 3.2, t * 3.2))
        out.append(FatigueState(name, t, (tick // 10 + runner) % 60, True, {"cadence_spm": 12.0, "impact_g": 30.0}))
        out += [SensorHealth(name, f"{name}/{p.value}", p, t, True, tick * 10, tick * 200, 0, 0, 0, 0, 0, 95.0)
                for p in PLACEMENTS]
    if (tick + runner * 37) % int(600 / max(data_per_tick_s, TICK_S)) == 0:
        out.append(Cue(name, t, CueKind.TRUNK_LEAN, "Stand tall", 4, t + 15, t, "trunk_lean_deg", 11.0, 8.0))
    return out


async def generate(channel: Channel[BusItem] | None, runners: int, seconds: float, start_unix_s: float,
                   speedup: float) -> int:
    """Emit ``runners`` runners' records for ``seconds`` (data time runs ``speedup`` x wall time)."""
    n = 0
    t0 = time.monotonic()
    tick = 0
    rng = random.Random(0)
    while time.monotonic() - t0 < seconds:
        # Each runner's pipeline runs at its own phase: emit at a random point of the tick.
        for offset_s, r in sorted((rng.uniform(0, TICK_S), r) for r in range(runners)):
            await asyncio.sleep(max(0.0, t0 + tick * TICK_S + offset_s - time.monotonic()))
            now = time.monotonic()
            data_t = time.time() - start_unix_s if speedup == 1.0 else (now - t0) * speedup
            for item in records(r, tick, data_t, TICK_S * speedup):
                if channel is not None:
                    channel.send_nowait(item)
                n += 1
        tick += 1
        await asyncio.sleep(max(0.0, t0 + tick * TICK_S - time.monotonic()))
    return n


async def serve(args: argparse.Namespace) -> None:
    """The server process: print the URL, stream records, print CPU and counters as JSON lines."""
    start = time.time()
    names = [f"runner{r + 1:02d}" for r in range(args.runners)]
    stats: dict[str, Any] = {}
    if args.baseline:  # the generator alone, into a channel drained by nobody in particular
        channel: Channel[BusItem] = Channel("sink:none", 4096)

        async def drain() -> None:
            async for _ in channel:
                pass

        async with asyncio.TaskGroup() as tg:
            print(json.dumps({"url": None}), flush=True)
            drainer = tg.create_task(drain())
            cpu0 = os.times()
            n = await generate(channel, args.runners, args.seconds, start, args.speedup)
            cpu1 = os.times()
            channel.close()
            await drainer
    else:
        settings = DashboardSettings(port=0, update_hz=args.hz, max_clients=64)
        sink = DashboardSink(settings, start_unix_s=start, title="bench", runners=names)
        channel = Channel("sink:dashboard", sink.queue_size, sink.policy)
        async with sink, asyncio.TaskGroup() as tg:
            print(json.dumps({"url": sink.url}), flush=True)
            consumer = tg.create_task(sink.consume(channel))
            await asyncio.sleep(WARMUP_S)  # clients connect and get their snapshot
            cpu0 = os.times()
            n = await generate(channel, args.runners, args.seconds, start, args.speedup)
            cpu1 = os.times()
            channel.close()
            await consumer
        s = sink.server
        stats = {"broadcasts": s.broadcasts, "bytes_sent": s.bytes_sent, "resyncs": s.resyncs,
                 "dropped_records": channel.stats().dropped}
    cpu_s = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    print(json.dumps({"records": n, "cpu_s": cpu_s, "wall_s": args.seconds,
                      "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **stats}), flush=True)


# -- the measuring side --------------------------------------------------------------------------


def spawn(runners: int, seconds: float, hz: float, *, baseline: bool = False,
          speedup: float = 1.0) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "bench.dashboard_load", "--serve", "--runners", str(runners), "--seconds",
            str(seconds), "--hz", str(hz), "--speedup", str(speedup)] + (["--baseline"] if baseline else [])
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1])


async def client(url: str, latencies: list[float], sizes: list[int], until: asyncio.Event) -> None:
    """Latency of each RollingMetrics record: its emission -> the first message that shows it."""
    seen: dict[str, float] = {}
    async with aiohttp.ClientSession() as http, http.ws_connect(url + "ws", max_msg_size=0) as ws:
        measuring_from = time.monotonic() + WARMUP_S
        while not until.is_set():
            try:
                msg = await ws.receive(timeout=1.0)
            except TimeoutError:
                continue
            if msg.type is not aiohttp.WSMsgType.TEXT:
                return
            received = time.time()
            data = json.loads(msg.data)
            if data["type"] != "update" or time.monotonic() < measuring_from:
                continue
            sizes.append(len(msg.data))
            for r in data["runners"]:
                emitted = r["tile"].get("metrics_unix_s")
                if emitted is not None and emitted != seen.get(r["name"]):
                    seen[r["name"]] = emitted
                    latencies.append(received - emitted)


def percentile(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1] if len(xs) > 1 else float("nan")


async def scenario(runners: int, clients: int, hz: float, seconds: float) -> dict[str, Any]:
    base = spawn(runners, seconds, hz, baseline=True)
    out, _ = base.communicate(timeout=seconds + 120)
    baseline = json.loads(out.splitlines()[-1])
    proc = spawn(runners, seconds, hz)
    assert proc.stdout is not None
    url = json.loads(await asyncio.to_thread(proc.stdout.readline))["url"]
    latencies: list[float] = []
    sizes: list[int] = []
    done = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        for _ in range(clients):
            tg.create_task(client(url, latencies, sizes, done))
        last = await asyncio.to_thread(proc.stdout.read)
        done.set()
    proc.wait(30)
    stats = json.loads(last.strip().splitlines()[-1])
    measured_s = seconds
    return {
        "runners": runners, "clients": clients, "update_hz": hz, "seconds": seconds,
        "records_per_s": stats["records"] / seconds,
        "server_cpu_pct": 100 * stats["cpu_s"] / seconds,
        "generator_cpu_pct": 100 * baseline["cpu_s"] / seconds,
        "dashboard_cpu_pct": 100 * (stats["cpu_s"] - baseline["cpu_s"]) / seconds,
        "messages_per_s_per_client": len(sizes) / clients / measured_s,
        "kbytes_per_s_per_client": sum(sizes) / clients / measured_s / 1024,
        "latency_ms_p50": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "latency_ms_p95": 1000 * percentile(latencies, 95),
        "latency_ms_p99": 1000 * percentile(latencies, 99),
        "latency_ms_max": 1000 * max(latencies, default=float("nan")),
        "resyncs": stats["resyncs"], "dropped_records": stats["dropped_records"],
        "server_max_rss_mb": stats["max_rss_mb"],
    }


async def browser_soak(minutes: float) -> dict[str, Any]:
    """JS heap and DOM size of a real browser page while 30 runners stream at 10x for ``minutes``."""
    from playwright.async_api import async_playwright

    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

    seconds = minutes * 60
    proc = spawn(30, seconds + 30, 4.0, speedup=10.0)
    assert proc.stdout is not None
    url = json.loads(await asyncio.to_thread(proc.stdout.readline))["url"]
    samples: list[dict[str, float]] = []
    async with async_playwright() as pw:
        args = [*CHROMIUM_ARGS, "--enable-precise-memory-info", "--js-flags=--expose-gc"]
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        page = await browser.new_page(viewport={"width": 1600, "height": 1000})
        await page.goto(url)
        t0 = time.monotonic()
        while (elapsed := time.monotonic() - t0) < seconds:
            await asyncio.sleep(10)
            m = await page.evaluate("() => { if (window.gc) window.gc(); return {"
                                    "heap: performance.memory.usedJSHeapSize,"
                                    " nodes: document.getElementsByTagName('*').length,"
                                    " messages: Number(document.body.dataset.messages)}; }")
            samples.append({"t_s": round(elapsed, 1), "heap_mb": m["heap"] / 2**20, "dom_nodes": m["nodes"],
                            "messages": m["messages"]})
            print(f"  browser {elapsed:6.0f} s: heap {m['heap'] / 2**20:6.1f} MB, {m['nodes']} DOM nodes, "
                  f"{m['messages']} messages", flush=True)
        await browser.close()
    proc.terminate()
    proc.wait(30)
    later = [s for s in samples if s["t_s"] >= 120] or samples
    return {"minutes": minutes, "samples": samples,
            "heap_mb_after_2min_min": min(s["heap_mb"] for s in later),
            "heap_mb_after_2min_max": max(s["heap_mb"] for s in later),
            "dom_nodes_max": max(s["dom_nodes"] for s in samples)}


def table(rows: list[dict[str, Any]]) -> str:
    cols = [("runners", "runners", "d"), ("clients", "clients", "d"), ("update_hz", "Hz", ".0f"),
            ("records_per_s", "records/s", ".0f"), ("server_cpu_pct", "server CPU %", ".1f"),
            ("dashboard_cpu_pct", "dashboard CPU %", ".1f"), ("messages_per_s_per_client", "msg/s/client", ".1f"),
            ("kbytes_per_s_per_client", "kB/s/client", ".1f"), ("latency_ms_p50", "p50 ms", ".0f"),
            ("latency_ms_p95", "p95 ms", ".0f"), ("latency_ms_p99", "p99 ms", ".0f"),
            ("latency_ms_max", "max ms", ".0f"), ("resyncs", "snapshots", "d")]
    head = " | ".join(h for _, h, _ in cols)
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(" | ".join(format(r[k], f).rjust(len(h)) for k, h, f in cols))
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    rows = []
    for runners, clients, hz in [(30, 1, 4.0), (30, 5, 4.0), (30, 5, 10.0), (1, 1, 4.0)]:
        print(f"running {runners} runners, {clients} client(s), {hz:.0f} Hz for {args.seconds:.0f} s ...", flush=True)
        rows.append(await scenario(runners, clients, hz, args.seconds))
    print()
    print(table(rows))
    result: dict[str, Any] = {"load_average": os.getloadavg(), "cpu_count": os.cpu_count(), "scenarios": rows}
    if args.browser_min > 0:
        print(f"browser soak: {args.browser_min:.0f} min, 30 runners at 10x data time ...", flush=True)
        result["browser_soak"] = await browser_soak(args.browser_min)
    head = rows[0]
    print(f"\nheadline: 30 runners, 1 browser at {head['update_hz']:.0f} Hz: "
          f"dashboard {head['dashboard_cpu_pct']:.1f} % of one core "
          f"(server process {head['server_cpu_pct']:.1f} %), record -> browser message "
          f"(RollingMetrics) p50 {head['latency_ms_p50']:.0f} ms, p95 {head['latency_ms_p95']:.0f} ms "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=20.0, help="measured seconds per scenario")
    p.add_argument("--browser-min", type=float, default=0.0, help="also soak a real browser for this many minutes")
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--runners", type=int, default=30, help=argparse.SUPPRESS)
    p.add_argument("--hz", type=float, default=4.0, help=argparse.SUPPRESS)
    p.add_argument("--speedup", type=float, default=1.0, help=argparse.SUPPRESS)
    a = p.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(a) if a.serve else main(a))
