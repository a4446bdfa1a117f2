"""Secondary ground truth: foot contacts from foot kinematics alone (no force plate).

Per foot, ``h(t)`` is the height of its lowest sole marker (heel bottom, MT1, MT5) above
that marker's own floor level (its 2nd height percentile over the trial, i.e. stance on the
belt). IC is when ``h`` drops below ``ic_height_m``; TC is when it next rises above
``tc_height_m`` (the metatarsal heads rise a little before the toes leave the belt). The
thresholds (2 mm, 20 mm) were set on the RBDS trials that also have forces; the agreement
with the force plate is reported by ``bench.accuracy`` and in docs/validation.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sensorkit.model import Side
from sensorkit.validation.kinematics import fill_gaps
from sensorkit.validation.rbds import MarkerTrial

F64 = NDArray[np.float64]
SOLE = ("Heel.Bottom", "MT1", "MT5")


@dataclass(frozen=True, slots=True)
class MarkerEventSettings:
    ic_height_m: float = 0.002
    tc_height_m: float = 0.020
    floor_percentile: float = 2.0
    min_contact_s: float = 0.08
    max_contact_s: float = 0.6


@dataclass(frozen=True, slots=True, eq=False)
class MarkerSteps:
    """Contacts of both feet in marker-file time, sorted by IC."""

    ic_s: F64
    tc_s: F64
    side: tuple[Side, ...]


def sole_height_m(markers: MarkerTrial, side: Side, floor_percentile: float = 2.0) -> F64:
    """Height of the lowest sole marker above its floor level, per frame."""
    prefix = "L." if side is Side.LEFT else "R."
    cols = []
    for name in SOLE:
        xyz = fill_gaps(markers.marker(prefix + name), 30)
        if xyz is not None:
            cols.append(xyz[:, 1] - np.percentile(xyz[:, 1], floor_percentile))
    if not cols:
        raise ValueError(f"{markers.path.name}: no usable {prefix} sole markers")
    return np.asarray(np.min(np.stack(cols, axis=1), axis=1), dtype=np.float64)


def _crossings(x: F64, level: float, t: F64, downward: bool) -> F64:
    below = x < level
    i = np.flatnonzero((~below[:-1] & below[1:]) if downward else (below[:-1] & ~below[1:]))
    a, b = x[i] - level, x[i + 1] - level
    return np.asarray(t[i] + a / (a - b) * (t[i + 1] - t[i]), dtype=np.float64)


def foot_contacts(markers: MarkerTrial, side: Side,
                  settings: MarkerEventSettings | None = None) -> tuple[F64, F64]:
    """(IC, TC) times of one foot's complete contacts."""
    s = settings or MarkerEventSettings()
    h = sole_height_m(markers, side, s.floor_percentile)
    t = markers.time_s
    downs = _crossings(h, s.ic_height_m, t, downward=True)
    ups = _crossings(h, s.tc_height_m, t, downward=False)
    if downs.size == 0 or ups.size == 0:
        return np.empty(0), np.empty(0)
    # each TC pairs with the first IC after the previous TC (the foot was in swing before it)
    prev_up = np.r_[-np.inf, ups[:-1]]
    k = np.searchsorted(downs, prev_up, side="right")
    ic = downs[np.minimum(k, downs.size - 1)]
    ok = (k < downs.size) & (ic < ups)
    ic, tc = ic[ok], ups[ok]
    dur = tc - ic
    keep = (dur >= s.min_contact_s) & (dur <= s.max_contact_s)
    return ic[keep], tc[keep]


def marker_steps(markers: MarkerTrial, settings: MarkerEventSettings | None = None) -> MarkerSteps:
    """Both feet's contacts, sorted by IC."""
    parts = [(*foot_contacts(markers, side, settings), side) for side in (Side.LEFT, Side.RIGHT)]
    ic = np.concatenate([p[0] for p in parts])
    tc = np.concatenate([p[1] for p in parts])
    sides = [p[2] for p in parts for _ in range(p[0].size)]
    order = np.argsort(ic, kind="stable")
    return MarkerSteps(ic[order], tc[order], tuple(sides[i] for i in order))
