"""Fault bench: a BLE disconnect storm, a drop every 5 s for 10 minutes (issue 10).

Run: ``python -m bench.soak_ble_storm [--minutes 10] [--every-s 5] [--cross-process]``

Two emulated DIY pods (bumble GATT servers; acc x counts samples, so every loss is visible)
reached by sensorkit's unchanged bleak code through the bumble-backed backend, in a real
Session that records: "storm" drops its link every ``--every-s``, "steady" never does. In
``--cross-process`` mode the pods and the controllers run in other processes (HCI over TCP).
Checks what tests/test_faults_ble.py checks on a 12-second storm: every drop is one
reconnect and one recorded gap counting exactly the samples it swallowed, the steady pod is
untouched, everything handed to the session is recorded, no task outlives it. Reports the
hole per drop (link loss to the next sample) and writes bench/results/soak_ble_storm.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._measure import cpu_s, load_avg, machine, rss_mb
from sensorkit.ble.bumble.host import BumbleCentral
from sensorkit.ble.emulation.processes import EmulatedPodsProcess
from tests.test_faults_ble import LEFT, RIGHT, Outcome, gaps_of, pods, record_session, sample_index

RESULTS = Path(__file__).resolve().parent / "results" / "soak_ble_storm.json"


async def in_process(minutes: float, every_s: float, path: Path) -> tuple[Outcome, int]:
    drops = 0

    async def storm() -> None:
        nonlocal drops
        while True:
            await asyncio.sleep(every_s)
            if made["storm"].connection is not None:
                drops += 1
            await made["storm"].drop_link()

    async with pods("storm", "steady") as (backend, made):
        out = await record_session(backend, {"storm": LEFT, "steady": RIGHT}, path, minutes * 60, storm)
    return out, drops


async def cross_process(minutes: float, every_s: float, path: Path) -> tuple[Outcome, int]:
    with EmulatedPodsProcess(["storm", "steady"], "--motion", "counter", "--drop-every-s", str(every_s),
                             "--drop", "storm") as world:
        await asyncio.to_thread(world.wait_ready)
        async with BumbleCentral(transport=world.host_transport) as central:
            out = await record_session(central.backend, {"storm": LEFT, "steady": RIGHT}, path, minutes * 60)
    return out, -1  # the other process does not report its drops; the gaps do


def summarise(out: Outcome, drops: int) -> dict[str, Any]:
    rec, storm, steady = out.recording, "r/left_foot", "r/right_foot"
    res: dict[str, Any] = {"drops_made": drops if drops >= 0 else None}
    for sid, name in ((storm, "storm"), (steady, "steady")):
        index = sample_index(rec, sid)
        gaps = gaps_of(rec, sid)
        missing = int(index[-1] - index[0] + 1 - index.size) if index.size else 0
        res[name] = {
            "recorded_samples": rec.sample_count(sid), "handed_over": out.handed_over[sid],
            "reconnects": out.health[sid].reconnects, "disconnect_gaps": sum(g.reason == "disconnected" for g in gaps),
            "other_gaps": sum(g.reason != "disconnected" for g in gaps), "missing_samples": missing,
            "lost_in_gaps": sum(g.lost_samples or 0 for g in gaps), "ordered": bool(np.all(np.diff(index) > 0)),
        }
    holes = [g.end_s - g.start_s for g in gaps_of(rec, storm) if g.reason == "disconnected"]
    res["hole_per_drop_s"] = ({"n": len(holes), "median": round(float(np.median(holes)), 3),
                               "p90": round(float(np.percentile(holes, 90)), 3), "max": round(max(holes), 3)}
                              if holes else None)
    res["leaked_tasks"] = sorted(t.get_name() for t in out.leaked_tasks)
    res["errors"] = dict(out.stats.errors)
    s, st = res["storm"], res["steady"]
    problems = []
    if not (s["reconnects"] == s["disconnect_gaps"] > 0):
        problems.append(f"storm: {s['reconnects']} reconnects but {s['disconnect_gaps']} disconnect gaps")
    if drops >= 0 and not drops - 1 <= s["reconnects"] <= drops:  # the last drop may fall at the very end
        problems.append(f"storm: {drops} drops made but {s['reconnects']} reconnects")
    for name, c in (("storm", s), ("steady", st)):
        if c["missing_samples"] != c["lost_in_gaps"] or not c["ordered"]:
            problems.append(f"{name}: {c['missing_samples']} samples missing, {c['lost_in_gaps']} in gaps")
        if c["recorded_samples"] != c["handed_over"]:
            problems.append(f"{name}: recorded {c['recorded_samples']} of {c['handed_over']} handed over")
    if st["reconnects"] or st["disconnect_gaps"]:
        problems.append("the steady pod was disturbed")
    if res["leaked_tasks"] or res["errors"]:
        problems.append(f"leaked tasks {res['leaked_tasks']}, errors {res['errors']}")
    res["problems"] = problems
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--every-s", type=float, default=5.0, help="seconds between link drops")
    ap.add_argument("--cross-process", action="store_true", help="pods and controllers in other processes")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    rss0, c0, t0 = rss_mb(), cpu_s(), time.perf_counter()
    run = cross_process if args.cross_process else in_process
    with tempfile.TemporaryDirectory(prefix="soak-ble-storm-") as tmp:
        out, drops = asyncio.run(run(args.minutes, args.every_s, Path(tmp) / "storm.skrec"))
        res = summarise(out, drops)
    res |= {"bench": "soak_ble_storm", "minutes": args.minutes, "every_s": args.every_s,
            "cross_process": args.cross_process, "wall_s": round(time.perf_counter() - t0, 1),
            "cpu_s": round(cpu_s() - c0, 1), "rss_start_mb": round(rss0, 1), "rss_end_mb": round(rss_mb(), 1),
            "machine": machine(), "load_avg": load_avg()}
    s = res["storm"]
    print(f"BLE disconnect storm: a drop every {args.every_s:g} s for {args.minutes:g} min "
          f"({'cross-process, HCI over TCP' if args.cross_process else 'in-process radio'})")
    print(f"  {'pod':8s} {'recorded':>9s} {'reconnects':>10s} {'gaps':>5s} {'missing':>8s} {'in gaps':>8s}")
    for name in ("storm", "steady"):
        c = res[name]
        print(f"  {name:8s} {c['recorded_samples']:9d} {c['reconnects']:10d} {c['disconnect_gaps']:5d} "
              f"{c['missing_samples']:8d} {c['lost_in_gaps']:8d}")
    print(f"  hole per drop (s): {res['hole_per_drop_s']}; RSS {res['rss_start_mb']} -> {res['rss_end_mb']} MB; "
          f"leaked tasks {res['leaked_tasks'] or 'none'}")
    print(f"headline: {s['reconnects']} drops survived, every hole a gap with its exact sample count, "
          f"{'held' if not res['problems'] else 'FAILED: ' + '; '.join(res['problems'])}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1) + "\n")
    return 1 if res["problems"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
