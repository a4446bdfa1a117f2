"""Report figures as PNG bytes (matplotlib's Agg renderer; no pyplot, no global state).

Each figure shows a metric over the session: every step as a faint dot and a binned median
line on top, with the fatigue onset (dashed) and the cues (coloured ticks) marked, so form
changes can be read against what the runner was told.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sensorkit.analysis.session import RunnerData
from sensorkit.analysis.summary import FatigueOnset
from sensorkit.model import Cue

CUE_COLOURS = {"trunk_lean": "#d62728", "overstride": "#9467bd", "impact": "#ff7f0e",
               "asymmetry": "#17becf", "fatigue": "#8c564b"}
STRIKE_COLOURS = {"rearfoot": "#1f77b4", "midfoot": "#2ca02c", "forefoot": "#ff7f0e"}
DATA_COLOUR = "#1f77b4"
WIDTH_IN, HEIGHT_IN, DPI = 9.0, 2.6, 90


@dataclass(frozen=True, slots=True)
class Markers:
    """What every time plot marks: fatigue onset and cues."""

    onset: FatigueOnset | None
    cues: Sequence[Cue]


def png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


MARGINS = {"left": 0.08, "right": 0.91, "bottom": 0.19, "top": 0.95, "wspace": 0.3}
"""Fixed margins: a layout engine would double the rendering time of a report."""


def new_figure(height_in: float = HEIGHT_IN) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(WIDTH_IN, height_in))
    fig.subplots_adjust(**MARGINS)
    return fig, fig.add_subplot()


def bin_width_s(duration_s: float) -> float:
    """Bins of 10-120 s, about 60 per session."""
    return float(min(120.0, max(10.0, 10.0 * math.ceil(duration_s / 600.0))))


def binned_median(t: np.ndarray, v: np.ndarray, width_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Median of ``v`` per ``width_s`` bin of ``t`` (bin centres; bins without data left out)."""
    ok = np.isfinite(t) & np.isfinite(v)
    t, v = t[ok], v[ok]
    if not len(t):
        return np.empty(0), np.empty(0)
    k = np.floor(t / width_s).astype(np.int64)
    order = np.argsort(k, kind="stable")
    k, v = k[order], v[order]
    keys, starts = np.unique(k, return_index=True)
    meds = np.array([np.median(part) for part in np.split(v, starts[1:])])
    return (keys + 0.5) * width_s, meds


def mark(ax: Axes, markers: Markers) -> None:
    """Fatigue onset as a dashed line, cues as thin coloured lines (minutes)."""
    for cue in markers.cues:
        ax.axvline(cue.time_s / 60.0, color=CUE_COLOURS.get(cue.kind.value, "grey"), lw=1.0, alpha=0.8)
    if markers.onset is not None:
        ax.axvline(markers.onset.time_s / 60.0, color="black", ls="--", lw=1.4)


def no_data(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="grey")


def step_metric(data: RunnerData, column: str, label: str, markers: Markers, duration_s: float) -> bytes:
    """One per-step metric over time: dots per step, binned median line, markers."""
    fig, ax = new_figure()
    t, v = data.steps["time_s"], data.steps[column]
    ok = np.isfinite(v)
    if ok.any():
        ax.plot(t[ok] / 60.0, v[ok], ".", ms=2, color=DATA_COLOUR, alpha=0.25)
        bt, bv = binned_median(t, v, bin_width_s(duration_s))
        ax.plot(bt / 60.0, bv, "-", lw=2, color=DATA_COLOUR)
        lo, hi = np.percentile(v[ok], [1, 99])
        pad = 0.1 * (hi - lo) + 1e-9
        ax.set_ylim(lo - pad, hi + pad)
    else:
        no_data(ax, f"{label}: not measured in this session")
    mark(ax, markers)
    ax.set_xlabel("time (min)")
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
    return png(fig)


def trunk_lean(data: RunnerData, markers: Markers, duration_s: float) -> bytes:
    fig, ax = new_figure()
    t, v = data.posture["time_s"], data.posture["trunk_lean_deg"]
    if not len(t):
        t, v = data.steps["time_s"], data.steps["trunk_lean_deg"]
    ok = np.isfinite(v)
    if ok.any():
        ax.plot(t[ok] / 60.0, v[ok], "-", lw=0.5, color=DATA_COLOUR, alpha=0.3)
        bt, bv = binned_median(t, v, bin_width_s(duration_s))
        ax.plot(bt / 60.0, bv, "-", lw=2, color=DATA_COLOUR)
    else:
        no_data(ax, "trunk lean: no lower-back pod")
    mark(ax, markers)
    ax.set_xlabel("time (min)")
    ax.set_ylabel("trunk lean (deg)")
    ax.grid(alpha=0.3)
    return png(fig)


def strike(data: RunnerData, markers: Markers, duration_s: float) -> bytes:
    """Strike class shares per time bin (stacked), and the strike angle per step when known."""
    fig, ax = new_figure()
    t, cls = data.steps["time_s"], data.steps["strike_class"]
    known = cls != "unknown"
    if known.any():
        width = bin_width_s(duration_s)
        k = np.floor(t[known] / width).astype(np.int64)
        keys = np.unique(k)
        bottom = np.zeros(len(keys))
        for name, colour in STRIKE_COLOURS.items():
            share = np.array([100.0 * np.mean(cls[known][k == key] == name) for key in keys])
            ax.bar((keys + 0.5) * width / 60.0, share, width=width / 60.0 * 0.95, bottom=bottom,
                   color=colour, label=name, alpha=0.8)
            bottom += share
        ax.set_ylim(0, 100)
        ax.set_ylabel("strike share (%)")
        ax.legend(loc="lower left", fontsize=8, ncols=3)
        angle = data.steps["strike_angle_deg"]
        if np.isfinite(angle).any():
            ax2 = ax.twinx()
            bt, bv = binned_median(t, angle, width)
            ax2.plot(bt / 60.0, bv, "k-", lw=1.5)
            ax2.set_ylabel("strike angle (deg)")
    else:
        no_data(ax, "foot strike: unknown (no shoe pod)")
    mark(ax, markers)
    ax.set_xlabel("time (min)")
    return png(fig)


def balance(data: RunnerData, markers: Markers, duration_s: float) -> bytes:
    """Left share of contact time per bin, with the symmetric 50 % line."""
    fig, ax = new_figure()
    t, ct, side = data.steps["time_s"], data.steps["contact_time_ms"], data.steps["side"]
    ok = np.isfinite(ct) & np.isin(side, ["left", "right"])
    if ok.any() and (side[ok] == "left").any() and (side[ok] == "right").any():
        width = bin_width_s(duration_s)
        k = np.floor(t[ok] / width).astype(np.int64)
        left = np.bincount(k, weights=np.where(side[ok] == "left", ct[ok], 0.0))
        total = np.bincount(k, weights=ct[ok])
        has = total > 0
        centres = (np.arange(len(total))[has] + 0.5) * width / 60.0
        share = 100.0 * left[has] / total[has]
        ax.plot(centres, share, "-o", ms=3, color=DATA_COLOUR)
        ax.axhline(50.0, color="grey", lw=1)
        ax.axhspan(48.0, 52.0, color="grey", alpha=0.15)
        lo, hi = min(45.0, float(share.min()) - 1), max(55.0, float(share.max()) + 1)
        ax.set_ylim(lo, hi)
    else:
        no_data(ax, "left/right balance: sides unknown")
    mark(ax, markers)
    ax.set_xlabel("time (min)")
    ax.set_ylabel("left share of contact (%)")
    ax.grid(alpha=0.3)
    return png(fig)


def fatigue(data: RunnerData, markers: Markers, threshold: float) -> bytes:
    """Fatigue score with the cue threshold; a legend of the cue colours."""
    fig, ax = new_figure()
    t, s = data.fatigue["time_s"], data.fatigue["score"]
    if len(t):
        ax.plot(t / 60.0, s, "-", lw=1.5, color=DATA_COLOUR, label="fatigue score")
        ax.axhline(threshold, color="grey", ls=":", lw=1, label=f"cue threshold {threshold:g}")
        ax.set_ylim(0, 100)
    else:
        no_data(ax, "fatigue score: not enough running for a baseline")
    mark(ax, markers)
    for kind in sorted({c.kind.value for c in markers.cues}):
        ax.plot([], [], color=CUE_COLOURS.get(kind, "grey"), label=f"cue: {kind}")
    if markers.onset is not None:
        ax.plot([], [], "k--", label="fatigue onset")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize=8)
    ax.set_xlabel("time (min)")
    ax.set_ylabel("score (0-100)")
    ax.grid(alpha=0.3)
    return png(fig)
