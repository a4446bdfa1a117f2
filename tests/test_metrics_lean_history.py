"""The metrics stage's lean history holds what a DSP History would, and averages it to the bit."""

from __future__ import annotations

import numpy as np

from sensorkit.dsp.base import History
from sensorkit.metrics.lean_history import LeanHistory


def test_lean_history_holds_the_rows_of_a_history_and_means_them_like_numpy() -> None:
    rng = np.random.default_rng(7)
    keep = 40
    plain, lists = History(3, keep), LeanHistory(keep)
    t0 = 0.0
    for size in [1, 1, 3, 25, 1, 200, 1, 7, 60, 1, 1, 150, 2, *([1] * 90), 33]:
        t = t0 + np.cumsum(rng.uniform(0.01, 0.05, size))
        t0 = float(t[-1])
        lean, lateral = rng.normal(5.0, 3.0, size), rng.normal(0.0, 2.0, size)
        plain.append_parts(t, lean, lateral)
        lists.extend(t.tolist(), lean.tolist(), lateral.tolist())
        held = plain.view(plain.start, plain.end)
        assert held[:, 0].tolist() == lists.time_s
        assert held[:, 1].tolist() == lists.lean_deg
        assert held[:, 2].tolist() == lists.lateral_deg
        for _ in range(5):
            lo, hi = sorted(rng.uniform(float(held[0, 0]) - 0.1, t0 + 0.1, 2).tolist())
            a, b = np.searchsorted(held[:, 0], [lo, hi])
            want = float(held[a:b, 1].mean()) if b > a else None
            assert lists.mean_lean(lo, hi) == want
