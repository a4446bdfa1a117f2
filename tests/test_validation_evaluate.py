"""Scores from records: pooling by concatenation, per-scope keys, edges left out."""

from __future__ import annotations

import numpy as np
import pytest

from sensorkit.model import EventKind, Placement, Side, StepEvent, StepMetrics, StrikeClass
from sensorkit.validation.evaluate import Reference, Scores, score_events, score_steps, score_strike_labels


def _reference() -> Reference:
    ic = np.arange(10.0, 40.0, 0.35)
    sides = tuple(Side.LEFT if i % 2 == 0 else Side.RIGHT for i in range(ic.size))
    return Reference(ic, ic + 0.25, sides, np.full(ic.size, 15.0), (10.0, 40.0),
                     {Side.LEFT: StrikeClass.REARFOOT, Side.RIGHT: StrikeClass.REARFOOT})


def _events(ref: Reference, delay_s: float, sid: str = "r/lower_back") -> list[StepEvent]:
    out = []
    for t, tc, side in zip(ref.ic_s, ref.tc_s, ref.side, strict=True):
        out.append(StepEvent("r", float(t + delay_s), EventKind.INITIAL_CONTACT, side, sid, Placement.LOWER_BACK))
        out.append(StepEvent("r", float(tc - delay_s), EventKind.TERMINAL_CONTACT, side, sid, Placement.LOWER_BACK))
    return out


def test_event_scores_count_only_the_scored_span():
    ref = _reference()
    s = score_events(_events(ref, 0.012), ref, "back", {"r/lower_back"}, 0.1)
    assert s.f1("back.ic") == 1.0 and s.f1("back.tc") == 1.0
    assert s.mean("back.ic_ms") == pytest.approx(12.0)
    assert s.mean("back.tc_ms") == pytest.approx(-12.0)
    assert s.share("back.side") == 1.0
    n_scored = int(ref.scored().sum())
    assert s.counts["back.ic"] == [n_scored, n_scored, n_scored]
    assert n_scored < ref.ic_s.size  # first 0.5 s and last 1 s are left out


def test_other_sensors_and_wrong_sides_are_scored_as_such():
    ref = _reference()
    flipped = [StepEvent(e.runner, e.time_s, e.kind, Side.RIGHT if e.side is Side.LEFT else Side.LEFT, e.sensor_id,
                         e.placement) for e in _events(ref, 0.0)]
    s = score_events(flipped, ref, "back", {"r/lower_back"}, 0.1)
    assert s.share("back.side") == 0.0
    s = score_events(_events(ref, 0.0, sid="r/left_foot"), ref, "back", {"r/lower_back"}, 0.1)
    assert s.f1("back.ic") == 0.0


def test_step_scores_and_pooling():
    ref = _reference()
    steps = [StepMetrics("r", float(t), side, step_time_s=0.35, contact_time_ms=262.0, strike_angle_deg=13.0,
                         strike_class=StrikeClass.REARFOOT, sources="left_foot")
             for t, side in zip(ref.ic_s, ref.side, strict=True)]
    a = score_steps(steps, ref, "shoe", 0.05)
    assert a.rmse("shoe.contact_ms") == pytest.approx(12.0)
    assert a.mean("shoe.strike_deg") == pytest.approx(-2.0)
    assert a.max_abs("shoe.cadence_spm") == pytest.approx(0.0, abs=1e-6)
    assert a.share("shoe.strike_class_vs_angle") == 1.0
    score_strike_labels(steps, ref, "shoe", "t1", out=a)
    assert a.all_true("shoe.class_vs_label") is True
    assert a.details == [("t1", "left", "rearfoot", "rearfoot", "rearfoot"),
                         ("t1", "right", "rearfoot", "rearfoot", "rearfoot")]
    pooled = Scores().merge(a).merge(score_steps(steps, ref, "shoe", 0.05))
    assert pooled.counts["shoe.steps"][1] == 2 * a.counts["shoe.steps"][1]
    assert pooled.err("shoe.contact_ms").size == 2 * a.err("shoe.contact_ms").size


def test_a_spurious_detection_inside_the_span_is_a_false_positive():
    ref = _reference()
    events = _events(ref, 0.0)
    events.append(StepEvent("r", 20.17, EventKind.INITIAL_CONTACT, Side.LEFT, "r/lower_back", Placement.LOWER_BACK))
    s = score_events(events, ref, "back", {"r/lower_back"}, 0.1)
    tp, n_truth, n_det = s.counts["back.ic"]
    assert tp == n_truth and n_det == n_truth + 1
