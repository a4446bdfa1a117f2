"""Memory over a 3-hour marathon at maximum speed: RSS must stay flat and under 150 MB.

Run: ``python -m bench.memory_marathon [--hours 3] [--no-replay] [--quick]``

Phase 1 ("live"): one simulated runner (3 pods, acc+gyro at 200 Hz, fatigue from 60 % of
the run) streams flat out through the real ``Session`` with ``RunnerMetrics``, the cue engine
and a ``RecordingSink``. Phase 2 ("replay"): that recording replayed by ``ReplaySource`` at
maximum speed through the same stages (and a fresh recording sink), as ``sensorkit replay
--max`` does, in a fresh process (``--replay PATH``) as a user's replay would be. Phase 3
("replay_cli"): the command itself, ``sensorkit replay --max --no-terminal --no-dashboard``, with
the imports and sinks of the default config (the composition root imports every sink's module),
its RSS read from ``/proc/PID`` by this process. In phases 1-2 a probe
task in the same event loop samples the process RSS (``/proc``) and the
anonymous part of it (``RssAnon``: heap and numpy buffers, without file pages of the memory-
mapped recording that the kernel may drop) every ``--every-s`` of wall time, with the data
time reached. Flat = the median RSS of the last third of the run exceeds that of the first
third by at most 10 MB (after the first 5 % of the run, which holds imports and warm-up).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._measure import Clock, load_avg, machine, rss_mb, write_json
from sensorkit import __version__
from sensorkit.alerts import AlertsSettings, build_cue_engine
from sensorkit.metrics import RunnerMetrics
from sensorkit.model import RunnerInfo, SessionInfo
from sensorkit.pipeline.contracts import RecordStage
from sensorkit.pipeline.session import Session
from sensorkit.sources.base import Source
from sensorkit.sources.replay import ReplaySource
from sensorkit.sources.simulator import SimulatorSource, fatigue_config
from sensorkit.store.recording.sink import RecordingSink

RESULTS = Path(__file__).resolve().parent / "results" / "memory_marathon.json"
TARGET_MB = 150.0
FLAT_MB = 10.0
CLI_IMPORTS_S = 3.0
"""Wall seconds the command may spend importing before its RSS counts for flatness (start and growth)."""


def rss_anon_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1e3
    except (OSError, ValueError):
        pass
    return None


def _proc_rss_mb(pid: int) -> tuple[float | None, float | None]:
    """VmRSS and RssAnon (MB) of another process, None once it has gone."""
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon"):
                out[key] = int(value.split()[0]) / 1e3
    except (OSError, ValueError):
        pass
    return out.get("VmRSS"), out.get("RssAnon")


def _cli_phase(recording: Path, every_s: float) -> dict[str, Any]:
    """``sensorkit replay --max`` of ``recording`` as a user runs it, sampled from outside."""
    samples: list[tuple[float, float, float, float | None]] = []  # data time is not visible from here
    clock = Clock()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory(prefix="replay-cli-") as cwd:  # the audio sink writes its wavs here
        proc = subprocess.Popen([sys.executable, "-m", "sensorkit", "replay", "--max", "--no-terminal",
                                 "--no-dashboard", str(recording)], cwd=cwd, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        while proc.poll() is None:
            rss, anon = _proc_rss_mb(proc.pid)
            if rss is not None:
                samples.append((clock.wall(), math.nan, rss, anon))
            time.sleep(every_s)
        err = proc.stderr.read() if proc.stderr is not None else ""
    if proc.returncode != 0 or not samples:
        raise RuntimeError(f"sensorkit replay failed ({proc.returncode}): {err[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    settled = [x for x in samples if x[0] >= CLI_IMPORTS_S] or samples
    steady = _flatness(settled)
    return {"wall_s": round(clock.wall(), 2), "cpu_s": round(cpu, 2), "samples": samples, **_flatness(samples),
            **{k: steady[k] for k in ("growth_mb", "growth_anon_mb", "start_rss_mb")},
            "summary": err.strip().splitlines()[-2:]}


async def _phase(info: SessionInfo, source: Source, position: Any, out: Path, every_s: float) -> dict[str, Any]:
    runner = info.runners[0]
    stages: dict[str, list[RecordStage]] = {
        runner.name: [RunnerMetrics(runner, info.sensors_of(runner.name)), build_cue_engine(runner.name,
                                                                                            AlertsSettings())]}
    session = Session(info, [source], stages, [RecordingSink(out, info)])
    samples: list[tuple[float, float, float, float | None]] = []  # wall s, data s, rss, anon
    clock = Clock()

    async def probe() -> None:
        while True:
            samples.append((clock.wall(), position(), rss_mb(), rss_anon_mb()))
            await asyncio.sleep(every_s)

    async with asyncio.TaskGroup() as tg:
        run = tg.create_task(session.run())
        watcher = tg.create_task(probe())
        await run
        watcher.cancel()
    samples.append((clock.wall(), position(), rss_mb(), rss_anon_mb()))
    return {"wall_s": round(clock.wall(), 2), "cpu_s": round(clock.cpu(), 2), "samples": samples,
            **_flatness(samples), "errors": dict(session.stats().errors)}


def _flatness(samples: list[tuple[float, float, float, float | None]]) -> dict[str, Any]:
    n = len(samples)
    rss = np.array([s[2] for s in samples])
    anon = np.array([s[3] if s[3] is not None else np.nan for s in samples])
    body = slice(max(1, n // 20), n)
    r, a = rss[body], anon[body]
    third = max(1, r.size // 3)
    growth = float(np.median(r[-third:]) - np.median(r[:third])) if r.size else math.nan
    growth_anon = float(np.nanmedian(a[-third:]) - np.nanmedian(a[:third])) if a.size else math.nan
    data_h = np.array([s[1] for s in samples])[body] / 3600.0
    slope = float(np.polyfit(data_h, r, 1)[0]) if r.size >= 3 and np.ptp(data_h) > 0 else math.nan
    return {"peak_rss_mb": round(float(rss.max()), 1), "peak_anon_mb": round(float(np.nanmax(anon)), 1),
            "growth_mb": round(growth, 2), "growth_anon_mb": round(growth_anon, 2),
            "slope_mb_per_data_hour": round(slope, 2), "start_rss_mb": round(float(rss[0]), 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--hours", type=float, default=3.0, help="marathon length (data hours)")
    ap.add_argument("--every-s", type=float, default=0.5, help="RSS sampling period (wall seconds)")
    ap.add_argument("--no-replay", action="store_true", help="skip phase 2 (replay of the recording)")
    ap.add_argument("--quick", action="store_true", help="smoke run: a 4-minute run")
    ap.add_argument("--replay", type=Path, help=argparse.SUPPRESS)  # phase 2 alone, in a child process
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.replay is not None:
        rep = ReplaySource(args.replay, speed=math.inf)
        res = asyncio.run(_phase(rep.replay_info(), rep, lambda: rep.position_s,
                                 args.replay.with_name("replay.skrec"), args.every_s))
        write_json(args.out, res)
        return 0
    seconds = 240.0 if args.quick else args.hours * 3600.0
    cfg = fatigue_config(duration_s=seconds, seed=0, name="marathoner", onset_s=0.6 * seconds)
    print(f"sensorkit {__version__}: {seconds / 3600:.2f} h, 3 pods @200 Hz, max speed; load average {load_avg()}; "
          f"RSS at start {rss_mb():.1f} MB")
    phases: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="marathon-") as tmp:
        sim = SimulatorSource(cfg, speed=math.inf)
        info = SessionInfo("marathon", time.time(), (RunnerInfo(cfg.runner.name),), tuple(sim.sensors), __version__, {})
        last = {"t": 0.0}

        def sim_position() -> float:
            return last["t"]

        src = _Tracked(sim, last)
        phases["live"] = asyncio.run(_phase(info, src, sim_position, Path(tmp) / "live.skrec", args.every_s))
        _report("live (simulator -> DSP, cues, recording)", phases["live"], seconds)
        if not args.no_replay:
            out = Path(tmp) / "replay.json"
            subprocess.run([sys.executable, "-m", "bench.memory_marathon", "--replay", str(Path(tmp) / "live.skrec"),
                            "--every-s", str(args.every_s), "--out", str(out)], check=True)
            phases["replay"] = json.loads(out.read_text())
            _report("replay --max in a fresh process (recording -> DSP, cues, recording)", phases["replay"],
                    seconds)
            phases["replay_cli"] = _cli_phase(Path(tmp) / "live.skrec", args.every_s)
            _report("`sensorkit replay --max --no-terminal --no-dashboard` (default config)", phases["replay_cli"],
                    seconds)
    peak = max(p["peak_rss_mb"] for p in phases.values())
    growth = max(p["growth_mb"] for p in phases.values())
    flat = growth <= FLAT_MB
    print(f"\nHEADLINE: peak RSS {peak:.0f} MB over a {seconds / 3600:g}-hour marathon at max speed "
          f"(target <= {TARGET_MB:.0f} MB): {'pass' if peak <= TARGET_MB else 'FAIL'}; growth first -> last third "
          f"{growth:+.1f} MB ({'flat' if flat else 'NOT flat'}, limit {FLAT_MB:.0f} MB)")
    write_json(args.out, {"version": __version__, "data_hours": seconds / 3600, "peak_rss_mb": peak,
                          "growth_mb": growth, "flat": flat, "target_mb": TARGET_MB, "flat_limit_mb": FLAT_MB,
                          "quick": args.quick, "phases": phases, **machine()})
    return 0


def _report(label: str, p: dict[str, Any], seconds: float) -> None:
    print(f"{label}: {p['wall_s']:.0f} s wall, {p['cpu_s']:.0f} s CPU ({seconds / max(p['cpu_s'], 1e-9):.0f}x real "
          f"time per CPU s); RSS start {p['start_rss_mb']:.0f} MB, peak {p['peak_rss_mb']:.0f} MB "
          f"(anonymous {p['peak_anon_mb']:.0f} MB), growth {p['growth_mb']:+.1f} MB, "
          f"slope {p['slope_mb_per_data_hour']:+.2f} MB per data hour", flush=True)


class _Tracked:
    """Passes a source through, remembering the data time of the last sample block."""

    def __init__(self, inner: SimulatorSource, last: dict[str, float]) -> None:
        self._inner = inner
        self._last = last

    @property
    def sensors(self) -> Any:
        return self._inner.sensors

    async def __aenter__(self) -> _Tracked:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._inner.__aexit__(*exc)

    async def items(self) -> Any:
        async for item in self._inner.items():
            end = getattr(item, "end_s", None)
            if end is not None and end == end:
                self._last["t"] = end
            yield item


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
