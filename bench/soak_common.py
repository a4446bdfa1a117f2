"""What the soak benches (and their short CI versions in tests/test_soak.py) share.

A soak runs the real composition (``sensorkit.compose.assemble``: metrics, cue engine,
recording, dashboard, cue audio as WAV files) on simulated runners whose pods lose packets
(the injected fault), and checks the three things issue 10 asks for:

* memory flat: RSS growth after warm-up under 10 % (median of the last tenth of the run
  against the median of the tenth right after warm-up);
* no task leaks: the event loop has the same tasks after the session as before it;
* no dropped samples beyond the injected ones: per pod, samples the simulator produced =
  samples it delivered + samples it reported lost in gaps, and the recording holds exactly
  the delivered samples and the same lost counts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._measure import cpu_s, load_avg, machine, rss_mb
from sensorkit.compose import Mode, assemble
from sensorkit.config import demo_config
from sensorkit.model import Gap, SampleBlock, SensorInfo, SourceItem
from sensorkit.pipeline.clock import HostClock
from sensorkit.sources.simulator import SimulatedRun, SimulatorSource
from sensorkit.sources.simulator.settings import SimulatorSettings
from sensorkit.store.recording import RecordingReader
from tests.support.sources import observed

RSS_GROWTH_LIMIT_PCT = 10.0


@dataclass(frozen=True, slots=True)
class SoakPlan:
    runners: int
    duration_s: float
    speed: float
    """Times real time; ``math.inf`` runs flat out."""
    loss_fraction: float = 0.002
    """Injected packet loss per pod (bursts of ``loss_burst_packets``)."""
    loss_burst_packets: float = 3.0
    seed: int = 0
    fatigue_onset_s: float | None = None
    """Default: two thirds into the run."""
    dashboard: bool = True
    dashboard_history_s: float = 60.0
    """The dashboard keeps this much chart history per runner; it fills during warm-up."""
    audio: bool = True
    rss_every_s: float = 0.5
    """Wall seconds between RSS samples."""
    warmup_fraction: float = 0.1
    """Share of the run (data time) that holds imports, caches and warm-up, left out of 'flat'."""


class CountedSource:
    """A source as the session sees it, counting what it delivers and what it reports lost."""

    def __init__(self, source: SimulatorSource) -> None:
        self.source = source
        self.sensors: Sequence[SensorInfo] = source.sensors
        self.samples: Counter[str] = Counter()
        self.lost: Counter[str] = Counter()
        self.data_time_s = 0.0

    async def __aenter__(self) -> CountedSource:
        await self.source.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.source.__aexit__(*exc)

    def items(self) -> AsyncIterator[SourceItem]:
        return observed(self.source.items(), self._count)

    def _count(self, item: SourceItem) -> None:
        if isinstance(item, SampleBlock) and len(item):
            self.samples[item.sensor_id] += len(item)
            self.data_time_s = max(self.data_time_s, float(item.end_s))
        elif isinstance(item, Gap):
            self.lost[item.sensor_id] += item.lost_samples or 0


@dataclass
class SoakResult:
    plan: SoakPlan
    wall_s: float = 0.0
    cpu_s: float = 0.0
    data_s: float = 0.0
    rss: list[tuple[float, float, float]] = field(default_factory=list)
    """(wall s, data time s, RSS MB) samples."""
    rss_growth_pct: float | None = None
    rss_baseline_mb: float | None = None
    rss_end_mb: float | None = None
    tasks_before: int = 0
    tasks_after: int = 0
    leaked_tasks: list[str] = field(default_factory=list)
    sensors: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per pod: expected, delivered, injected_lost, recorded, recorded_lost."""
    channel_drops: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    steps: int = 0
    cues: int = 0
    load_avg: list[float] = field(default_factory=list)

    def problems(self, *, memory: bool = True) -> list[str]:
        """Everything that breaks the soak's promises (empty: it held); ``memory=False`` leaves
        out RSS, for runs too short to get past the warm-up of the bounded buffers."""
        out = []
        if memory and (self.rss_growth_pct is None or self.rss_growth_pct >= RSS_GROWTH_LIMIT_PCT):
            out.append(f"RSS grew {self.rss_growth_pct} % after warm-up (limit {RSS_GROWTH_LIMIT_PCT} %)")
        if self.leaked_tasks:
            out.append(f"tasks outlived the session: {self.leaked_tasks}")
        for sid, c in self.sensors.items():
            if c["delivered"] + c["injected_lost"] != c["expected"]:
                out.append(f"{sid}: delivered {c['delivered']} + lost {c['injected_lost']} != {c['expected']}")
            if c["recorded"] != c["delivered"]:
                out.append(f"{sid}: recorded {c['recorded']} samples of {c['delivered']} delivered")
            if c["recorded_lost"] != c["injected_lost"]:
                out.append(f"{sid}: recording says {c['recorded_lost']} lost, the source {c['injected_lost']}")
        if self.errors:
            out.append(f"errors survived: {self.errors}")
        return out

    def as_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["plan"] = {k: (None if isinstance(v, float) and math.isinf(v) else v)
                     for k, v in dataclasses.asdict(self.plan).items()}
        d["problems"] = self.problems()
        return d


def _growth(rss: list[tuple[float, float, float]], data_s: float, warmup_fraction: float
            ) -> tuple[float | None, float | None, float | None]:
    after = [r for r in rss if r[1] >= warmup_fraction * data_s]
    if len(after) < 2:
        return None, None, None
    tenth = max(1, len(after) // 10)
    base = statistics.median(r[2] for r in after[:tenth])
    end = statistics.median(r[2] for r in after[-tenth:])
    return round((end - base) / base * 100.0, 2), round(base, 1), round(end, 1)


async def run_soak(plan: SoakPlan, workdir: Path) -> SoakResult:
    """Run the plan's session to the end of its simulated run and measure it."""
    result = SoakResult(plan)
    onset = plan.fatigue_onset_s if plan.fatigue_onset_s is not None else plan.duration_s * 2 / 3
    fields = {"runners": plan.runners, "duration_s": plan.duration_s, "seed": plan.seed,
              "fatigue_onset_s": onset, "block_duration_s": 0.04}
    # The config caps simulated runners at 16 (a demo); a soak may go further, so past it the
    # settings are constructed without that check (everything else is the same composition).
    sim = SimulatorSettings(**fields) if plan.runners <= 16 else SimulatorSettings.model_construct(
        **{**SimulatorSettings().model_dump(), **fields})
    base = demo_config()
    cfg = base.model_copy(update={
        "simulator": sim,
        "recording": base.recording.model_copy(update={"directory": workdir / "recordings"}),
        "audio": base.audio.model_copy(update={"enabled": plan.audio, "output": "wav", "wav_dir": workdir / "cues",
                                               "cache_dir": workdir / "cue-cache", "runners": []}),
        "dashboard": base.dashboard.model_copy(update={"port": 0, "history_s": plan.dashboard_history_s}),
    })
    real_time = plan.speed == 1.0
    clock = HostClock()
    tasks_before = asyncio.all_tasks()
    assembly = assemble(cfg, Mode.DEMO, speed=plan.speed, clock=clock, terminal=False, record=True,
                        dashboard=plan.dashboard)
    lossy = [dataclasses.replace(c, pods=tuple(dataclasses.replace(p, loss_fraction=plan.loss_fraction,
                                                                   loss_burst_packets=plan.loss_burst_packets)
                                               for p in c.pods)) for c in sim.configs()]
    sources = [CountedSource(SimulatorSource(c, speed=plan.speed, block_duration_s=sim.block_duration_s,
                                             clock=clock if real_time else None)) for c in lossy]
    assert [s for src in sources for s in src.sensors] == list(assembly.info.sensors), "sensors differ"
    assembly.sources[:] = sources
    session = assembly.session()

    async def probe() -> None:
        while True:
            data_t = max((s.data_time_s for s in sources), default=0.0)
            result.rss.append((round(time.perf_counter() - t0, 3), round(data_t, 2), round(rss_mb(), 2)))
            await asyncio.sleep(plan.rss_every_s)

    t0, c0 = time.perf_counter(), cpu_s()
    async with asyncio.TaskGroup() as tg:
        prober = tg.create_task(probe(), name="soak-rss-probe")
        stats = await session.run()
        prober.cancel()
    result.wall_s, result.cpu_s = round(time.perf_counter() - t0, 2), round(cpu_s() - c0, 2)
    await asyncio.sleep(0)
    leaked = {t for t in asyncio.all_tasks() - tasks_before if not t.done()}
    result.tasks_before, result.tasks_after = len(tasks_before), len(tasks_before) + len(leaked)
    result.leaked_tasks = sorted(t.get_name() for t in leaked)
    result.data_s = max(s.data_time_s for s in sources)
    result.rss_growth_pct, result.rss_baseline_mb, result.rss_end_mb = _growth(
        result.rss, result.data_s, plan.warmup_fraction)
    result.channel_drops = {c.name: c.dropped for c in stats.channels if c.dropped}
    result.errors = dict(stats.errors)
    result.steps, result.cues = stats.items.get("StepMetrics", 0), stats.items.get("Cue", 0)
    assert assembly.recording_path is not None
    rec = RecordingReader(assembly.recording_path)
    recorded_lost: Counter[str] = Counter()
    for g in rec.gaps():
        recorded_lost[g.sensor_id] += g.lost_samples or 0
    for src, run_cfg in zip(sources, lossy, strict=True):
        run = SimulatedRun(run_cfg)  # only to ask how many samples each pod takes in the run
        for k, s in enumerate(src.sensors):
            sid = s.sensor_id
            result.sensors[sid] = {"expected": int(run.n_samples(k)),
                                   "delivered": src.samples[sid], "injected_lost": src.lost[sid],
                                   "recorded": rec.sample_count(sid), "recorded_lost": recorded_lost[sid]}
    result.load_avg = load_avg()
    return result


def print_result(title: str, r: SoakResult) -> None:
    lost = sum(c["injected_lost"] for c in r.sensors.values())
    recorded = sum(c["recorded"] for c in r.sensors.values())
    print(f"{title}\n"
          f"  data {r.data_s:9.1f} s in {r.wall_s:8.1f} s wall, {r.cpu_s:8.1f} s CPU "
          f"({r.data_s / r.wall_s if r.wall_s else 0:.1f}x real time), load {r.load_avg}\n"
          f"  RSS {r.rss_baseline_mb} -> {r.rss_end_mb} MB after warm-up: {r.rss_growth_pct} % "
          f"(limit {RSS_GROWTH_LIMIT_PCT} %)\n"
          f"  tasks before/after {r.tasks_before}/{r.tasks_after}, leaked {r.leaked_tasks or 'none'}\n"
          f"  {len(r.sensors)} pods: {recorded} samples recorded, {lost} lost by injection (all recorded as gaps)\n"
          f"  {r.steps} steps, {r.cues} cues, live-view drops by policy {r.channel_drops or 'none'}, "
          f"errors {r.errors or 'none'}")
    problems = r.problems()
    print("  RESULT: " + ("held" if not problems else "FAILED: " + "; ".join(problems)))


def save_result(bench: str, out: Path, r: SoakResult, **extra: Any) -> str:
    """Write the JSON result; returns the headline's verdict on losses and leaks."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"bench": bench, "machine": machine(), **extra, **r.as_json()}, indent=1) + "\n")
    lost = "no sample lost beyond the injected ones" if not r.problems(memory=False) else "SAMPLES LOST"
    return f"RSS growth {r.rss_growth_pct} % after warm-up; {len(r.leaked_tasks)} leaked tasks; {lost}"
