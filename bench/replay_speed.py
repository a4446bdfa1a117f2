"""Replay speed: a 1-hour, 3-pod, 200 Hz recording through the live pipeline on one core.

Run: ``python -m bench.replay_speed [--minutes 60] [--profile-minutes 5] [--quick]``

The session is made once with the simulator (fatigue from minute 40, speed readings at 1 Hz)
and RecordingWriter, in the arrival order a live run has, and cached in
``$TMPDIR/sensorkit-bench/``. It is then replayed by ``compose.assemble(..., Mode.REPLAY,
speed=inf)``, i.e. ``sensorkit replay --max``, which re-cuts the samples on a 1-s grid (the
records still equal the live run's: the metrics stage is block-invariant): ReplaySource ->
Session -> per-runner metrics + cue engine -> bus (no sinks
besides the ones a default config has switched on: none that write or serve). The process is
pinned to one CPU. Figures: session seconds per wall second and per CPU second (the machine is
shared; CPU time is what survives a busy neighbour). Then a cProfile run over the first
``--profile-minutes`` (a recording of that length, made and cached the same way) shows where the
time goes, grouped by package and by function.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import math
import pstats
import tempfile
from collections import defaultdict
from collections.abc import AsyncIterable
from pathlib import Path
from typing import Any

from bench._measure import Clock, load_avg, machine, pin_to_one_core, write_json
from sensorkit.compose import Assembly, Mode, assemble
from sensorkit.config import Config
from sensorkit.model import RECORD_TYPES, BusItem, RunnerInfo, SessionInfo
from sensorkit.pipeline.channel import OverflowPolicy
from sensorkit.pipeline.gc_pauses import freeze_startup_objects
from sensorkit.sources.replay import ReplaySource, replay_block_s
from sensorkit.sources.simulator import SimulatedRun, fatigue_config
from sensorkit.sources.simulator.feed import ItemFeed
from sensorkit.store.recording import RecordingReader, RecordingWriter

RESULTS = Path(__file__).resolve().parent / "results" / "replay_speed.json"
CACHE = Path(tempfile.gettempdir()) / "sensorkit-bench"
TARGET_X = 2000.0


def make_session(minutes: float) -> Path:
    """The cached recording (made if missing or incomplete)."""
    path = CACHE / f"replay_{minutes:g}min_3pods_200hz.skrec"
    if path.exists():
        try:
            r = RecordingReader(path)
            if r.closed and not r.problems:
                return path
        except Exception:  # any problem: make it again
            pass
    CACHE.mkdir(parents=True, exist_ok=True)
    cfg = fatigue_config(duration_s=minutes * 60.0, seed=1, onset_s=minutes * 60.0 * 2 / 3)
    cfg = type(cfg)(cfg.runner, cfg.pods, cfg.duration_s, cfg.seed, speed_output_hz=1.0)
    run = SimulatedRun(cfg)
    info = SessionInfo("bench-replay", 1_767_225_600.0, (RunnerInfo(run.runner.name),), run.sensors, "bench")
    clock = Clock()
    with RecordingWriter(path, info, overwrite=True, auto_flush=False) as w:
        for window in ItemFeed(run).windows():
            w.write_many(item for _, item in window)
            if w.pending_bytes > 16 << 20:
                w.flush()
    print(f"made {path} ({minutes:g} min) in {clock.wall():.1f} s")
    return path


class RecordCounter:
    """A sink taking every record, as a dashboard or MQTT publisher would, and counting them.

    (A Session needs at least one sink; this one costs next to nothing.)
    """

    name = "bench-counter"
    accepts = RECORD_TYPES
    policy = OverflowPolicy.BLOCK
    queue_size = 1024

    def __init__(self) -> None:
        self.count = 0

    async def __aenter__(self) -> RecordCounter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def consume(self, items: AsyncIterable[BusItem]) -> None:
        async for _ in items:
            self.count += 1


_DEFAULT = -1.0  # the blocks `sensorkit replay --max` uses


def _assembly(path: Path, end_s: float | None = None, block_s: float | None = _DEFAULT) -> Assembly:
    """The replay assembly; ``block_s`` None: the recorded live blocks, a number: that grid."""
    cfg = Config()
    cfg = cfg.model_copy(update={"audio": cfg.audio.model_copy(update={"enabled": False})})
    a = assemble(cfg, Mode.REPLAY, speed=math.inf, replay=path, record=False, terminal=False, dashboard=False)
    if end_s is not None or block_s != _DEFAULT:
        a.sources = [ReplaySource(path, speed=math.inf, end_s=end_s,
                                  block_s=replay_block_s(math.inf) if block_s == _DEFAULT else block_s)]
    if block_s is None:  # the live blocks' own cost: a backlog would otherwise be joined (Session coalesce_s)
        a.coalesce_s = 0.0
    a.sinks.append(RecordCounter())
    return a


def replay_once(path: Path, block_s: float | None = _DEFAULT) -> dict[str, Any]:
    a = _assembly(path, block_s=block_s)
    freeze_startup_objects()  # as `sensorkit replay` does once the session is assembled
    clock = Clock()
    stats = asyncio.run(a.session().run())
    wall, cpu = clock.wall(), clock.cpu()
    items = dict(stats.items)
    return {"wall_s": wall, "cpu_s": cpu, "items": items, "errors": dict(stats.errors)}


def analyze_once(path: Path) -> dict[str, Any]:
    """The same stages without asyncio, on 1 s blocks (``sensorkit analyze``)."""
    from sensorkit.analysis.session import analyze_path

    clock = Clock()
    a = analyze_path(str(path))
    return {"wall_s": clock.wall(), "cpu_s": clock.cpu(), "records": len(a.records)}


def _group(func: tuple[str, int, str]) -> str:
    filename = func[0]
    if "sensorkit/" in filename:
        parts = filename.split("sensorkit/")[-1].split("/")
        return "sensorkit." + ".".join(p.removesuffix(".py") for p in parts[:2])
    if "asyncio" in filename:
        return "asyncio"
    if "numpy" in filename:
        return "numpy"
    if "imufusion" in filename or filename == "~":
        return "builtins/C extensions"
    return "other python"


def profile(minutes: float) -> dict[str, Any]:
    """cProfile of a whole ``minutes``-long recording's replay: self time by package and the top functions.

    A whole recording, not the first minutes of the long one: a replay window still reads
    every record table to its end, which in a 5-minute window of the hour looked like a tenth
    of the time (the whole hour's replay spends ~2.5 % there).
    """
    a = _assembly(make_session(minutes))
    prof = cProfile.Profile()
    prof.enable()
    asyncio.run(a.session().run())
    prof.disable()
    st = pstats.Stats(prof)
    by_group: dict[str, float] = defaultdict(float)
    total = 0.0
    rows = []
    for func, (_cc, _nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        by_group[_group(func)] += tt
        total += tt
        rows.append((tt, ct, f"{Path(func[0]).name}:{func[1]}({func[2]})"))
    rows.sort(reverse=True)
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(25)
    return {"minutes": minutes, "total_self_s": total,
            "by_package_pct": {k: round(100 * v / total, 1) for k, v in sorted(by_group.items(), key=lambda x: -x[1])},
            "top_self": [{"self_s": round(tt, 3), "cum_s": round(ct, 3), "function": name}
                         for tt, ct, name in rows[:15]],
            "cumulative_text": buf.getvalue()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--minutes", type=float, default=60.0, help="session length (default 60)")
    ap.add_argument("--profile-minutes", type=float, default=5.0, help="replay length profiled (default 5)")
    ap.add_argument("--repeats", type=int, default=1, help="timed replays (best CPU time is reported)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 3-minute session, 1-minute profile")
    args = ap.parse_args(argv)
    if args.quick:
        args.minutes, args.profile_minutes = 3.0, 1.0
    cpu = pin_to_one_core()
    path = make_session(args.minutes)
    session_s = args.minutes * 60.0
    runs = [replay_once(path) for _ in range(args.repeats)]
    best = min(runs, key=lambda r: r["cpu_s"])
    x_wall, x_cpu = session_s / best["wall_s"], session_s / best["cpu_s"]
    live_blocks = min((replay_once(path, block_s=None) for _ in range(args.repeats)), key=lambda r: r["cpu_s"])
    offline = analyze_once(path)
    prof = profile(min(args.profile_minutes, args.minutes))
    print(f"\nreplay of a {args.minutes:g}-minute session, 3 pods x 200 Hz, pinned to CPU {cpu}, "
          f"load {load_avg()}")
    print(f"{'':28s} {'wall':>10s} {'CPU':>10s}")
    print(f"{'time (s)':28s} {best['wall_s']:10.1f} {best['cpu_s']:10.1f}")
    print(f"{'x real time':28s} {x_wall:10.0f} {x_cpu:10.0f}")
    print(f"{'items through the pipeline':28s} {sum(best['items'].values()):10d}")
    print("\nfor comparison (same stages; analyze is not bit-identical to the live run):")
    for label, r in (("replay of the live 40-ms blocks", live_blocks), ("sensorkit analyze (no asyncio)", offline)):
        print(f"  {label:30s} {session_s / r['wall_s']:7.0f}x wall {session_s / r['cpu_s']:7.0f}x per CPU s")
    print(f"\nwhere the time goes (cProfile self time, a {prof['minutes']:g}-min recording):")
    for k, v in prof["by_package_pct"].items():
        print(f"  {k:32s} {v:5.1f} %")
    print("  top functions (self s / cumulative s):")
    for row in prof["top_self"][:10]:
        print(f"    {row['self_s']:7.3f} {row['cum_s']:7.3f}  {row['function']}")
    verdict = "met" if x_cpu >= TARGET_X else "NOT met"
    print(f"\nheadline: {x_cpu:.0f}x real time per CPU second ({x_wall:.0f}x wall) on one core; "
          f"target >= {TARGET_X:.0f}x: {verdict}")
    write_json(RESULTS, {
        "headline_x_real_time": round(x_cpu),
        "x_real_time_wall": round(x_wall),
        "cpu_us_per_bus_item": round(1e6 * best["cpu_s"] / max(1, sum(best["items"].values())), 1),
        "target_x_real_time": TARGET_X,
        "target_met": x_cpu >= TARGET_X,
        "session_minutes": args.minutes, "pods": 3, "rate_hz": 200,
        "runs": runs,
        "replay_block_s": replay_block_s(math.inf),
        "x_real_time_per_cpu_s_live_blocks_replay": round(session_s / live_blocks["cpu_s"]),
        "x_real_time_per_cpu_s_offline_analyze": round(session_s / offline["cpu_s"]),
        "live_blocks_replay": live_blocks, "offline_analyze": offline,
        "profile": {k: v for k, v in prof.items() if k != "cumulative_text"},
        "profile_cumulative_text": prof["cumulative_text"], "cpu": cpu, "machine": machine(),
        "command": "python -m bench.replay_speed" + (" --quick" if args.quick else ""),
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
