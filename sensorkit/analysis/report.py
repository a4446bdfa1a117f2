"""The per-session HTML report: one self-contained file (CSS inline, figures as data URIs).

A report can be mailed or archived next to the data and opened anywhere, years later,
without a server or the files it was made from.
"""

from __future__ import annotations

import base64
import html
import math
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sensorkit.alerts import AlertsSettings
from sensorkit.analysis import plots
from sensorkit.analysis.session import RunnerData, SessionAnalysis, finite
from sensorkit.analysis.summary import (
    METRICS,
    balance_left_pct,
    distance_m,
    fatigue_onset,
    fatigue_rule,
    side_medians,
    strike_shares,
)

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1000px;margin:2em auto;color:#222}
h1{font-size:1.5em} h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
h3{font-size:1.05em;margin-top:1.5em}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th{background:#f4f4f4} td:first-child,th:first-child{text-align:left}
img{max-width:100%;display:block;margin:.3em 0 1em} .meta td{text-align:left} .note{color:#666;font-size:.9em}
"""


def fmt(v: Any, digits: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "-"
        return f"{v:.3g}" if abs(v) < 10 and digits == 1 else f"{v:.{digits}f}"
    return str(v)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "") -> str:
    head = "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>" if any(header) else ""
    body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt(c))}</td>" for c in row) + "</tr>" for row in rows)
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}>{head}{body}</table>"


def image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head><body>{body}</body></html>\n")


def clock(t_s: float) -> str:
    """``m:ss`` on the session timeline."""
    if not math.isfinite(t_s):
        return "-"
    m, s = divmod(round(t_s), 60)
    return f"{m}:{s:02d}"


def metric_rows(data: RunnerData) -> list[list[Any]]:
    rows = []
    for col, label, unit in METRICS:
        v = finite(data.steps[col])
        if not len(v):
            continue
        p25, p50, p75 = np.percentile(v, [25, 50, 75])
        left, right = side_medians(data, col)
        rows.append([f"{label} ({unit})" if unit else label, float(p50), float(p25), float(p75),
                     left, right, len(v)])
    return rows


def held_up_rows(data: RunnerData) -> list[list[Any]]:
    """Each metric's mean over the first and the last quarter of the steps, with the effect size."""
    from sensorkit.analysis.compare import MIN_VALUES, Side, compare, window

    t = finite(data.steps["time_s"])
    if len(t) < 4 * MIN_VALUES:
        return []
    q1, q3 = np.quantile(t, [0.25, 0.75])
    first = Side("first", window(data, -math.inf, float(q1)), 0.0, "")
    last = Side("last", window(data, float(q3), math.inf), 0.0, "")
    return [[f"{c.label} ({c.unit})" if c.unit else c.label, c.mean_a, c.mean_b, c.diff, c.diff_pct,
             fmt(c.hedges_g, 2), c.magnitude] for c in compare(first, last) if c.n_a and c.n_b]


def session_meta(analysis: SessionAnalysis) -> str:
    info = analysis.info
    start = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.start_unix_s)) if info.start_unix_s > 0 else "-"
    sensors = ", ".join(f"{s.sensor_id} ({s.sampling_rate_hz:g} Hz)" for s in info.sensors)
    rows = [["file", analysis.path], ["kind", analysis.kind], ["session", info.session_id], ["start", start],
            ["duration", clock(analysis.duration_s)], ["sensors", sensors]]
    return table(["", ""], rows, "meta")


def runner_section(analysis: SessionAnalysis, runner: str, alerts: AlertsSettings | None) -> str:
    data = analysis.runner(runner)
    threshold, hold_s = fatigue_rule(alerts)
    onset = fatigue_onset(data.fatigue, threshold, hold_s)
    markers = plots.Markers(onset, data.cues)
    dur = analysis.duration_s
    dist, how = distance_m(data)
    shares = strike_shares(data)
    scores = finite(data.fatigue["score"])
    overview: list[list[Any]] = [
        ["steps", len(data.steps["time_s"])],
        ["distance (km)", f"{dist / 1000:.2f} (from {how})" if math.isfinite(dist) else "-"],
        ["shoe", data.shoe or "-"],
        ["left share of contact time (%)", balance_left_pct(data)],
        ["strike rearfoot / midfoot / forefoot (%)",
         " / ".join(fmt(shares[k], 0) for k in ("rearfoot", "midfoot", "forefoot"))],
        ["fatigue score, max", float(scores.max()) if len(scores) else math.nan],
        [f"fatigue onset (score >= {threshold:g} for {hold_s:g} s)", clock(onset.time_s) if onset else "none"],
        ["cues", len(data.cues)],
    ]
    parts = [f"<h2>Runner {html.escape(runner)}</h2>", table(["", ""], overview, "meta"),
             "<h3>Per-step metrics</h3>",
             table(["metric", "median", "p25", "p75", "left", "right", "n"], metric_rows(data))]
    held = held_up_rows(data)
    if held:
        parts += ["<h3>How form held up: first vs last quarter of the steps</h3>",
                  table(["metric", "first quarter", "last quarter", "change", "change (%)", "Hedges g", "effect"],
                        held)]
    if data.cues:
        parts += ["<h3>Cues</h3>", table(["time", "cue", "text", "metric", "value", "baseline"],
                                         [[clock(c.time_s), c.kind.value, c.text, c.metric, c.value, c.baseline]
                                          for c in data.cues])]
    parts.append('<h3>Over time</h3><p class="note">Dots: steps; line: median per bin; dashed: fatigue '
                 "onset; coloured lines: cues.</p>")
    figures = [
        ("Cadence", plots.step_metric(data, "cadence_spm", "cadence (steps/min)", markers, dur)),
        ("Contact time", plots.step_metric(data, "contact_time_ms", "contact time (ms)", markers, dur)),
        ("Impact", plots.step_metric(data, "impact_g", "impact (g)", markers, dur)),
        ("Trunk lean", plots.trunk_lean(data, markers, dur)),
        ("Foot strike", plots.strike(data, markers, dur)),
        ("Left/right balance", plots.balance(data, markers, dur)),
        ("Fatigue and cues", plots.fatigue(data, markers, threshold)),
    ]
    for title, png in figures:
        parts += [f"<h3>{html.escape(title)}</h3>", image(png, f"{runner}: {title}")]
    return "".join(parts)


def session_report(analysis: SessionAnalysis, alerts: AlertsSettings | None = None) -> str:
    """The report of one analysed session as an HTML document."""
    title = f"sensorkit report: {analysis.info.session_id}"
    body = [f"<h1>{html.escape(title)}</h1>", session_meta(analysis)]
    body += [runner_section(analysis, r, alerts) for r in analysis.runners]
    body.append('<p class="note">Made by sensorkit from the same stages as a live run '
                "(metrics and cue engine).</p>")
    return page(title, "".join(body))


def write_session_report(analysis: SessionAnalysis, path: str | Path, alerts: AlertsSettings | None = None) -> Path:
    out = Path(path)
    out.write_text(session_report(analysis, alerts), encoding="utf-8")
    return out
