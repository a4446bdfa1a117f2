"""History's cheap reads (memoryview values, one-step column slices) against its plain view."""

from __future__ import annotations

import numpy as np

from sensorkit.dsp.base import History


def test_history_single_values_and_columns_are_those_of_the_view() -> None:
    h = History(3, 5)
    rng = np.random.default_rng(3)
    for _ in range(30):  # appends trim and regrow the buffer
        h.append(rng.standard_normal((int(rng.integers(1, 9)), 3)))
        lo = h.end - 5
        view = h.view(lo, h.end)
        for col in range(3):
            assert h.column(lo, h.end, col).tolist() == view[:, col].tolist()
            assert h.value(h.end - 1, col) == float(view[-1, col])
        p = lo + 2.25
        assert h.interp(p, 200.0, 1) == view[2, 1] + 0.25 * (view[3, 1] - view[2, 1])
        assert h.interp(h.end - 1 + 0.5, 200.0) == view[-1, 0] + 0.5 / 200.0


def test_view_and_column_clip_any_range_to_the_rows_held() -> None:
    h = History(2, 6)
    rng = np.random.default_rng(5)
    rows: list[list[float]] = []  # every row ever appended, by absolute index
    for _ in range(20):
        new = rng.standard_normal((int(rng.integers(1, 8)), 2))
        h.append(new)
        rows.extend(new.tolist())
        for lo in range(h.start - 3, h.end + 3):
            for hi in range(lo - 3, h.end + 4):
                held = [rows[i] for i in range(max(lo, h.start), min(hi, h.end))]
                assert h.view(lo, hi).tolist() == held
                assert h.column(lo, hi, 1).tolist() == [r[1] for r in held]
