"""Scoring detected gait events and metrics against ground truth (pure numpy).

Event matching is one-to-one: candidate pairs within ``tolerance_s`` are accepted in order of
increasing |error|, so each truth event takes its closest free detection. Tolerances used by
``bench.accuracy`` (see docs/validation.md): +-50 ms for shoe pods (published errors are a few
ms; a step lasts ~350 ms, so 50 ms cannot reach a neighbouring contact of the same foot) and
+-100 ms for the lower back (published sacrum IC limits of agreement reach -149/+89 ms; 100 ms
is still less than half a step, so a detection cannot be matched to the opposite foot's
contact). Errors are ``detected - truth``: a positive bias means late.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

SHOE_TOLERANCE_S = 0.050
BACK_TOLERANCE_S = 0.100


@dataclass(frozen=True, slots=True, eq=False)
class EventMatch:
    """Result of matching detections to truth events.

    ``truth_idx[k]`` and ``detected_idx[k]`` are the k-th matched pair (sorted by truth time);
    ``error_s[k]`` its ``detected - truth``.
    """

    truth_idx: I64
    detected_idx: I64
    error_s: F64
    n_truth: int
    n_detected: int

    @property
    def tp(self) -> int:
        return int(self.truth_idx.shape[0])

    @property
    def fp(self) -> int:
        return self.n_detected - self.tp

    @property
    def fn(self) -> int:
        return self.n_truth - self.tp

    @property
    def precision(self) -> float:
        return self.tp / self.n_detected if self.n_detected else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / self.n_truth if self.n_truth else float("nan")

    @property
    def f1(self) -> float:
        denom = self.n_truth + self.n_detected
        return 2.0 * self.tp / denom if denom else float("nan")

    @property
    def median_abs_error_ms(self) -> float:
        return float(np.median(np.abs(self.error_s)) * 1000.0) if self.tp else float("nan")

    @property
    def mean_bias_ms(self) -> float:
        return float(np.mean(self.error_s) * 1000.0) if self.tp else float("nan")

    @property
    def sd_error_ms(self) -> float:
        return float(np.std(self.error_s, ddof=1) * 1000.0) if self.tp > 1 else float("nan")


def _f64(a: ArrayLike) -> F64:
    return np.asarray(a, dtype=np.float64).reshape(-1)


def match_events(detected_s: ArrayLike, truth_s: ArrayLike, tolerance_s: float) -> EventMatch:
    """One-to-one matching of detections to truth within ``+-tolerance_s`` (closest pairs first)."""
    det, tru = _f64(detected_s), _f64(truth_s)
    det_order, tru_order = np.argsort(det, kind="stable"), np.argsort(tru, kind="stable")
    d, t = det[det_order], tru[tru_order]
    lo = np.searchsorted(d, t - tolerance_s, side="left")
    hi = np.searchsorted(d, t + tolerance_s, side="right")
    counts = hi - lo
    ti = np.repeat(np.arange(t.shape[0]), counts)
    di = (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)) + np.repeat(lo, counts)
    err = d[di] - t[ti]
    order = np.lexsort((ti, np.abs(err)))
    used_t = np.zeros(t.shape[0], dtype=bool)
    used_d = np.zeros(d.shape[0], dtype=bool)
    keep = []
    for k in order:  # few hundred candidate pairs per trial: not a hot path
        if not used_t[ti[k]] and not used_d[di[k]]:
            used_t[ti[k]] = used_d[di[k]] = True
            keep.append(k)
    sel = np.array(sorted(keep, key=lambda k: ti[k]), dtype=np.int64)
    if sel.size == 0:
        empty = np.empty(0, dtype=np.int64)
        return EventMatch(empty, empty, np.empty(0), t.shape[0], d.shape[0])
    return EventMatch(tru_order[ti[sel]].astype(np.int64), det_order[di[sel]].astype(np.int64), err[sel],
                      t.shape[0], d.shape[0])


def paired_errors(match: EventMatch, detected: ArrayLike, truth: ArrayLike) -> F64:
    """``detected - truth`` of a per-event quantity over matched pairs; NaN-valued pairs dropped."""
    dv = _f64(detected)[match.detected_idx]
    tv = _f64(truth)[match.truth_idx]
    e = dv - tv
    return e[np.isfinite(e)]


def rmse(errors: ArrayLike) -> float:
    e = _f64(errors)
    return float(np.sqrt(np.mean(e * e))) if e.size else float("nan")


def cadence_windows_spm(ic_s: ArrayLike, start_s: float, end_s: float, window_s: float = 30.0,
                        min_steps: int = 10) -> tuple[F64, F64]:
    """Cadence (steps/min) from ICs of both feet in consecutive windows; (window starts, spm).

    Cadence = (ICs in the window - 1) * 60 / (last IC - first IC); NaN with fewer than
    ``min_steps`` ICs (a standing pause or a gap).
    """
    ic = np.sort(_f64(ic_s))
    starts = np.arange(start_s, end_s - window_s + 1e-9, window_s)
    out = np.full(starts.shape[0], np.nan)
    for i, a in enumerate(starts):
        w = ic[(ic >= a) & (ic < a + window_s)]
        if w.size >= min_steps:
            out[i] = (w.size - 1) * 60.0 / (w[-1] - w[0])
    return starts, out


def interval_cadence_spm(time_s: ArrayLike, interval_s: ArrayLike, starts_s: ArrayLike, window_s: float,
                         factor: float = 1.0, max_interval_s: float = 1.0, min_count: int = 5) -> F64:
    """Cadence of each window: the steps taken in it per minute of the time it covers.

    The one definition of "cadence in a window" used for the DSP's steps and for every
    reference: ``factor * 60 * (cycles in the window) / (time covered)``. Event ``i`` ends
    the cycle ``[time_s[i] - interval_s[i], time_s[i]]`` (a step, or a stride with
    ``factor=2``); a cycle crossing a window edge counts with the fraction inside it, so a
    steady run gives its exact rate with no +-1 step rounding, and a pace change inside the
    window is weighted by time (a 30-s window from 152 to 169 steps/min gives the number of
    steps actually taken). Cycles that are unknown, longer than ``max_interval_s`` (a pause)
    or longer than 1.5 x the window's median (a missed event) are holes: left out of both the
    count and the time. NaN with fewer than ``min_count`` usable cycles.
    """
    cycles, covered = window_cycles(time_s, interval_s, starts_s, window_s, max_interval_s, min_count)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(covered > 0, factor * 60.0 * cycles / covered, np.nan), dtype=np.float64)


def window_cycles(time_s: ArrayLike, interval_s: ArrayLike, starts_s: ArrayLike, window_s: float,
                  max_interval_s: float = 1.0, min_count: int = 5) -> tuple[F64, F64]:
    """Per window: (usable cycles inside it, fractional at the edges; seconds they cover).

    The rules of :func:`interval_cadence_spm`; ``covered < window_s`` means the window has
    holes (stops, missed events). Zeros with fewer than ``min_count`` usable cycles.
    """
    t, iv = _f64(time_s), _f64(interval_s)
    ok = np.isfinite(iv) & (iv > 0) & (iv <= max_interval_s)
    t, iv = t[ok], iv[ok]
    starts = _f64(starts_s)
    cycles, covered = np.zeros(starts.shape[0]), np.zeros(starts.shape[0])
    for i, a in enumerate(starts):
        inside = np.clip(np.minimum(t, a + window_s) - np.maximum(t - iv, a), 0.0, None)
        sel = inside > 0
        if sel.sum() < min_count:
            continue
        sel &= iv <= 1.5 * float(np.median(iv[sel]))  # a cycle spanning a missed event
        if sel.sum() >= min_count:
            cycles[i] = float((inside[sel] / iv[sel]).sum())
            covered[i] = float(inside[sel].sum())
    return cycles, covered


def strike_class_accuracy(detected: list[str], truth: list[str]) -> float:
    """Share of equal labels among pairs whose truth label is known (not ``unknown``/empty)."""
    pairs = [(d, t) for d, t in zip(detected, truth, strict=True) if t not in ("", "unknown")]
    return float(np.mean([d == t for d, t in pairs])) if pairs else float("nan")


def series_rmse(detected_t: ArrayLike, detected_v: ArrayLike, truth_t: ArrayLike, truth_v: ArrayLike,
                start_s: float = -np.inf, end_s: float = np.inf) -> float:
    """RMSE of a detected time series against truth interpolated at the detected times."""
    dt, dv = _f64(detected_t), _f64(detected_v)
    tt, tv = _f64(truth_t), _f64(truth_v)
    sel = (dt >= max(start_s, tt[0])) & (dt <= min(end_s, tt[-1])) & np.isfinite(dv)
    return rmse(dv[sel] - np.interp(dt[sel], tt, tv))


@dataclass(frozen=True, slots=True)
class PauseScore:
    """Agreement of a per-time ``paused`` flag with reference pause spans.

    ``recall``: share of reference-pause times flagged paused; ``false_alarm``: share of
    moving times flagged paused. Times within ``margin_s`` of a span edge are not scored
    (a detector needs a moment to notice a stop or a restart).
    """

    recall: float
    false_alarm: float
    n_pause: int
    n_moving: int


def pause_scores(time_s: ArrayLike, paused: ArrayLike,
                 pauses_s: Sequence[tuple[float, float]], margin_s: float = 3.0,
                 moving_spans_s: Sequence[tuple[float, float]] | None = None) -> PauseScore:
    """Score a per-time ``paused`` flag against reference pauses.

    ``moving_spans_s`` restricts the false-alarm count to spans known to be steady running
    (otherwise every time outside a pause counts, walking and stop-and-go included).
    """
    t = _f64(time_s)
    flag = np.asarray(paused, dtype=bool).reshape(-1)
    inside = np.zeros(t.shape[0], dtype=bool)
    near = np.zeros(t.shape[0], dtype=bool)
    for a, b in pauses_s:
        inside |= (t >= a) & (t <= b)
        near |= (np.abs(t - a) < margin_s) | (np.abs(t - b) < margin_s)
    in_pause, moving = inside & ~near, ~inside & ~near
    if moving_spans_s is not None:
        steady = np.zeros(t.shape[0], dtype=bool)
        for a, b in moving_spans_s:
            steady |= (t >= a) & (t < b)
        moving &= steady
    recall = float(flag[in_pause].mean()) if in_pause.any() else float("nan")
    false_alarm = float(flag[moving].mean()) if moving.any() else float("nan")
    return PauseScore(recall, false_alarm, int(in_pause.sum()), int(moving.sum()))
