"""Rolling summaries: cadence over a window is the steps taken in it per minute."""

from __future__ import annotations

import pytest

from sensorkit.metrics.rolling import RollingWindow, window_cadence_spm
from sensorkit.model import Side, StepMetrics


def _steps(intervals: list[float], start_s: float = 0.0) -> list[StepMetrics]:
    out, t = [], start_s
    for k, iv in enumerate(intervals):
        t += iv
        out.append(StepMetrics("r", t, Side.LEFT if k % 2 == 0 else Side.RIGHT, step_time_s=iv))
    return out


def test_alternating_step_times_of_an_off_centre_phone_give_a_steady_cadence() -> None:
    # A phone at the waist sees 0.34 / 0.43 s alternately: 60 / 0.385 = 155.8 steps/min.
    # 60 / median flips between ~140 and ~176 from one second to the next.
    window = RollingWindow("r", window_s=9.0)
    for s in _steps([0.34, 0.43] * 60):
        window.add_step(s)
    values = [window.emit(now).cadence_spm for now in range(12, 40)]
    assert all(v == pytest.approx(60.0 / 0.385, abs=1.0) for v in values)  # type: ignore[operator]


def test_a_pace_change_is_weighted_by_time_and_a_missed_step_is_a_hole() -> None:
    steps = _steps([0.4] * 25 + [0.3] * 33)  # 10 s at 150 steps/min, then 9.9 s at 200
    assert window_cadence_spm(steps, 0.0, 19.9) == pytest.approx(60.0 * 58 / 19.9, rel=1e-6)
    missed = _steps([0.35] * 20 + [0.7] + [0.35] * 20)  # one step not detected
    assert window_cadence_spm(missed, 0.0, 14.35) == pytest.approx(60.0 / 0.35, rel=1e-6)
    assert window_cadence_spm([], 0.0, 10.0) is None
