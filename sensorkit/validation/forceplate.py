"""Ground-truth foot contacts from the single treadmill force plate under both feet.

A contact is a run of vertical force above ``threshold_n`` over the flight-phase baseline,
on the force low-passed at ``lowpass_hz`` (zero phase: this is offline truth). Crossing times
are linearly interpolated between samples. Running has a flight phase between consecutive
contacts, so every run above threshold is one foot; which foot is decided from the markers
(the foot whose lowest marker is nearer the belt at mid-stance) and cross-checked with the
centre of pressure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.signal import butter, sosfiltfilt

from sensorkit.model import Side
from sensorkit.validation.kinematics import GRAVITY_MPS2, sg_derivative
from sensorkit.validation.rbds import ForceTrial, MarkerTrial

F64 = NDArray[np.float64]

FOOT_MARKERS = ("Heel.Bottom", "Heel.Top", "Heel.Lateral", "MT1", "MT5")
SOLE_MARKERS = ("Heel.Bottom", "MT1", "MT5")


@dataclass(frozen=True, slots=True)
class ContactSettings:
    """Force-plate contact detection; defaults follow common running-biomechanics practice."""

    threshold_n: float = 20.0
    lowpass_hz: float = 50.0
    min_contact_s: float = 0.08
    min_flight_s: float = 0.02
    max_contact_s: float = 0.45
    """Longer runs mean two feet overlapped (no flight): flagged instead of split."""


@dataclass(frozen=True, slots=True)
class ForceContacts:
    """Contacts in force-file time: ``ic_s``/``tc_s`` (m,), flags for implausible ones."""

    ic_s: F64
    tc_s: F64
    baseline_n: float
    overlong: NDArray[np.bool_]

    @property
    def contact_time_ms(self) -> F64:
        return (self.tc_s - self.ic_s) * 1000.0


def filtered_vertical_n(force: ForceTrial, lowpass_hz: float) -> F64:
    """Vertical force low-passed (2nd-order Butterworth, zero phase)."""
    sos = butter(2, lowpass_hz, fs=force.sampling_rate_hz, output="sos")
    return np.asarray(sosfiltfilt(sos, force.vertical_n), dtype=np.float64)


def detect_contacts(force: ForceTrial, settings: ContactSettings | None = None) -> ForceContacts:
    """Complete contacts (IC and TC inside the file) from the vertical force."""
    s = settings or ContactSettings()
    fy = filtered_vertical_n(force, s.lowpass_hz)
    low = fy <= np.percentile(fy, 10)
    baseline = float(np.median(fy[low]))
    level = fy - baseline - s.threshold_n
    above = level > 0
    edges = np.diff(above.astype(np.int8))
    rises = np.flatnonzero(edges == 1)  # crossing between i and i+1
    falls = np.flatnonzero(edges == -1)
    if falls.size and rises.size and falls[0] < rises[0]:
        falls = falls[1:]  # starts inside a contact
    n = min(rises.size, falls.size)
    rises, falls = rises[:n], falls[:n]
    fs = force.sampling_rate_hz
    # merge runs separated by a flight too short to be real (noise dips)
    gap_short = (rises[1:] - falls[:-1]) / fs < s.min_flight_s
    rises, falls = rises[np.r_[True, ~gap_short]], falls[np.r_[~gap_short, True]]
    ic = _crossing(force.time_s, level, rises)
    tc = _crossing(force.time_s, level, falls)
    ok = (tc - ic) >= s.min_contact_s
    ic, tc = ic[ok], tc[ok]
    return ForceContacts(ic, tc, baseline, (tc - ic) > s.max_contact_s)


def _crossing(time_s: F64, level: F64, i: NDArray[np.intp]) -> F64:
    """Time where ``level`` crosses zero between samples i and i+1."""
    a, b = level[i], level[i + 1]
    frac = a / (a - b)
    return np.asarray(time_s[i] + frac * (time_s[i + 1] - time_s[i]), dtype=np.float64)


def lowest_sole_height_m(markers: MarkerTrial, side: Side) -> F64:
    """Height (m) of the lowest sole marker of one foot at every marker frame."""
    prefix = "R." if side is Side.RIGHT else "L."
    ys = np.stack([markers.marker(prefix + m)[:, 1] for m in SOLE_MARKERS], axis=1)
    return np.asarray(np.nanmin(ys, axis=1), dtype=np.float64)


def contact_sides(markers: MarkerTrial, ic_s: F64, tc_s: F64) -> list[Side]:
    """Side of each contact: the foot whose lowest sole marker is lower at mid-contact."""
    mid = 0.5 * (ic_s + tc_s)
    right = np.interp(mid, markers.time_s, lowest_sole_height_m(markers, Side.RIGHT))
    left = np.interp(mid, markers.time_s, lowest_sole_height_m(markers, Side.LEFT))
    return [Side.RIGHT if r < lft else Side.LEFT for r, lft in zip(right, left, strict=True)]


def cop_sides(markers: MarkerTrial, force: ForceTrial, ic_s: F64, tc_s: F64) -> list[Side]:
    """Independent side check: the foot whose markers are laterally nearer the mean COP."""
    out = []
    for a, b in zip(ic_s, tc_s, strict=True):
        sel = (force.time_s >= a) & (force.time_s <= b)
        cop_z = float(np.median(force.cop_m[sel, 2]))
        msel = (markers.time_s >= a) & (markers.time_s <= b)
        dist = {}
        for side, prefix in ((Side.RIGHT, "R."), (Side.LEFT, "L.")):
            z = np.nanmean([markers.marker(prefix + m)[msel, 2] for m in SOLE_MARKERS])
            dist[side] = abs(z - cop_z)
        out.append(min(dist, key=lambda k: dist[k]))
    return out


SEGMENT_MASS = (
    (("R.PSIS", "L.PSIS", "R.ASIS", "L.ASIS"), 0.678),
    *((tuple(f"{p}.Thigh.{a}.{b}" for a in ("Top", "Bottom") for b in ("Lateral", "Medial")), 0.100)
      for p in "RL"),
    *((tuple(f"{p}.Shank.{a}.{b}" for a in ("Top", "Bottom") for b in ("Lateral", "Medial")), 0.0465)
      for p in "RL"),
    *((tuple(f"{p}.{m}" for m in FOOT_MARKERS), 0.0145) for p in "RL"),
)
"""Marker clusters and mass fractions (Winter: head-arms-trunk with pelvis, thigh, shank, foot)."""


def com_height_m(markers: MarkerTrial) -> F64:
    """Approximate whole-body centre-of-mass height: mass-weighted cluster centroids."""
    total = np.zeros(len(markers))
    weight = 0.0
    for names, fraction in SEGMENT_MASS:
        ys = [markers.marker(n)[:, 1] for n in names if markers.has(n, max_missing=0.2)]
        if not ys:
            continue
        y = np.nanmean(np.stack(ys, axis=1), axis=1)
        good = np.isfinite(y)
        y = np.interp(markers.time_s, markers.time_s[good], y[good])
        total += fraction * y
        weight += fraction
    return total / weight


def marker_force_lag_s(markers: MarkerTrial, force: ForceTrial, window: int = 11,
                       max_lag_s: float = 0.05) -> tuple[float, float]:
    """Time shift of the marker file against the force file, and the correlation at it.

    Newton: the body's vertical acceleration is ``Fy/m - g`` at every instant, with ``m`` from
    the mean force (body weight over whole strides). It is compared with the second derivative
    of the marker-based centre of mass. A positive lag means marker events happen later than
    force events at equal file times; add it to force times to put them on the marker clock.
    """
    acc_marker = sg_derivative(com_height_m(markers), markers.sampling_rate_hz, 2, window)
    fy = force.vertical_n
    acc_force = (fy / fy.mean() - 1.0) * GRAVITY_MPS2
    step = 0.0005
    fine = np.arange(0.0, min(markers.time_s[-1], force.time_s[-1]), step)
    a = np.interp(fine, markers.time_s, acc_marker)
    b = np.interp(fine, force.time_s, acc_force)
    a, b = a - a.mean(), b - b.mean()
    max_k = int(max_lag_s / step)
    core = slice(max_k, len(fine) - max_k)
    lags = np.arange(-max_k, max_k + 1)
    cc = np.array([np.dot(np.roll(a, -k)[core], b[core]) for k in lags])
    k = int(np.argmax(cc))
    corr = cc[k] / np.sqrt(np.dot(a[core], a[core]) * np.dot(b[core], b[core]))
    return float(lags[k] * step), float(corr)
