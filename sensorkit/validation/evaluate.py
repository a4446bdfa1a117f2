"""Turn DSP records and a ground-truth reference into pooled, comparable scores.

A :class:`Scores` keeps raw matched errors and counts (not summaries), so trials can be
pooled by concatenation and summarised once. Keys are ``"<scope>.<quantity>"``, e.g.
``"shoe.ic"``, ``"back.contact_ms"``, ``"fused.cadence_spm"``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from sensorkit.model import (
    EventKind,
    Placement,
    PostureSample,
    Record,
    SensorInfo,
    Side,
    StepEvent,
    StepMetrics,
    StrikeClass,
)
from sensorkit.validation.scoring import EventMatch, interval_cadence_spm, match_events
from sensorkit.validation.truth import TrialTruth, classify_strike

F64 = NDArray[np.float64]

EDGE_START_S = 0.5
EDGE_END_S = 1.0
"""Truth events this close to the start/end of the scored span are left out: a causal
detector needs the next step to confirm one, which the end of a 30-s trial cannot give."""


@dataclass(frozen=True, slots=True, eq=False)
class Reference:
    """Ground truth in one shape for every data source; times on the session timeline."""

    ic_s: F64
    tc_s: F64
    side: tuple[Side, ...]
    strike_angle_deg: F64
    span_s: tuple[float, float]
    strike_label: dict[Side, StrikeClass | None] = field(default_factory=dict)
    lean: tuple[F64, F64] | None = None
    contact_time_ms: F64 | None = None
    per_step: dict[str, F64] = field(default_factory=dict)
    """Optional per-contact truth keyed by StepMetrics field name (``flight_time_ms``,
    ``impact_g``, ``vertical_oscillation_cm``, ``trunk_lean_deg``); scored when present."""

    @staticmethod
    def from_trial(truth: TrialTruth) -> Reference:
        st = truth.steps
        lean = None if truth.posture is None else (truth.posture.time_s, truth.posture.lean_deg)
        return Reference(st.ic_s, st.tc_s, st.side, st.strike_angle_deg, truth.run_window_s,
                         dict(truth.strike_label), lean)

    def scored(self, side: Side | None = None) -> NDArray[np.bool_]:
        a, b = self.span_s
        ok = (self.ic_s >= a + EDGE_START_S) & (self.ic_s <= b - EDGE_END_S)
        if side is not None:
            ok &= np.array([s is side for s in self.side], dtype=bool)
        return ok

    @property
    def contact_ms(self) -> F64:
        return self.contact_time_ms if self.contact_time_ms is not None else (self.tc_s - self.ic_s) * 1000.0


@dataclass(slots=True)
class Scores:
    """Raw material of every metric: counts ``[tp, n_truth, n_detected]``, errors, flags."""

    counts: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))
    errors: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    flags: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    details: list[tuple[str, ...]] = field(default_factory=list)
    """Free-form rows for reports, e.g. (trial, foot, label, detected class, marker class)."""

    def merge(self, other: Scores) -> Scores:
        for k, c in other.counts.items():
            self.counts[k] = [a + b for a, b in zip(self.counts[k], c, strict=True)]
        for k, e in other.errors.items():
            self.errors[k].extend(e)
        for k, f in other.flags.items():
            self.flags[k].extend(f)
        self.details.extend(other.details)
        return self

    def f1(self, key: str) -> float:
        tp, nt, nd = self.counts.get(key, [0, 0, 0])
        return 2.0 * tp / (nt + nd) if nt + nd else float("nan")

    def err(self, key: str) -> F64:
        return np.asarray(self.errors.get(key, []), dtype=np.float64)

    def median_abs(self, key: str) -> float:
        e = self.err(key)
        return float(np.median(np.abs(e))) if e.size else float("nan")

    def mean(self, key: str) -> float:
        e = self.err(key)
        return float(np.mean(e)) if e.size else float("nan")

    def rmse(self, key: str) -> float:
        e = self.err(key)
        return float(np.sqrt(np.mean(e * e))) if e.size else float("nan")

    def max_abs(self, key: str) -> float:
        e = self.err(key)
        return float(np.max(np.abs(e))) if e.size else float("nan")

    def share(self, key: str) -> float:
        f = self.flags.get(key, [])
        return float(np.mean(f)) if f else float("nan")

    def all_true(self, key: str) -> bool | None:
        f = self.flags.get(key, [])
        return all(f) if f else None


def _events(records: Iterable[Record], kind: EventKind, sensor_ids: set[str]) -> tuple[F64, list[Side]]:
    ev = [r for r in records if isinstance(r, StepEvent) and r.kind is kind and r.sensor_id in sensor_ids]
    ev.sort(key=lambda r: r.time_s)
    return np.array([r.time_s for r in ev], dtype=np.float64), [r.side for r in ev]


def _in_span(t: F64, ref: Reference, tol_s: float) -> NDArray[np.bool_]:
    a, b = ref.span_s
    return (t >= a + EDGE_START_S - tol_s) & (t <= b - EDGE_END_S + tol_s)


def _detected_count(m: EventMatch, det_t: F64, truth_t: F64, tol_s: float) -> int:
    """Matched detections plus unmatched ones within ``tol_s`` of the scored truth's extent.

    Unmatched detections further out belong to truth events outside the scored span.
    """
    if truth_t.size == 0:
        return m.tp
    unmatched = np.ones(det_t.shape[0], dtype=bool)
    unmatched[m.detected_idx] = False
    inside = (det_t >= truth_t.min() - tol_s) & (det_t <= truth_t.max() + tol_s)
    return m.tp + int(np.sum(unmatched & inside))


def score_events(records: Sequence[Record], ref: Reference, scope: str, sensor_ids: set[str], tol_s: float,
                 side: Side | None = None, out: Scores | None = None) -> Scores:
    """IC/TC detection and timing of ``sensor_ids``' StepEvents (one foot if ``side``)."""
    out = out if out is not None else Scores()
    truth_sel = ref.scored(side)
    for kind, truth_t, name in ((EventKind.INITIAL_CONTACT, ref.ic_s, "ic"),
                                (EventKind.TERMINAL_CONTACT, ref.tc_s, "tc")):
        det_t, det_side = _events(records, kind, sensor_ids)
        keep = _in_span(det_t, ref, tol_s)
        det_t = det_t[keep]
        det_side = [s for s, k in zip(det_side, keep, strict=True) if k]
        truth_idx = np.flatnonzero(truth_sel)
        m = match_events(det_t, truth_t[truth_idx], tol_s)
        c = out.counts[f"{scope}.{name}"]
        c[0] += m.tp
        c[1] += m.n_truth
        c[2] += _detected_count(m, det_t, truth_t[truth_idx], tol_s)
        out.errors[f"{scope}.{name}_ms"].extend((m.error_s * 1000.0).tolist())
        if name == "ic" and side is None:
            out.flags[f"{scope}.side"].extend(
                det_side[d] is ref.side[truth_idx[t]] for t, d in zip(m.truth_idx, m.detected_idx, strict=True))
    return out


def score_steps(records: Sequence[Record], ref: Reference, scope: str, tol_s: float,
                sources: str | None = None, out: Scores | None = None) -> Scores:
    """Per-step metrics (StepMetrics) matched to truth ICs: contact time, strike, cadence.

    ``sources`` keeps only steps whose ``sources`` string contains it (e.g. ``"left_foot"``).
    """
    out = out if out is not None else Scores()
    steps = sorted((r for r in records if isinstance(r, StepMetrics)
                    and (sources is None or sources in r.sources)), key=lambda r: r.time_s)
    t = np.array([r.time_s for r in steps], dtype=np.float64)
    keep = _in_span(t, ref, tol_s)
    steps = [r for r, k in zip(steps, keep, strict=True) if k]
    t = t[keep]
    sel = np.flatnonzero(ref.scored())
    m = match_events(t, ref.ic_s[sel], tol_s)
    c = out.counts[f"{scope}.steps"]
    c[0] += m.tp
    c[1] += m.n_truth
    c[2] += _detected_count(m, t, ref.ic_s[sel], tol_s)
    for ti, di in zip(m.truth_idx, m.detected_idx, strict=True):
        r, k = steps[di], sel[ti]
        if r.contact_time_ms is not None:
            out.errors[f"{scope}.contact_ms"].append(r.contact_time_ms - float(ref.contact_ms[k]))
        for name, truth_v in ref.per_step.items():
            got = getattr(r, name)
            if got is not None and np.isfinite(truth_v[k]):
                out.errors[f"{scope}.{name}"].append(float(got) - float(truth_v[k]))
        if r.strike_angle_deg is not None and np.isfinite(ref.strike_angle_deg[k]):
            out.errors[f"{scope}.strike_deg"].append(r.strike_angle_deg - float(ref.strike_angle_deg[k]))
            out.flags[f"{scope}.strike_class_vs_angle"].append(
                r.strike_class is classify_strike(float(ref.strike_angle_deg[k])))
    # cadence over the scored span: the DSP's own step times vs the truth's IC intervals
    a, b = ref.span_s[0] + EDGE_START_S, ref.span_s[1] - EDGE_END_S
    span = b - a
    det_iv = np.array([np.nan if r.step_time_s is None else r.step_time_s for r in steps], dtype=np.float64)
    det_spm = interval_cadence_spm(t, det_iv, [a], span)
    ic = np.sort(ref.ic_s)
    tru_spm = interval_cadence_spm(ic[1:], np.diff(ic), [a], span)
    out.errors[f"{scope}.cadence_spm"].extend((det_spm - tru_spm).tolist())
    return out


def score_strike_labels(records: Sequence[Record], ref: Reference, scope: str, trial: str,
                        out: Scores | None = None) -> Scores:
    """Majority strike class per foot against the lab label (one flag per labelled foot)."""
    out = out if out is not None else Scores()
    for side, label in ref.strike_label.items():
        if label is None:
            continue
        classes: list[StrikeClass] = [r.strike_class for r in records if isinstance(r, StepMetrics) and r.side is side
                   and r.strike_class is not StrikeClass.UNKNOWN and _in_span(np.array([r.time_s]), ref, 0)[0]]
        got = Counter(classes).most_common(1)[0][0] if classes else StrikeClass.UNKNOWN
        out.flags[f"{scope}.class_vs_label"].append(got is label)
        truth_class = classify_strike(float(np.median(ref.strike_angle_deg[ref.scored(side)])))
        out.flags["truth.class_vs_label"].append(truth_class is label)
        out.details.append((trial, side.value, label.value, got.value, truth_class.value))
    return out


def score_lean(records: Sequence[Record], ref: Reference, scope: str, out: Scores | None = None) -> Scores:
    """Trunk lean samples against the reference lean series inside the scored span."""
    out = out if out is not None else Scores()
    if ref.lean is None:
        return out
    ps = [r for r in records if isinstance(r, PostureSample)]
    t = np.array([r.time_s for r in ps], dtype=np.float64)
    v = np.array([r.trunk_lean_deg for r in ps], dtype=np.float64)
    a, b = ref.span_s
    sel = (t >= a) & (t <= b) & np.isfinite(v)
    tt, tv = ref.lean
    sel &= (t >= tt[0]) & (t <= tt[-1])
    out.errors[f"{scope}.lean_deg"].extend((v[sel] - np.interp(t[sel], tt, tv)).tolist())
    return out


def sensor_ids(sensors: Iterable[SensorInfo], placements: set[Placement]) -> set[str]:
    """Ids of the sensors worn at ``placements``."""
    return {s.sensor_id for s in sensors if s.placement in placements}
