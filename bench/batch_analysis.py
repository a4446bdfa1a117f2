"""Batch analysis throughput (``sensorkit analyze`` over many files) on one core and on two.

Run: ``python -m bench.batch_analysis [--sessions 8] [--minutes 10] [--no-report] [--quick]``

Sessions: simulated runs (3 pods x 200 Hz, speed readings, varied seeds) written once with
RecordingWriter and cached in ``$TMPDIR/sensorkit-bench/batch``. Each configuration runs the
real batch (``sensorkit.analysis.batch.run_batch``: process pool, one file per task, CSV +
Parquet + HTML report per session, pooled tables) with the process pinned to 1 or 2 CPUs.
CPU time (parent + workers) is reported next to wall time: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench._measure import Clock, load_avg, machine, write_json
from sensorkit.analysis.batch import run_batch
from sensorkit.analysis.outputs import OutputOptions
from sensorkit.model import RunnerInfo, SessionInfo
from sensorkit.sources.simulator import SimulatedRun, fatigue_config
from sensorkit.sources.simulator.feed import ItemFeed
from sensorkit.store.recording import RecordingReader, RecordingWriter

RESULTS = Path(__file__).resolve().parent / "results" / "batch_analysis.json"
CACHE = Path(tempfile.gettempdir()) / "sensorkit-bench" / "batch"


def make_sessions(n: int, minutes: float) -> list[str]:
    out = []
    for k in range(n):
        path = CACHE / f"s{k:02d}_{minutes:g}min.skrec"
        ok = False
        if path.exists():
            try:
                ok = RecordingReader(path).closed
            except Exception:  # any problem: make it again
                ok = False
        if not ok:
            path.parent.mkdir(parents=True, exist_ok=True)
            cfg = fatigue_config(duration_s=minutes * 60.0, seed=100 + k, onset_s=minutes * 30.0)
            cfg = type(cfg)(cfg.runner, cfg.pods, cfg.duration_s, cfg.seed, speed_output_hz=1.0)
            run = SimulatedRun(cfg)
            info = SessionInfo(path.stem, 1_767_225_600.0 + 86400 * k, (RunnerInfo(run.runner.name),), run.sensors,
                               "bench")
            with RecordingWriter(path, info, overwrite=True, auto_flush=False) as w:
                for window in ItemFeed(run).windows():
                    w.write_many(item for _, item in window)
        out.append(str(path))
    return out


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measure(paths: list[str], cores: int, report: bool, out_dir: Path) -> dict[str, Any]:
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < cores:
        return {"cores": cores, "skipped": f"only {len(allowed)} CPU(s) available"}
    os.sched_setaffinity(0, set(allowed[-cores:]))
    shutil.rmtree(out_dir, ignore_errors=True)
    child0 = _children_cpu()
    clock = Clock()
    result = run_batch(paths, OutputOptions(out_dir, report=report), jobs=cores)
    wall, cpu = clock.wall(), clock.cpu() + (_children_cpu() - child0)
    os.sched_setaffinity(0, set(allowed))
    session_s = sum(o.duration_s for o in result.outcomes)
    return {"cores": cores, "jobs": cores, "wall_s": wall, "cpu_s": cpu, "sessions": len(paths),
            "failed": len(result.failed), "session_hours": session_s / 3600.0,
            "sessions_per_min": 60.0 * len(paths) / wall, "x_real_time_wall": session_s / wall,
            "x_real_time_per_cpu_s": session_s / cpu,
            "worker_cpu_s_per_session": sum(o.cpu_s for o in result.outcomes) / len(paths),
            "cores_used": cpu / wall,
            "summary": result.summary.to_pylist(), "load_avg_after": load_avg()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--minutes", type=float, default=10.0, help="length of each session")
    ap.add_argument("--no-report", action="store_true", help="CSV + Parquet only, no HTML reports")
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 sessions of 2 minutes")
    args = ap.parse_args(argv)
    if args.quick:
        args.sessions, args.minutes = 2, 2.0
    paths = make_sessions(args.sessions, args.minutes)
    work = Path(tempfile.mkdtemp(prefix="sensorkit-batch-"))
    try:
        one = measure(paths, 1, not args.no_report, work / "one")
        two = measure(paths, 2, not args.no_report, work / "two")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    same = "skipped" not in two and repr(one["summary"]) == repr(two["summary"])
    print(f"\nbatch analysis: {args.sessions} sessions x {args.minutes:g} min, 3 pods x 200 Hz, "
          f"{'with' if not args.no_report else 'without'} HTML reports; load {load_avg()}")
    print(f"{'cores':>5s} {'wall s':>8s} {'CPU s':>8s} {'cores used':>11s} {'sessions/min':>13s} "
          f"{'x real time':>12s} {'x per CPU s':>12s}")
    for r in (one, two):
        if "skipped" in r:
            print(f"{r['cores']:5d} skipped: {r['skipped']}")
            continue
        print(f"{r['cores']:5d} {r['wall_s']:8.1f} {r['cpu_s']:8.1f} {r['cores_used']:11.2f} "
              f"{r['sessions_per_min']:13.1f} {r['x_real_time_wall']:12.0f} {r['x_real_time_per_cpu_s']:12.0f}")
    speedup = one["wall_s"] / two["wall_s"] if "skipped" not in two else None
    # What two idle cores would give: twice the work per unit time, less the pool's extra CPU.
    estimate = 2.0 * one["cpu_s"] / two["cpu_s"] if "skipped" not in two else None
    if speedup is None or estimate is None:
        print("\nheadline: only one core")
    else:
        print(f"\nheadline: speed-up 1 -> 2 cores {speedup:.2f}x measured (wall; 'cores used' shows what the "
              f"shared machine gave us), {estimate:.2f}x on two idle cores (from CPU time); "
              f"results identical: {same}")
    for r in (one, two):
        r.pop("summary", None)
    write_json(RESULTS, {
        "speedup_2_cores": None if speedup is None else round(speedup, 2),
        "speedup_2_cores_cpu_bound_estimate": None if estimate is None else round(estimate, 2),
        "headline_sessions_per_min_2_cores": None if "skipped" in two else round(two["sessions_per_min"], 2),
        "headline_x_real_time_2_cores": None if "skipped" in two else round(two["x_real_time_wall"]),
        "identical_results": same, "one_core": one, "two_cores": two,
        "sessions": args.sessions, "minutes": args.minutes, "reports": not args.no_report, "machine": machine(),
        "command": "python -m bench.batch_analysis" + (" --quick" if args.quick else ""),
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
