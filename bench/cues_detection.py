"""Cue detection delay and false cues, on streams with known fatigue onsets and on steady runs.

1. synthetic: 1 Hz RollingMetrics with realistic noise (sensorkit.alerts.synthetic), one drift
   at a time (the simulator's fatigue amounts, 3-min ramp from 20 min) and the whole fatigue
   timeline together; delay = first cue of the expected kind - the moment the TRUE drift
   crosses that rule's threshold. Steady hours (also with speed intervals) for false cues.
2. simulator + DSP: the simulator's fatigue runs (sensorkit.sources.simulator.fatigue_config)
   and steady runs through the real metrics stage (sensorkit.metrics.analyze_items).
3. the 25-min outdoor adeptdata run (real accelerometers, hip + shoe; no ground truth, one
   runner at a steady effort): every cue counts as false.

    python -m bench.cues_detection [--quick] [--seeds 10] [--datasets DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sensorkit.alerts import AlertsSettings, CueEngine
from sensorkit.alerts.synthetic import Drift, StreamSpec, interval_speed, rolling_stream
from sensorkit.model import Cue, CueKind, FatigueState, Record, RollingMetrics, StepMetrics

RESULTS = Path(__file__).parent / "results" / "cues_detection.json"
DATASETS = Path(os.environ.get("SENSORKIT_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))

ONSET_S, RAMP_S = 1200.0, 180.0
# The simulator's fatigue timeline (sensorkit.sources.simulator.FatigueProfile), plus strike and balance.
SINGLE = [
    (CueKind.TRUNK_LEAN, Drift("trunk_lean_deg", ONSET_S, 4.0, RAMP_S)),
    (CueKind.OVERSTRIDE, Drift("cadence_spm", ONSET_S, -4.0, RAMP_S)),
    (CueKind.IMPACT, Drift("impact_g", ONSET_S, 20.0, RAMP_S)),
    (CueKind.IMPACT, Drift("rearfoot_pct", ONSET_S, 30.0, RAMP_S)),
    (CueKind.ASYMMETRY, Drift("balance_left_pct", ONSET_S, 6.0, RAMP_S)),
]
TIMELINE = [Drift("trunk_lean_deg", ONSET_S, 4.0, RAMP_S), Drift("cadence_spm", ONSET_S, -4.0, RAMP_S),
            Drift("impact_g", ONSET_S, 20.0, RAMP_S), Drift("contact_time_ms", ONSET_S, 8.0, RAMP_S)]


def run_engine(records: Iterable[Record], runner: str,
               settings: AlertsSettings) -> tuple[list[Cue], list[FatigueState]]:
    cues, states, _ = run_engine_detections(records, runner, settings)
    return cues, states


def run_engine_detections(records: Iterable[Record], runner: str, settings: AlertsSettings
                          ) -> tuple[list[Cue], list[FatigueState], list[tuple[float, CueKind]]]:
    """Cues, fatigue states and detections (a fault lasted its minimum duration, cue or not)."""
    engine = CueEngine(runner, settings)
    cues: list[Cue] = []
    states: list[FatigueState] = []
    for r in records:
        for out in engine.update(r):
            (cues if isinstance(out, Cue) else states).append(out)  # type: ignore[arg-type]
    return cues, states, list(engine.detections)


def crossing_s(kind: CueKind, drifts: Sequence[Drift], settings: AlertsSettings) -> float | None:
    """When the true drift first crosses any of the rule's thresholds."""
    rule = settings.rules.get(kind)
    times = []
    for d in drifts:
        thr = rule.triggers.get(d.metric)
        if thr is None:
            continue
        t = d.crossing_s(-thr if d.amount < 0 else thr)
        if t is not None:
            times.append(t)
    return min(times) if times else None


def first_delay(cues: Sequence[Cue] | Sequence[tuple[float, CueKind]], kind: CueKind, cross: float | None,
                onset: float) -> float | None:
    """Time from the true crossing to the first cue (or detection) of ``kind`` after the onset."""
    if cross is None:
        return None
    pairs = [(c.time_s, c.kind) if isinstance(c, Cue) else c for c in cues]
    late = [t for t, k in pairs if k is kind and t >= onset]
    return late[0] - cross if late else None


def summary(delays: Sequence[float | None]) -> dict[str, Any]:
    got = [d for d in delays if d is not None]
    if not got:
        return {"runs": len(delays), "detected": 0}
    return {"runs": len(delays), "detected": len(got), "median_s": round(float(np.median(got)), 1),
            "max_s": round(float(np.max(got)), 1), "min_s": round(float(np.min(got)), 1)}


def false_cues(cues: Sequence[Cue]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in cues:
        out[c.kind.value] = out.get(c.kind.value, 0) + 1
    return out


def synthetic(settings: AlertsSettings, seeds: int) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for kind, drift in SINGLE:
        cross = crossing_s(kind, [drift], settings)
        delays = []
        for seed in range(seeds):
            cues, _ = run_engine(rolling_stream(StreamSpec(1800, [drift], seed=seed)), "r1", settings)
            delays.append(first_delay(cues, kind, cross, ONSET_S))
        rows[f"{kind.value}<-{drift.metric}"] = {"crossing_s": cross, **summary(delays)}
    timeline: dict[str, list[float | None]] = {}
    for seed in range(seeds):
        cues, _, det = run_engine_detections(rolling_stream(StreamSpec(1920, TIMELINE, seed=100 + seed)), "r1",
                                             settings)
        for kind in (CueKind.TRUNK_LEAN, CueKind.OVERSTRIDE, CueKind.IMPACT):
            cross = crossing_s(kind, TIMELINE, settings)
            timeline.setdefault(f"{kind.value} detected", []).append(first_delay(det, kind, cross, ONSET_S))
            timeline.setdefault(f"{kind.value} cue", []).append(first_delay(cues, kind, cross, ONSET_S))
        # No single true crossing for the score: the delay after the onset instead.
        late = [c.time_s for c in cues if c.kind is CueKind.FATIGUE and c.time_s >= ONSET_S]
        timeline.setdefault("fatigue cue (after onset)", []).append(late[0] - ONSET_S if late else None)
    steady_h = 0.0
    steady: list[Cue] = []
    for seed in range(seeds):
        for spec in (StreamSpec(3600, seed=200 + seed),
                     StreamSpec(3600, speed=interval_speed(2.8, 4.0, 240, start_s=600), seed=300 + seed)):
            cues, _ = run_engine(rolling_stream(spec), "r1", settings)
            steady += cues
            steady_h += spec.duration_s / 3600
    return {"single_drifts": rows, "timeline": {k: summary(v) for k, v in timeline.items()},
            "steady_hours": steady_h, "steady_false_cues": false_cues(steady),
            "steady_false_per_hour": round(len(steady) / steady_h, 3)}


def dsp_records(cfg: Any) -> tuple[str, list[Record]]:
    from sensorkit.metrics import analyze_items
    from sensorkit.model import RunnerInfo, SessionInfo
    from sensorkit.sources.simulator import ItemFeed, SimulatedRun

    run = SimulatedRun(cfg)
    info = SessionInfo("bench", 0.0, (RunnerInfo(cfg.runner.name),), run.sensors, "bench")
    items = (it for w in ItemFeed(run).windows() for _, it in w)
    recs: list[Record] = [r for r in analyze_items(info, items) if isinstance(r, RollingMetrics | StepMetrics)]
    return cfg.runner.name, recs


def simulator(settings: AlertsSettings, fatigue_seeds: int, steady_runs: int) -> dict[str, Any]:
    from sensorkit.sources.simulator import demo_runners, fatigue_config, steady_config

    out: dict[str, Any] = {"fatigue": [], "steady": []}
    sim_drifts = TIMELINE  # the simulator applies exactly these amounts and ramp
    for seed in range(fatigue_seeds):
        t0 = time.process_time()
        runner, recs = dsp_records(fatigue_config(1920.0, seed, onset_s=ONSET_S))
        cues, states, det = run_engine_detections(recs, runner, settings)
        row: dict[str, Any] = {"seed": seed, "dsp_cpu_s": round(time.process_time() - t0, 1),
                               "cues": [(c.kind.value, c.time_s) for c in cues],
                               "false_before_onset": sum(c.time_s < ONSET_S for c in cues)}
        for kind in (CueKind.TRUNK_LEAN, CueKind.OVERSTRIDE, CueKind.IMPACT):
            cross = crossing_s(kind, sim_drifts, settings)
            row[kind.value] = first_delay(cues, kind, cross, ONSET_S)
            row[f"{kind.value}_detected"] = first_delay(det, kind, cross, ONSET_S)
        fat = [c.time_s for c in cues if c.kind is CueKind.FATIGUE and c.time_s >= ONSET_S]
        row["fatigue_after_onset_s"] = fat[0] - ONSET_S if fat else None
        row["max_score_before_onset"] = max((s.score for s in states if s.time_s < ONSET_S), default=0.0)
        out["fatigue"].append(row)
    configs = [steady_config(3600.0, seed) for seed in range(steady_runs)]
    configs += demo_runners(3, 1920.0, 0)[1:]  # the demo's two steady runners (pause, drift, loss)
    for cfg in configs:
        runner, recs = dsp_records(cfg)
        cues, _ = run_engine(recs, runner, settings)
        out["steady"].append({"runner": runner, "hours": cfg.duration_s / 3600, "seed": cfg.seed,
                              "false_cues": false_cues(cues), "cue_times": [c.time_s for c in cues]})
    hours = sum(r["hours"] for r in out["steady"])
    n = sum(sum(r["false_cues"].values()) for r in out["steady"])
    out["steady_hours"] = round(hours, 2)
    out["steady_false_per_hour"] = round(n / hours, 3) if hours else None
    return out


def adeptdata(settings: AlertsSettings, datasets: Path) -> dict[str, Any]:
    if not (datasets / "adeptdata_outdoor_run").exists():
        return {"skipped": f"no dataset at {datasets}"}
    from sensorkit.metrics import analyze_items
    from sensorkit.validation import adeptdata as ad

    session = ad.load_session(datasets)
    recs = [r for r in analyze_items(session.info, session.items) if isinstance(r, RollingMetrics | StepMetrics)]
    runner = session.info.runners[0].name
    cues, states = run_engine(recs, runner, settings)
    dur_h = (max(r.time_s for r in recs) - min(r.time_s for r in recs)) / 3600 if recs else 0.0
    engine = CueEngine(runner, settings)
    for r in recs:
        engine.update(r)
    return {"hours": round(dur_h, 3), "cues": len(cues), "false_cues": false_cues(cues),
            "cue_times": [(c.kind.value, round(c.time_s, 1), c.metric) for c in cues],
            "max_score": round(max((s.score for s in states), default=0.0), 1),
            "baselines": {k: {"median": round(b.median, 2), "noise": round(b.noise, 3)}
                          for k, b in engine.baselines.items()}}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="cue detection delay and false cues")
    ap.add_argument("--quick", action="store_true", help="3 seeds, 1 simulator fatigue run, 1 steady hour")
    ap.add_argument("--seeds", type=int, default=10, help="synthetic seeds per case")
    ap.add_argument("--datasets", type=Path, default=DATASETS)
    args = ap.parse_args(argv)
    settings = AlertsSettings()
    seeds = 3 if args.quick else args.seeds
    t0 = time.monotonic()
    syn = synthetic(settings, seeds)
    sim = simulator(settings, 1 if args.quick else 3, 1 if args.quick else 2)
    adept = adeptdata(settings, args.datasets)
    print("detection delay after the true drift crosses the rule's threshold (synthetic, "
          f"{seeds} seeds; target <= 60 s)")
    print(f"  {'case':34s} {'detected':>9s} {'median s':>9s} {'max s':>7s}")
    for name, r in syn["single_drifts"].items():
        print(f"  {'single ' + name:34s} {r['detected']:>4d}/{r['runs']:<4d} {r.get('median_s', '-'):>9} "
              f"{r.get('max_s', '-'):>7}")
    for name, r in syn["timeline"].items():
        label = f"timeline {name}"
        print(f"  {label:34s} {r['detected']:>4d}/{r['runs']:<4d} {r.get('median_s', '-'):>9} {r.get('max_s', '-'):>7}")
    print(f"  steady synthetic: {syn['steady_false_per_hour']} false cues/h over {syn['steady_hours']:.0f} h "
          f"{syn['steady_false_cues']}")
    print("\nsimulator + DSP (fatigue runs: delay after the true crossing; fatigue: after the onset)")
    for r in sim["fatigue"]:
        print(f"  seed {r['seed']}: detected/cued trunk_lean {r['trunk_lean_detected']}/{r['trunk_lean']}, "
              f"overstride {r['overstride_detected']}/{r['overstride']}, impact {r['impact_detected']}/"
              f"{r['impact']}, fatigue cue {r['fatigue_after_onset_s']} after onset; cues before onset "
              f"{r['false_before_onset']}")
    for r in sim["steady"]:
        print(f"  steady {r['runner']} seed {r['seed']} ({r['hours']:.2f} h): {r['false_cues'] or 'no cues'}")
    print(f"  simulator steady: {sim['steady_false_per_hour']} false cues/h over {sim['steady_hours']} h")
    if "skipped" in adept:
        print(f"\nadeptdata: skipped ({adept['skipped']})")
    else:
        print(f"\nadeptdata 25-min outdoor run: {adept['cues']} cues {adept['false_cues'] or ''} "
              f"(max fatigue score {adept['max_score']})")
    delays = [r.get("max_s") for r in syn["single_drifts"].values()]
    sim_delays = [r[f"{k}_detected"] for r in sim["fatigue"] for k in ("trunk_lean", "overstride", "impact")]
    sim_cue_delays = [r[k] for r in sim["fatigue"] for k in ("trunk_lean", "overstride", "impact")]
    headline = {
        "synthetic_max_delay_s": max((d for d in delays if d is not None), default=None),
        "simulator_max_detection_delay_s": max((d for d in sim_delays if d is not None), default=None),
        "simulator_max_cue_delay_s": max((d for d in sim_cue_delays if d is not None), default=None),
        "simulator_missed": sum(d is None for d in sim_delays),
        "synthetic_false_per_hour": syn["steady_false_per_hour"],
        "simulator_false_per_hour": sim["steady_false_per_hour"],
        "adeptdata_cues": adept.get("cues"),
    }
    print(f"\nheadline: {headline}  ({time.monotonic() - t0:.0f} s)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"headline": headline, "synthetic": syn, "simulator": sim, "adeptdata": adept,
                                   "settings": settings.model_dump(mode="json")}, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
