"""Two sessions (or two windows of one) side by side: differences and effect sizes.

Typical questions: fresh vs fatigued (first vs last 10 minutes of a run), before vs after a
change of shoes. Per-step metrics get the difference of means, its percentage, and Hedges' g
with a 95 % interval. Consecutive steps are not independent (a runner's cadence drifts
slowly), so the interval uses an effective sample size from the lag-1 autocorrelation,
n_eff = n (1 - r1) / (1 + r1); without that correction thousands of steps would make every
trivial difference look certain.
"""

from __future__ import annotations

import dataclasses
import html
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sensorkit.alerts import AlertsSettings
from sensorkit.analysis import plots
from sensorkit.analysis.columns import Columns
from sensorkit.analysis.report import clock, fmt, image, page, table
from sensorkit.analysis.session import RunnerData, SessionAnalysis, finite
from sensorkit.analysis.summary import (
    METRICS,
    balance_left_pct,
    distance_m,
    fatigue_onset,
    fatigue_rule,
    strike_shares,
)

MIN_VALUES = 10
"""Fewer values than this on either side: no effect size (it would mean nothing)."""
COLOURS = ("#1f77b4", "#d62728")


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a comparison: a runner's data (possibly a time window) and a label."""

    label: str
    data: RunnerData
    duration_s: float
    source: str


@dataclass(frozen=True, slots=True)
class MetricComparison:
    metric: str
    label: str
    unit: str
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    sd_a: float
    sd_b: float
    median_a: float
    median_b: float
    diff: float
    """mean B - mean A."""
    diff_pct: float
    hedges_g: float
    g_low: float
    g_high: float
    n_eff_a: float
    n_eff_b: float

    @property
    def magnitude(self) -> str:
        """Cohen's conventional words for |g|: negligible < 0.2 <= small < 0.5 <= medium < 0.8 <= large."""
        g = abs(self.hedges_g)
        if not math.isfinite(g):
            return "-"
        return "negligible" if g < 0.2 else "small" if g < 0.5 else "medium" if g < 0.8 else "large"


def lag1(v: np.ndarray) -> float:
    """Lag-1 autocorrelation (0 for fewer than 3 values or no variance)."""
    if len(v) < 3:
        return 0.0
    x = v - v.mean()
    den = float(np.dot(x, x))
    return float(np.dot(x[:-1], x[1:]) / den) if den > 0 else 0.0


def effective_n(v: np.ndarray) -> float:
    r = min(max(lag1(v), 0.0), 0.99)
    return max(2.0, len(v) * (1 - r) / (1 + r))


def hedges_g(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float, float, float]:
    """(g, low, high, n_eff_a, n_eff_b): standardised mean difference B - A with a 95 % interval."""
    na, nb = len(a), len(b)
    if na < MIN_VALUES or nb < MIN_VALUES:
        return math.nan, math.nan, math.nan, math.nan, math.nan
    sp = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    ea, eb = effective_n(a), effective_n(b)
    if not sp > 0:
        return math.nan, math.nan, math.nan, ea, eb
    d = (b.mean() - a.mean()) / sp
    j = 1 - 3 / (4 * (ea + eb) - 9) if ea + eb > 3 else 1.0
    g = j * d
    se = math.sqrt((ea + eb) / (ea * eb) + g * g / (2 * (ea + eb)))
    return float(g), float(g - 1.96 * se), float(g + 1.96 * se), ea, eb


def compare_metric(a: Side, b: Side, metric: str, label: str, unit: str) -> MetricComparison:
    va, vb = finite(a.data.steps[metric]), finite(b.data.steps[metric])

    def stat(v: np.ndarray, fn: str) -> float:
        if not len(v):
            return math.nan
        if fn == "sd":
            return float(v.std(ddof=1)) if len(v) > 1 else math.nan
        return float(getattr(np, fn)(v))

    ma, mb = stat(va, "mean"), stat(vb, "mean")
    g, lo, hi, ea, eb = hedges_g(va, vb)
    diff = mb - ma
    pct = 100.0 * diff / abs(ma) if ma and math.isfinite(ma) else math.nan
    return MetricComparison(metric, label, unit, len(va), len(vb), ma, mb, stat(va, "sd"), stat(vb, "sd"),
                            stat(va, "median"), stat(vb, "median"), diff, pct, g, lo, hi, ea, eb)


def compare(a: Side, b: Side) -> list[MetricComparison]:
    """Every per-step metric that at least one side measured."""
    out = [compare_metric(a, b, m, label, unit) for m, label, unit in METRICS]
    return [c for c in out if c.n_a or c.n_b]


def _cut(cols: Columns, t0: float, t1: float) -> Columns:
    t = cols["time_s"]
    keep = (t >= t0) & (t < t1)
    return {k: v[keep] for k, v in cols.items()}


def window(data: RunnerData, start_s: float, end_s: float) -> RunnerData:
    """The runner's data between ``start_s`` and ``end_s`` (session time)."""
    steps = [s for s in data.step_records if start_s <= s.time_s < end_s]
    cues = [c for c in data.cues if start_s <= c.time_s < end_s]
    return dataclasses.replace(data, steps=_cut(data.steps, start_s, end_s), rolling=_cut(data.rolling, start_s, end_s),
                               posture=_cut(data.posture, start_s, end_s), fatigue=_cut(data.fatigue, start_s, end_s),
                               cues=cues, step_records=steps, speed=_cut(data.speed, start_s, end_s))


def side(analysis: SessionAnalysis, label: str, runner: str | None = None,
         window_s: tuple[float, float] | None = None) -> Side:
    """One side from an analysed session: its (first) runner, optionally a time window."""
    name = runner or analysis.runners[0]
    data = analysis.runner(name)
    duration = analysis.duration_s
    source = f"{analysis.path} ({name})"
    if window_s is not None:
        data = window(data, *window_s)
        duration = min(window_s[1], analysis.last_s) - max(window_s[0], analysis.first_s)
        source += f", {clock(window_s[0])}-{clock(window_s[1])}"
    return Side(label, data, max(duration, 0.0), source)


# -- report ---------------------------------------------------------------------------------


def _elapsed(data: RunnerData) -> float:
    t = data.steps["time_s"]
    return float(t[0]) if len(t) else 0.0


def metric_figure(a: Side, b: Side, metric: str, label: str) -> bytes:
    """Left: binned median over elapsed time; right: distributions, A and B overlaid."""
    fig = plots.Figure(figsize=(plots.WIDTH_IN, plots.HEIGHT_IN))
    fig.subplots_adjust(**plots.MARGINS)
    ax_t, ax_h = fig.subplots(1, 2, width_ratios=(2, 1))
    values = [finite(s.data.steps[metric]) for s in (a, b)]
    pooled = np.concatenate(values)
    if len(pooled):
        lo, hi = np.percentile(pooled, [1, 99])
        bins = np.linspace(lo, hi + 1e-9, 30)
    for s, v, colour in zip((a, b), values, COLOURS, strict=True):
        if not len(v):
            continue
        t = s.data.steps["time_s"] - _elapsed(s.data)
        bt, bv = plots.binned_median(t, s.data.steps[metric], plots.bin_width_s(max(a.duration_s, b.duration_s)))
        ax_t.plot(bt / 60.0, bv, "-", lw=2, color=colour, label=s.label)
        ax_h.hist(np.clip(v, bins[0], bins[-1]), bins=bins, density=True, alpha=0.5, color=colour, label=s.label)
    if not len(pooled):
        plots.no_data(ax_t, f"{label}: not measured")
    else:
        ax_t.legend(fontsize=8)
    ax_t.set_xlabel("elapsed (min)")
    ax_t.set_ylabel(label)
    ax_t.grid(alpha=0.3)
    ax_h.set_xlabel(label)
    ax_h.set_yticks([])
    return plots.png(fig)


def shares_figure(a: Side, b: Side) -> bytes:
    """Strike class shares and left share of contact time, A vs B."""
    fig = plots.Figure(figsize=(plots.WIDTH_IN, plots.HEIGHT_IN))
    fig.subplots_adjust(**plots.MARGINS)
    ax_s, ax_b = fig.subplots(1, 2)
    names = ("rearfoot", "midfoot", "forefoot")
    x = np.arange(len(names))
    for k, (s, colour) in enumerate(zip((a, b), COLOURS, strict=True)):
        sh = strike_shares(s.data)
        ax_s.bar(x + (k - 0.5) * 0.4, [np.nan_to_num(sh[n]) for n in names], width=0.4, color=colour,
                 label=s.label)
        ax_b.bar(k, np.nan_to_num(balance_left_pct(s.data), nan=50.0) - 50.0, color=colour, label=s.label)
    ax_s.set_xticks(x, names)
    ax_s.set_ylabel("share of steps (%)")
    ax_s.legend(fontsize=8)
    ax_b.axhline(0, color="grey", lw=1)
    ax_b.set_xticks([0, 1], [a.label, b.label])
    ax_b.set_ylabel("left share of contact - 50 (pp)")
    return plots.png(fig)


def _overview(a: Side, b: Side, alerts: AlertsSettings | None) -> list[list[object]]:
    threshold, hold = fatigue_rule(alerts)
    rows: list[list[object]] = [["source", a.source, b.source], ["duration", clock(a.duration_s), clock(b.duration_s)]]
    da, db = distance_m(a.data)[0], distance_m(b.data)[0]
    rows.append(["distance (km)", da / 1000, db / 1000])
    rows.append(["steps", len(a.data.steps["time_s"]), len(b.data.steps["time_s"])])
    rows.append(["left share of contact (%)", balance_left_pct(a.data), balance_left_pct(b.data)])
    sa, sb = strike_shares(a.data), strike_shares(b.data)
    for n in ("rearfoot", "midfoot", "forefoot"):
        rows.append([f"{n} (%)", sa[n], sb[n]])
    onsets = [fatigue_onset(s.data.fatigue, threshold, hold) for s in (a, b)]
    rows.append(["fatigue onset", *(clock(o.time_s) if o else "none" for o in onsets)])
    rows.append(["cues", len(a.data.cues), len(b.data.cues)])
    return rows


def compare_report(a: Side, b: Side, alerts: AlertsSettings | None = None) -> str:
    """Both sides in one self-contained HTML page."""
    title = f"sensorkit comparison: {a.label} vs {b.label}"
    rows = compare(a, b)
    body = [f"<h1>{html.escape(title)}</h1>", table(["", a.label, b.label], _overview(a, b, alerts)),
            "<h2>Per-step metrics</h2>",
            table(["metric", f"mean {a.label}", f"mean {b.label}", "SD A", "SD B", "B - A", "B - A (%)",
                   "Hedges g", "95 % CI", "effect", "n A", "n B"],
                  [[f"{c.label} ({c.unit})" if c.unit else c.label, c.mean_a, c.mean_b, c.sd_a, c.sd_b, c.diff,
                    c.diff_pct, fmt(c.hedges_g, 2),
                    f"{fmt(c.g_low, 2)} .. {fmt(c.g_high, 2)}" if math.isfinite(c.g_low) else "-",
                    c.magnitude, c.n_a, c.n_b] for c in rows]),
            '<p class="note">Hedges g = (mean B - mean A) / pooled SD; its interval uses effective sample sizes '
            "that account for step-to-step autocorrelation. Effects are left out when a side has fewer than "
            f"{MIN_VALUES} values.</p>", "<h2>Strike pattern and balance</h2>",
            image(shares_figure(a, b), "strike and balance")]
    for c in rows:
        axis = f"{c.label} ({c.unit})" if c.unit else c.label
        body += [f"<h2>{html.escape(c.label)}</h2>", image(metric_figure(a, b, c.metric, axis), c.label)]
    return page(title, "".join(body))


def write_compare_report(a: Side, b: Side, path: str | Path, alerts: AlertsSettings | None = None) -> Path:
    out = Path(path)
    out.write_text(compare_report(a, b, alerts), encoding="utf-8")
    return out
