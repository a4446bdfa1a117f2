"""The trunk-lean readings a runner's steps are averaged over."""

from __future__ import annotations

from bisect import bisect_left

import numpy as np


class LeanHistory:
    """Trunk lean readings in time order, as Python lists (t, forward, lateral lean).

    A live block adds one reading: a list append costs a fraction of writing three numpy
    columns. Rows are dropped exactly when ``dsp.base.History(3, keep)`` would drop them, so a
    step's mean reads the same readings.
    """

    __slots__ = ("_keep", "_room", "lateral_deg", "lean_deg", "time_s")

    def __init__(self, keep: int) -> None:
        self.time_s: list[float] = []
        self.lean_deg: list[float] = []
        self.lateral_deg: list[float] = []
        self._keep = max(int(keep), 1)
        self._room = 2 * self._keep + 64  # History's buffer rows

    def extend(self, t: list[float], lean: list[float], lateral: list[float]) -> None:
        n, m = len(self.time_s), len(t)
        if n + m > self._room:  # History._make_room
            kept = min(n, self._keep)
            if kept + m > self._room:
                self._room = 2 * (kept + m)
            del self.time_s[:n - kept], self.lean_deg[:n - kept], self.lateral_deg[:n - kept]
        self.time_s.extend(t)
        self.lean_deg.extend(lean)
        self.lateral_deg.extend(lateral)

    def mean_lean(self, t0: float, t1: float) -> float | None:
        """Mean forward lean of the readings in ``[t0, t1)``.

        What ``ndarray.mean`` computes (numpy's pairwise sum, divided by the count), without
        its Python wrapper, which costs more than the sum of a step's ten readings.
        """
        a = bisect_left(self.time_s, t0)
        b = bisect_left(self.time_s, t1)
        return float(np.add.reduce(np.array(self.lean_deg[a:b]))) / (b - a) if b > a else None
