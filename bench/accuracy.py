"""Accuracy of the DSP against ground truth: Fukuchi RBDS, adeptdata, simulator (issue 3 item 8).

Run: ``python -m bench.accuracy [--datasets DIR] [--no-sim] [--sim-s 120] [--only SECTION]``
(``--ideal-pods`` builds error-free, untilted Fukuchi pods: a diagnostic, not the benchmark;
with ``--out`` elsewhere so it does not overwrite the real results).

* Fukuchi et al. 2017 (PeerJ 5:e3298, CC BY 4.0): virtual lower-back and shoe pods built from
  the markers (noise, bias, mounting tilt added; see docs/validation.md), scored against the
  force plate (or marker-based contacts where the subset has no forces), the marker foot-strike
  angle and the lab's strike labels. The DSP is run three times per trial: back pod alone,
  shoe pods alone, all three (fused steps).
* adeptdata (Karas et al., GPL-3): 25-min outdoor run; hip step cadence vs shoe stride cadence
  x2 per 30-s window, and standing pauses.
* simulator: every metric against the simulator's own truth, incl. trunk lean under impacts
  and mounting tilt.

The DSP entry point is ``sensorkit.metrics.offline.analyze_items(info, items)``; if it is
missing, the data preparation still runs and the tables say so. Prints the tables and writes
``bench/results/accuracy.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sensorkit import __version__
from sensorkit.model import (
    EventKind,
    Placement,
    Record,
    RollingMetrics,
    RunnerInfo,
    SampleBlock,
    SessionInfo,
    Side,
    SourceItem,
    StepEvent,
    StepMetrics,
)
from sensorkit.validation import adeptdata, fukuchi
from sensorkit.validation.evaluate import (
    Reference,
    Scores,
    score_events,
    score_lean,
    score_steps,
    score_strike_labels,
    sensor_ids,
)
from sensorkit.validation.scoring import (
    BACK_TOLERANCE_S,
    SHOE_TOLERANCE_S,
    interval_cadence_spm,
    match_events,
    pause_scores,
)
from sensorkit.validation.virtual_imu import ImuErrorModel, Mounting

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "accuracy.json"
DEFAULT_DATASETS = REPO.parent / "shared" / "datasets"
BACK = {Placement.LOWER_BACK}
SHOES = {Placement.LEFT_FOOT, Placement.RIGHT_FOOT}


# --------------------------------------------------------------------------- DSP entry point
def dsp_entry() -> Callable[[SessionInfo, Sequence[SourceItem]], list[Record]] | None:
    try:
        from sensorkit.metrics.offline import analyze_items
    except ImportError:
        return None
    return analyze_items


def only(info: SessionInfo, items: Sequence[SourceItem], placements: set[Placement]) -> tuple[SessionInfo,
                                                                                                list[SourceItem]]:
    """The same session with only the pods at ``placements`` (a runner wearing just those)."""
    keep = sensor_ids(info.sensors, placements)
    sub = replace(info, sensors=tuple(s for s in info.sensors if s.sensor_id in keep))
    return sub, [i for i in items if getattr(i, "sensor_id", None) in keep]


@dataclass
class Run:
    records: list[Record] | None
    seconds: float
    error: str | None = None


def run_dsp(info: SessionInfo, items: Sequence[SourceItem]) -> Run:
    entry = dsp_entry()
    if entry is None:
        return Run(None, 0.0, "sensorkit.metrics.offline.analyze_items is missing")
    t0 = time.perf_counter()
    try:
        records = entry(info, items)
    except Exception as exc:  # a bench reports a broken DSP instead of dying
        return Run(None, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")
    return Run(records, time.perf_counter() - t0)


# --------------------------------------------------------------------------- metric rows
@dataclass(frozen=True)
class Row:
    key: str
    label: str
    value: Callable[[Scores], float | bool | None]
    target: str = ""
    check: Callable[[Any], bool] | None = None
    anchor: str = ""
    fmt: str = "{:.1f}"


def le(x: float) -> Callable[[Any], bool]:
    return lambda v: v is not None and not (isinstance(v, float) and math.isnan(v)) and v <= x


def ge(x: float) -> Callable[[Any], bool]:
    return lambda v: v is not None and not (isinstance(v, float) and math.isnan(v)) and v >= x


def within(x: float) -> Callable[[Any], bool]:
    return lambda v: v is not None and not (isinstance(v, float) and math.isnan(v)) and abs(v) <= x


def is_true(v: Any) -> bool:
    return v is True


KIERNAN = "sacrum IC bias -30.4 ms, LoA -149..+89 (Kiernan 2023)"
EVENT_ROWS = [
    Row("back.ic_f1", "back  IC F1 (+-100 ms)", lambda s: s.f1("back.ic"), ">= 0.99", ge(0.99), "", "{:.3f}"),
    Row("back.ic_med", "back  median |IC err| ms", lambda s: s.median_abs("back.ic_ms"), "<= 10", le(10), KIERNAN),
    Row("back.ic_bias", "back  mean IC bias ms", lambda s: s.mean("back.ic_ms"), "+-10", within(10), KIERNAN),
    Row("back.tc_f1", "back  TC F1", lambda s: s.f1("back.tc"), "", None, "", "{:.3f}"),
    Row("back.tc_med", "back  median |TC err| ms", lambda s: s.median_abs("back.tc_ms"), "", None,
        "sacrum TC bias -2.8 ms, LoA +-150 (Kiernan 2023)"),
    Row("back.tc_bias", "back  mean TC bias ms", lambda s: s.mean("back.tc_ms")),
    Row("back.side", "back  L/R side right", lambda s: s.share("back.side"), "", None,
        "81.9 % (Kiernan 2023)", "{:.1%}"),
    Row("back.contact", "back  contact time RMSE ms", lambda s: s.rmse("back.contact_ms"), "<= 20", le(20),
        "RMSE 20 ms, bias 13 (Patoz 2022)"),
    Row("back.cadence", "back  max |cadence err| spm", lambda s: s.max_abs("back.cadence_spm"), "<= 1", le(1),
        "", "{:.2f}"),
    Row("shoe.ic_f1", "shoe  IC F1 (+-50 ms)", lambda s: s.f1("shoe.ic"), ">= 0.99", ge(0.99), "", "{:.3f}"),
    Row("shoe.ic_med", "shoe  median |IC err| ms", lambda s: s.median_abs("shoe.ic_ms"), "<= 5", le(5),
        "IC 2+-1 ms (Falbriard 2018); median 5 (Prijot 2020)"),
    Row("shoe.ic_bias", "shoe  mean IC bias ms", lambda s: s.mean("shoe.ic_ms"), "+-10", within(10)),
    Row("shoe.tc_f1", "shoe  TC F1", lambda s: s.f1("shoe.tc"), "", None, "", "{:.3f}"),
    Row("shoe.tc_med", "shoe  median |TC err| ms", lambda s: s.median_abs("shoe.tc_ms"), "", None,
        "TC 4+-2 ms (Falbriard 2018)"),
    Row("shoe.tc_bias", "shoe  mean TC bias ms", lambda s: s.mean("shoe.tc_ms")),
    Row("shoe.contact", "shoe  contact time RMSE ms", lambda s: s.rmse("shoe.contact_ms"), "<= 20", le(20),
        "bias < 12+-10 ms (Falbriard 2018)"),
    Row("shoe.cadence", "shoe  max |cadence err| spm", lambda s: s.max_abs("shoe.cadence_spm"), "<= 1", le(1),
        "", "{:.2f}"),
    Row("shoe.strike", "shoe  strike angle RMSE deg", lambda s: s.rmse("shoe.strike_deg"), "<= 3", le(3),
        "2.0+-5.9 deg (Falbriard 2020)"),
    Row("shoe.strike_bias", "shoe  strike angle bias deg", lambda s: s.mean("shoe.strike_deg")),
    Row("shoe.class_steps", "shoe  class = class(truth angle)", lambda s: s.share("shoe.strike_class_vs_angle"),
        "", None, "", "{:.1%}"),
    Row("shoe.class_label", "shoe  class = lab label, every foot", lambda s: s.all_true("shoe.class_vs_label"),
        "all", is_true, "78 % (RunScribe, JAT 2020)", "{}"),
    Row("truth.class_label", "(marker angle class = lab label)", lambda s: s.all_true("truth.class_vs_label"),
        "", None, "", "{}"),
    Row("fused.steps_f1", "fused steps F1 (+-50 ms)", lambda s: s.f1("fused.steps"), ">= 0.99", ge(0.99), "",
        "{:.3f}"),
    Row("fused.contact", "fused contact time RMSE ms", lambda s: s.rmse("fused.contact_ms"), "<= 20", le(20)),
    Row("fused.cadence", "fused max |cadence err| spm", lambda s: s.max_abs("fused.cadence_spm"), "<= 1", le(1),
        "", "{:.2f}"),
]
SIM_ROWS = [
    Row(f"{scope}.{name}", f"{scope:<5} {label}", (lambda k: lambda s: s.rmse(k))(f"{scope}.{name}"))
    for scope in ("back", "shoe", "fused")
    for name, label in (("flight_time_ms", "flight time RMSE ms"), ("impact_g", "impact peak RMSE g"),
                        ("vertical_oscillation_cm", "vertical oscillation RMSE cm"),
                        ("trunk_lean_deg", "per-step trunk lean RMSE deg"))
]
LEAN_ROW = Row("back.lean", "back  trunk lean RMSE deg", lambda s: s.rmse("back.lean_deg"), "<= 1.5", le(1.5),
               "IMU trunk < 4.4+-1.7 deg, fast moves (Bergamini)")
PELVIS_ROW = Row("back.lean", "back  lean vs pelvis tilt RMSE deg", lambda s: s.rmse("back.lean_deg"), "",
                 None, "no trunk markers: pelvis tilt, not trunk")


def fmt(row: Row, v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    return row.fmt.format(v)


def table(title: str, columns: list[str], scores: list[Scores], rows: list[Row], pass_col: int) -> dict[str, Any]:
    """Print one table (metrics x columns, then target, pass/fail on ``pass_col``, anchor)."""
    lines = [[r.label, *[fmt(r, r.value(s)) for s in scores], r.target or "",
              ("-" if r.check is None else ("pass" if r.check(r.value(scores[pass_col])) else "FAIL")), r.anchor]
             for r in rows if any(fmt(r, r.value(s)) != "-" for s in scores)]
    head = ["metric", *columns, "target", "result", "published anchor"]
    widths = [max(len(str(x[i])) for x in [head, *lines]) for i in range(len(head))]
    print(f"\n## {title}")
    for i, line in enumerate([head, *lines]):
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    out = {}
    for r in rows:
        vals = {c: r.value(s) for c, s in zip(columns, scores, strict=True)}
        checked = r.value(scores[pass_col])
        out[r.key] = {"label": r.label, "values": {k: _json(v) for k, v in vals.items()}, "target": r.target,
                      "pass": None if r.check is None else bool(r.check(checked)), "anchor": r.anchor}
    return out


def _json(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, np.floating):
        return None if math.isnan(float(v)) else float(v)
    return v


def _max_abs(v: np.ndarray) -> float | None:
    """Largest |error|; a window the DSP gave no cadence for counts as infinitely wrong."""
    if v.size == 0:
        return None
    return float("inf") if not np.all(np.isfinite(v)) else float(np.max(np.abs(v)))


def print_rows(title: str, head: list[str], rows: list[list[Any]]) -> None:
    widths = [max(len(str(x[i])) for x in [head, *rows]) for i in range(len(head))]
    print(f"\n## {title}")
    for i, line in enumerate([head, *rows]):
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


# --------------------------------------------------------------------------- Fukuchi
def score_config(records: list[Record], ref: Reference, info: SessionInfo, trial: str, which: str,
                 out: Scores) -> None:
    if which == "back":
        score_events(records, ref, "back", sensor_ids(info.sensors, BACK), BACK_TOLERANCE_S, out=out)
        score_steps(records, ref, "back", BACK_TOLERANCE_S, out=out)
        score_lean(records, ref, "back", out=out)
    elif which == "shoes":
        for s in info.sensors:
            if s.placement in SHOES:
                side = Side.LEFT if s.placement is Placement.LEFT_FOOT else Side.RIGHT
                score_events(records, ref, "shoe", {s.sensor_id}, SHOE_TOLERANCE_S, side=side, out=out)
        score_steps(records, ref, "shoe", SHOE_TOLERANCE_S, out=out)
        score_strike_labels(records, ref, "shoe", trial, out=out)
    else:
        score_steps(records, ref, "fused", SHOE_TOLERANCE_S, out=out)


def fukuchi_section(datasets: Path, settings: fukuchi.FukuchiSettings) -> dict[str, Any]:
    trials = fukuchi.discover_trials(datasets)
    if not trials:
        print(f"\n## Fukuchi RBDS: no trials under {datasets / fukuchi.FOLDER} - skipped")
        return {"skipped": f"no data at {datasets / fukuchi.FOLDER}"}
    prep_rows, prep, per_trial, timings, errors = [], {}, [], {}, {}
    for trial in trials:
        t0 = time.perf_counter()
        s = fukuchi.load_session(trial, settings)
        build_s = time.perf_counter() - t0
        tr = s.truth
        st = tr.steps
        fsa = {side: float(np.median(st.strike_angle_deg[st.of_side(side)])) for side in (Side.LEFT, Side.RIGHT)}
        agree = {}
        if tr.marker_steps is not None:
            for k, (a, b) in {"ic": (tr.marker_steps.ic_s, st.ic_s), "tc": (tr.marker_steps.tc_s, st.tc_s)}.items():
                m = match_events(a, b, 0.05)
                agree[k] = {"f1": m.f1, "bias_ms": m.mean_bias_ms, "sd_ms": m.sd_error_ms}
        stand = []
        for sig in s.signals.values():
            sel = (sig.time_s > tr.standing_window_s[0]) & (sig.time_s < tr.standing_window_s[1])
            stand.append(float(np.linalg.norm(sig.acc_g[sel], axis=1).mean()))
        prep[trial.trial_id] = {
            "truth_source": st.source, "contacts": len(st), "cadence_spm": st.cadence_spm(),
            "contact_time_ms_median": float(np.median(st.contact_time_ms)),
            "strike_angle_deg_median": {k.value: v for k, v in fsa.items()},
            "strike_label": {k.value: (v.value if v else None) for k, v in tr.strike_label.items()},
            "force_lag_ms": None if tr.force_lag_s is None else tr.force_lag_s * 1000.0,
            "marker_vs_force": agree, "standing_acc_g": stand, "build_s": build_s,
            "repairs": tr.notes.get("repairs", ""),
        }
        prep_rows.append([
            trial.trial_id, f"{trial.speed_mps:.1f}", st.source, len(st), f"{st.cadence_spm():.1f}",
            f"{np.median(st.contact_time_ms):.0f}",
            f"{fsa[Side.LEFT]:+.1f}/{fsa[Side.RIGHT]:+.1f}",
            "/".join((v.value if v else "-") for v in (tr.strike_label[Side.LEFT], tr.strike_label[Side.RIGHT])),
            "-" if tr.force_lag_s is None else f"{tr.force_lag_s * 1000:.1f}",
            "-" if not agree else f"{agree['ic']['bias_ms']:+.1f}+-{agree['ic']['sd_ms']:.1f}",
            "-" if not agree else f"{agree['tc']['bias_ms']:+.1f}+-{agree['tc']['sd_ms']:.1f}",
            f"{build_s:.2f}"])
        ref = Reference.from_trial(tr)
        scores = Scores()
        for which, places in (("back", BACK), ("shoes", SHOES), ("all", BACK | SHOES)):
            info, items = only(s.info, s.items, places)
            run = run_dsp(info, items)
            timings[f"{trial.trial_id}/{which}"] = run.seconds
            if run.records is None:
                errors[f"{trial.trial_id}/{which}"] = run.error
                continue
            score_config(run.records, ref, info, trial.trial_id, which, scores)
        per_trial.append(scores)
    print_rows("Fukuchi RBDS ground truth (data preparation; truth times on the marker clock)",
               ["trial", "m/s", "truth", "contacts", "spm", "contact ms", "FSA L/R deg", "label L/R",
                "force lag ms", "marker IC vs force", "marker TC vs force", "build s"], prep_rows)
    out: dict[str, Any] = {"preparation": prep, "dsp_seconds": timings}
    if errors:
        print("\nDSP failed (these runs are left out of the scores below, shown as '-'):")
        for k, e in errors.items():
            print(f"  {k}: {(e or '').splitlines()[0]}")
        out["dsp_errors"] = errors
        if len(errors) == 3 * len(trials):
            return out
    pooled = Scores()
    for sc in per_trial:
        pooled.merge(sc)
    cols = [t.trial_id for t in trials] + ["pooled"]
    out["metrics"] = table("Fukuchi RBDS: virtual pods vs force plate / markers (pass/fail on pooled)", cols,
                           [*per_trial, pooled], [*EVENT_ROWS, PELVIS_ROW], len(cols) - 1)
    out["strike_labels"] = [dict(zip(("trial", "foot", "label", "detected", "marker_angle_class"), d,
                                     strict=True)) for d in pooled.details]
    print_rows("Fukuchi strike class per foot", ["trial", "foot", "lab label", "DSP majority", "marker-angle class"],
               [list(d) for d in pooled.details])
    return out


# --------------------------------------------------------------------------- adeptdata
def adept_section(datasets: Path) -> dict[str, Any]:
    folder = datasets / adeptdata.FOLDER
    if not (folder / adeptdata.FILE).exists():
        print(f"\n## adeptdata: {folder / adeptdata.FILE} not found - skipped")
        return {"skipped": f"no data at {folder}"}
    t0 = time.perf_counter()
    session = adeptdata.load_session(datasets)
    build_s = time.perf_counter() - t0
    ref = session.reference
    running = [w for w in ref.windows if w.kind == "running"]
    out: dict[str, Any] = {
        "build_s": build_s, "pauses_s": [list(p) for p in ref.pauses_s],
        "windows": {k: sum(w.kind == k for w in ref.windows) for k in ("running", "mixed", "pause")},
        "reference_cadence_spm": [w.cadence_spm for w in running],
    }
    print(f"\n## adeptdata reference: {len(ref.windows)} windows of 30 s: {out['windows']}; "
          f"{len(ref.pauses_s)} standing pauses ({sum(b - a for a, b in ref.pauses_s):.0f} s); "
          f"cadence {min(w.cadence_spm for w in running):.1f}-{max(w.cadence_spm for w in running):.1f} spm")
    variants = {"hip=phone(waist)": session}
    variants["hip=lower_back"] = adeptdata.load_session(datasets, adeptdata.AdeptSettings(
        hip_placement=Placement.LOWER_BACK))
    starts = np.array([w.start_s for w in ref.windows])
    ref_spm = np.array([w.cadence_spm for w in ref.windows])
    scored = np.isfinite(ref_spm)
    rows, res = [], {}
    for name, ses in variants.items():
        hip, ankle = ses.info.sensors
        errs, counts, secs = {}, {}, {}
        rolling: list[RollingMetrics] = []
        for label, sensor in (("hip steps", hip), ("shoe strides x2", ankle)):
            info, items = only(ses.info, ses.items, {sensor.placement})
            run = run_dsp(info, items)
            secs[label] = run.seconds
            if run.records is None:
                print(f"DSP not scored on adeptdata ({name}, {label}): {(run.error or '').splitlines()[0]}")
                res.setdefault(name, {})[f"{label} error"] = run.error
                continue
            recs = run.records
            if label == "hip steps":
                steps = sorted((r for r in recs if isinstance(r, StepMetrics)), key=lambda r: r.time_s)
                t = np.array([r.time_s for r in steps])
                iv = np.array([np.nan if r.step_time_s is None else r.step_time_s for r in steps])
                spm = interval_cadence_spm(t, iv, starts, 30.0)
                counts[label] = len(steps)
                rolling = [r for r in recs if isinstance(r, RollingMetrics)]
            else:
                ic = np.array(sorted(r.time_s for r in recs if isinstance(r, StepEvent)
                                     and r.kind is EventKind.INITIAL_CONTACT))
                spm = interval_cadence_spm(ic[1:], np.diff(ic), starts, 30.0, factor=2.0, max_interval_s=1.6)
                counts[label] = ic.size
            errs[label] = (spm - ref_spm)[scored]
        entry = res.setdefault(name, {})
        entry.update({"dsp_s": secs, "events": counts,
                      **{f"{k} |err| max": _max_abs(v) for k, v in errs.items()},
                      **{f"{k} errors": [None if not np.isfinite(x) else float(x) for x in v]
                         for k, v in errs.items()}})
        for label, e in errs.items():
            finite = e[np.isfinite(e)]
            ok = finite.size == e.size > 0 and bool(np.all(np.abs(finite) <= 1.0))
            value = ("no cadence from the DSP" if finite.size == 0 else
                     f"median {np.median(np.abs(finite)):.2f}, max {np.max(np.abs(finite)):.2f} spm"
                     + (f", {e.size - finite.size} windows without" if finite.size < e.size else ""))
            rows.append([name, f"{label}: cadence |err| per running window (n={e.size}; {counts[label]} events)",
                         value, "<= 1 spm in every window", "pass" if ok else "FAIL"])
        if rolling:
            t_roll = [r.time_s for r in rolling]
            stopped = [not r.moving for r in rolling]
            ps = pause_scores(t_roll, stopped, ref.pauses_s)
            steady = pause_scores(t_roll, stopped, ref.pauses_s,
                                  moving_spans_s=[(w.start_s, w.end_s) for w in ref.windows if w.kind == "running"])
            entry.update({"pause_recall": ps.recall, "false_stops_all_moving": ps.false_alarm,
                          "false_stops_steady_running": steady.false_alarm})
            rows.append([name, "standing pauses: hip-only RollingMetrics.moving is False",
                         f"recall {ps.recall:.1%}; false stops {steady.false_alarm:.2%} of steady running "
                         f"({ps.false_alarm:.2%} of all moving time)", "-", "-"])
        rows.append([name, "DSP time for 25 min @ 100 Hz (hip, shoe)",
                     ", ".join(f"{v:.1f} s" for v in secs.values()), "-", "-"])
    if rows:
        print_rows("adeptdata 25-min outdoor run (no gyro; reference = shoe stride cadence x2)",
                   ["hip as", "metric", "value", "target", "result"], rows)
    out["dsp"] = res
    return out


# --------------------------------------------------------------------------- simulator
def sim_section(duration_s: float) -> dict[str, Any]:
    try:
        from sensorkit.sources.simulator import PodConfig, RunnerProfile, SimulatedRun, SimulationConfig
        from sensorkit.sources.simulator.truth import strike_class_of
    except ImportError as exc:
        print(f"\n## simulator: not available ({exc}) - skipped")
        return {"skipped": str(exc)}
    profiles = [
        RunnerProfile(name="rear", strike_angle_deg=15.0, cadence_spm=166.0, contact_time_ms=260.0,
                      trunk_lean_deg=8.0),
        RunnerProfile(name="mid", strike_angle_deg=3.0, cadence_spm=176.0, contact_time_ms=235.0,
                      trunk_lean_deg=5.0, speed_mps=3.6),
        RunnerProfile(name="fore", strike_angle_deg=-8.0, cadence_spm=186.0, contact_time_ms=205.0,
                      trunk_lean_deg=11.0, speed_mps=4.2, impact_shoe_g=12.0),
    ]
    mounts = {Placement.LOWER_BACK: (4.0, -12.0, 25.0), Placement.LEFT_FOOT: (3.0, 18.0, -10.0),
              Placement.RIGHT_FOOT: (-5.0, 22.0, 8.0)}
    cols, per, res, errors = [], [], {}, {}
    for i, prof in enumerate(profiles):
        pods = tuple(PodConfig(p, 200.0, mount_rpy_deg=mounts[p], acc_bias_g=(0.02, -0.01, 0.015),
                               gyr_bias_dps=(0.8, -0.5, 0.3)) for p in mounts)
        run = SimulatedRun(SimulationConfig(prof, pods, duration_s, seed=i))
        items: list[SourceItem] = []
        for k in range(len(pods)):
            for ch in run.chunks(k):
                for a in range(0, len(ch), 20):
                    items.append(SampleBlock(ch.sensor_id, ch.time_s[a:a + 20], ch.acc_g[a:a + 20],
                                             ch.gyr_dps[a:a + 20]))
        items.sort(key=lambda b: (b.end_s, b.sensor_id))  # type: ignore[union-attr]
        truth = run.truth
        steps = truth.steps
        span = (truth.running_s[0][0], truth.running_s[-1][1])
        lt = np.arange(span[0], span[1], 0.01)
        label = strike_class_of(prof.strike_angle_deg)
        extras = {"flight_time_ms": steps.flight_time_ms, "vertical_oscillation_cm": steps.vertical_oscillation_cm,
                  "trunk_lean_deg": steps.trunk_lean_deg}
        ref = Reference(steps.ic_s, steps.tc_s, tuple(Side(s) for s in steps.side), steps.strike_angle_deg, span,
                        {Side.LEFT: label, Side.RIGHT: label}, (lt, run.lean_deg(lt)), steps.contact_time_ms, extras)
        ref_shoe = replace(ref, per_step={**extras, "impact_g": steps.impact_shoe_g})
        ref_back = replace(ref, per_step={**extras, "impact_g": steps.impact_back_g})
        info = SessionInfo(f"sim-{prof.name}", 0.0, (RunnerInfo(prof.name),), run.sensors, __version__)
        scores = Scores()
        for which, places in (("back", BACK), ("shoes", SHOES), ("all", BACK | SHOES)):
            sub, sub_items = only(info, items, places)
            r = run_dsp(sub, sub_items)
            res[f"{prof.name}/{which}"] = r.seconds
            if r.records is None:
                errors[f"{prof.name}/{which}"] = r.error
                continue
            # fused steps carry the shoe's impact when shoes are worn
            score_config(r.records, ref_back if which == "back" else ref_shoe, sub, f"sim-{prof.name}", which,
                         scores)
        cols.append(f"{prof.name} ({prof.strike_angle_deg:+.0f} deg)")
        per.append(scores)
    if errors:
        print("\nDSP failed on the simulator (left out below):")
        for k, e in errors.items():
            print(f"  {k}: {(e or '').splitlines()[0]}")
    pooled = Scores()
    for sc in per:
        pooled.merge(sc)
    out = {"dsp_seconds": res, "duration_s": duration_s, "dsp_errors": errors,
           "metrics": table(f"Simulator ({duration_s:.0f} s per runner, tilted pods, biased sensors; pass/fail on "
                            "pooled)", [*cols, "pooled"], [*per, pooled], [*EVENT_ROWS, LEAN_ROW, *SIM_ROWS],
                            len(cols))}
    return out


# --------------------------------------------------------------------------- main
def headline(result: dict[str, Any]) -> str:
    checks = []
    for sec in ("fukuchi", "simulator"):
        for key, m in result.get(sec, {}).get("metrics", {}).items():
            if m["pass"] is not None:
                checks.append((f"{sec}:{key}", m["pass"]))
    for name, v in result.get("adeptdata", {}).get("dsp", {}).items():
        for label in ("hip steps", "shoe strides x2"):
            mx = v.get(f"{label} |err| max")
            if mx is not None:
                checks.append((f"adeptdata:{name}:{label}", bool(mx <= 1.0)))
    if not checks:
        return "no DSP results: only the data preparation ran"
    failed = [k for k, ok in checks if not ok]
    return f"{len(checks) - len(failed)}/{len(checks)} accuracy targets met" + (
        f"; failing: {', '.join(failed)}" if failed else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS, help="folder holding the data sets")
    ap.add_argument("--no-sim", action="store_true", help="skip the simulator section")
    ap.add_argument("--sim-s", type=float, default=120.0, help="simulated seconds per runner")
    ap.add_argument("--ideal-pods", action="store_true",
                    help="Fukuchi pods without noise, bias or mounting tilt (diagnostic; not the benchmark)")
    ap.add_argument("--only", choices=("fukuchi", "adeptdata", "simulator"), help="run one section")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    dsp = dsp_entry()
    print(f"# sensorkit {__version__} accuracy bench; DSP entry point: "
          f"{'sensorkit.metrics.offline.analyze_items' if dsp else 'MISSING (data preparation only)'}")
    result: dict[str, Any] = {"version": __version__, "dsp_available": dsp is not None,
                              "datasets": str(args.datasets)}
    settings = fukuchi.FukuchiSettings()
    if args.ideal_pods:
        settings = fukuchi.FukuchiSettings(errors=ImuErrorModel.ideal(), back_mount=Mounting(0.0, 0.0),
                                           foot_mount=Mounting(0.0, 0.0))
        result["fukuchi_pods"] = "ideal (diagnostic)"
    run = {args.only} if args.only else {"fukuchi", "adeptdata", "simulator"}
    if args.no_sim:
        run.discard("simulator")
    result["fukuchi"] = fukuchi_section(args.datasets, settings) if "fukuchi" in run else {"skipped": "--only"}
    result["adeptdata"] = adept_section(args.datasets) if "adeptdata" in run else {"skipped": "--only"}
    result["simulator"] = sim_section(args.sim_s) if "simulator" in run else {"skipped": "not selected"}
    result["headline"] = headline(result)
    result["wall_s"] = time.perf_counter() - t0
    print(f"\nHEADLINE: {result['headline']} (bench wall time {result['wall_s']:.0f} s)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=_json_default))
    print(f"wrote {args.out}")
    return 0


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o).__name__)


if __name__ == "__main__":
    raise SystemExit(main())
