"""Cue rules on synthetic metric streams with known answers (onset, duration, cooldown, cap)."""

from __future__ import annotations

import itertools
import math

import pytest

from sensorkit.alerts import AlertsSettings, CueEngine
from sensorkit.alerts.synthetic import Drift, StreamSpec, rolling_stream, step_stream
from sensorkit.model import Cue, CueKind, FatigueState, RollingMetrics

WARM = 60.0 + 240.0  # default settle + warm-up


def run(items, settings: AlertsSettings | None = None, runner: str = "r1"):
    engine = CueEngine(runner, settings)
    cues: list[Cue] = []
    states: list[FatigueState] = []
    for item in items:
        for rec in engine.update(item):
            (cues if isinstance(rec, Cue) else states).append(rec)
    assert engine.finish() == []
    return engine, cues, states


def quiet(duration_s: float, *drifts: Drift, **kw) -> list[RollingMetrics]:
    """A noise-free stream: the answers are exact."""
    return rolling_stream(StreamSpec(duration_s, drifts, noise_scale=0.0, **kw))


def settings(**kw) -> AlertsSettings:
    return AlertsSettings.model_validate(kw)


def test_no_baseline_and_no_cue_during_settle_and_warm_up() -> None:
    # A big lean from minute 2 is part of the warm-up: it becomes the baseline, not a fault.
    _, cues, states = run(quiet(900, Drift("trunk_lean_deg", 120, 6.0)))
    assert cues == []
    ready = [s.time_s for s in states if s.baseline_ready]
    assert ready and ready[0] == pytest.approx(WARM + 1, abs=1.5)
    assert all(s.score == 0 for s in states if not s.baseline_ready)


@pytest.mark.parametrize(("drift", "kind", "metric"), [
    (Drift("trunk_lean_deg", 900, 4.0), CueKind.TRUNK_LEAN, "trunk_lean_deg"),
    (Drift("cadence_spm", 900, -4.0), CueKind.OVERSTRIDE, "cadence_spm"),
    (Drift("impact_g", 900, 20.0), CueKind.IMPACT, "impact_g"),
    (Drift("rearfoot_pct", 900, 25.0), CueKind.IMPACT, "rearfoot_pct"),
    (Drift("balance_left_pct", 900, -6.0), CueKind.ASYMMETRY, "balance_left_pct"),
])
def test_each_form_fault_gives_its_cue_soon_after_the_minimum_duration(drift, kind, metric) -> None:
    s = AlertsSettings()
    rule = s.rules.get(kind)
    _, cues, _ = run(quiet(1200, drift), s)
    assert cues, f"no cue for {drift}"
    first = cues[0]
    assert first.kind is kind and first.metric == metric
    # Known answer: the EWMA of a step of size A crosses threshold T after tau * ln(A / (A - T))
    # (sampled at 1 Hz), then the fault must hold for min_duration_s.
    a, thr = abs(drift.amount), rule.triggers[metric]
    crossing = drift.onset_s + math.ceil(s.ewma_tau_s * math.log(a / (a - thr))) - 1
    assert first.time_s == pytest.approx(crossing + rule.min_duration_s, abs=1.0)
    assert first.trigger_time_s == first.time_s
    assert first.expires_s == pytest.approx(first.time_s + rule.expiry_s)
    assert first.priority == rule.priority
    assert first.text == CueEngine("x").phrasebook.text(kind)
    assert first.baseline is not None and first.value is not None


def test_improvements_are_not_faults() -> None:
    _, cues, _ = run(quiet(1500, Drift("trunk_lean_deg", 900, -4.0), Drift("cadence_spm", 900, 5.0),
                           Drift("impact_g", 900, -20.0), Drift("contact_time_ms", 900, -8.0)))
    assert cues == []


def test_a_fault_shorter_than_the_minimum_duration_is_not_cued() -> None:
    s = settings(ewma_tau_s=1.0)
    min_s = s.rules.trunk_lean.min_duration_s
    short = [Drift("trunk_lean_deg", 900, 5.0), Drift("trunk_lean_deg", 900 + min_s - 3, -5.0)]
    _, cues, _ = run(quiet(1200, *short), s)
    assert cues == []
    longer = [Drift("trunk_lean_deg", 900, 5.0), Drift("trunk_lean_deg", 900 + 2 * min_s, -5.0)]
    _, cues, _ = run(quiet(1200, *longer), s)
    assert [c.kind for c in cues] == [CueKind.TRUNK_LEAN]


def test_a_persisting_fault_is_repeated_after_its_cooldown_which_grows_with_each_repeat() -> None:
    s = settings(rules={"trunk_lean": {"cooldown_s": 200}})
    _, cues, _ = run(quiet(1800, Drift("trunk_lean_deg", 900, 4.0)), s)
    times = [c.time_s for c in cues]
    assert [b - a for a, b in itertools.pairwise(times)] == [200.0, 400.0]
    flat = settings(rules={"trunk_lean": {"cooldown_s": 200, "repeat_backoff": 1.0}})
    _, cues, _ = run(quiet(1800, Drift("trunk_lean_deg", 900, 4.0)), flat)
    times = [c.time_s for c in cues]
    assert [b - a for a, b in itertools.pairwise(times)] == [200.0, 200.0, 200.0, 200.0]


def test_a_fault_that_cleared_for_a_whole_cooldown_starts_afresh() -> None:
    s = settings(rules={"trunk_lean": {"cooldown_s": 200}}, ewma_tau_s=1.0)
    episodes = [Drift("trunk_lean_deg", 900, 4.0), Drift("trunk_lean_deg", 960, -4.0),
                Drift("trunk_lean_deg", 1300, 4.0)]
    _, cues, _ = run(quiet(1800, *episodes), s)
    times = [c.time_s for c in cues]
    assert len(times) == 3 and times[0] < 960 and times[1] > 1300
    assert times[2] - times[1] == 200.0  # not 400: the streak ended when the runner stood tall


def test_hysteresis_keeps_a_fault_active_through_a_dip_above_the_release_level() -> None:
    # Drift 3.0 deg for 12 s, dips to 2.0 deg (below 2.5 threshold, above 0.6 * 2.5) for 10 s, back up.
    dip = [Drift("trunk_lean_deg", 900, 3.0), Drift("trunk_lean_deg", 912, -1.0),
           Drift("trunk_lean_deg", 922, 1.0), Drift("trunk_lean_deg", 935, -3.0)]
    rules = {"trunk_lean": {"min_duration_s": 15.0}}  # longer than each part, shorter than the whole
    _, cues, _ = run(quiet(1200, *dip), settings(ewma_tau_s=0.5, rules=rules))
    assert [c.kind for c in cues] == [CueKind.TRUNK_LEAN]
    # Without hysteresis the dip resets the duration and no cue is due.
    _, cues, _ = run(quiet(1200, *dip), settings(ewma_tau_s=0.5, release_fraction=0.99, rules=rules))
    assert cues == []


def test_global_cap_and_priority_when_many_faults_start_together() -> None:
    # Each drift is twice its threshold, so three rules become due at the same moment.
    fatigue = [Drift("trunk_lean_deg", 900, 5.0), Drift("cadence_spm", 900, -5.0),
               Drift("impact_g", 900, 24.0), Drift("balance_left_pct", 900, 8.0)]
    s = settings(max_cues_per_minute=2, min_gap_s=10.0)
    _, cues, _ = run(quiet(1300, *fatigue), s)
    times = [c.time_s for c in cues]
    assert len(cues) >= 4
    for t in times:
        assert sum(1 for u in times if t <= u < t + 60) <= 2
    assert all(b - a >= 10 for a, b in itertools.pairwise(times))
    assert cues[0].kind is CueKind.TRUNK_LEAN  # highest priority among those due first
    assert {c.kind for c in cues} >= {CueKind.TRUNK_LEAN, CueKind.OVERSTRIDE, CueKind.IMPACT,
                                      CueKind.ASYMMETRY, CueKind.FATIGUE}


def test_a_form_cue_held_back_by_the_cap_goes_before_ease_off() -> None:
    # Four faults start together: two cues fill the minute; overstride/impact and "Ease off" (the
    # summary of those same drifts, priority 5) then wait. When the cap frees, the waiting form cue
    # goes first: the runner hears what to fix, and "Ease off" follows 10 s later.
    faults = [Drift("trunk_lean_deg", 900, 5.0), Drift("cadence_spm", 900, -5.0), Drift("impact_g", 900, 24.0),
              Drift("contact_time_ms", 900, 10.0)]
    _, cues, _ = run(quiet(1200, *faults))
    kinds = [c.kind for c in cues]
    assert kinds[0] is CueKind.TRUNK_LEAN and kinds[3] is CueKind.FATIGUE
    assert set(kinds[1:3]) == {CueKind.OVERSTRIDE, CueKind.IMPACT}
    t = [c.time_s for c in cues]
    assert t[2] == t[0] + 60.0 and t[3] == t[2] + 10.0  # spoken as soon as the cap frees


@pytest.mark.parametrize(("drift", "kind"), [
    (Drift("trunk_lean_deg", 900, 4.0, 180), CueKind.TRUNK_LEAN),
    (Drift("cadence_spm", 900, -4.0, 180), CueKind.OVERSTRIDE),
    (Drift("impact_g", 900, 20.0, 180), CueKind.IMPACT),
    (Drift("balance_left_pct", 900, 6.0, 180), CueKind.ASYMMETRY),
])
def test_a_ramp_is_cued_the_smoothing_lag_plus_the_minimum_duration_after_it_crosses(drift, kind) -> None:
    # The engine's own share of the detection delay, on a clean fatigue ramp (the simulator's 3-min
    # ramp): the EWMA of a ramp sampled at 1 Hz lags it by 1 / (exp(1 / tau) - 1) s (~tau), then the
    # fault must hold for min_duration_s. The two lags add up; noise and the warm-up baseline's error
    # add the rest of a real delay (bench/cues_detection.py).
    s = AlertsSettings()
    rule = s.rules.get(kind)
    crossing = drift.crossing_s(math.copysign(rule.triggers[drift.metric], drift.amount))
    assert crossing is not None
    lag_s = 1.0 / math.expm1(1.0 / s.ewma_tau_s)
    _, cues, _ = run(quiet(1500, drift), s)
    assert [c.kind for c in cues][:1] == [kind]
    assert cues[0].time_s == pytest.approx(math.ceil(crossing + lag_s) + rule.min_duration_s, abs=1.0)
    assert cues[0].time_s - crossing <= s.ewma_tau_s + rule.min_duration_s + 1.0


def test_fatigue_score_rises_with_drift_and_ease_off_follows() -> None:
    fatigue = [Drift("trunk_lean_deg", 900, 4.0, 300), Drift("cadence_spm", 900, -4.0, 300),
               Drift("impact_g", 900, 20.0, 300), Drift("contact_time_ms", 900, 8.0, 300)]
    _, cues, states = run(quiet(1800, *fatigue))
    before = [s.score for s in states if WARM + 30 < s.time_s < 900]
    after = [s.score for s in states if s.time_s > 1300]
    assert max(before) < 5 and min(after) > 50
    assert all(0 <= s.score <= 100 for s in states)
    assert set(states[-1].components) == {"trunk_lean_deg", "cadence_spm", "contact_time_ms", "impact_g",
                                          "balance_left_pct", "rearfoot_pct"}
    assert states[-1].components["trunk_lean_deg"] == pytest.approx(80.0, abs=2)
    gaps = [b.time_s - a.time_s for a, b in itertools.pairwise(states)]
    assert min(gaps) >= 1.0 and max(gaps) <= 1.0
    assert CueKind.FATIGUE in {c.kind for c in cues}


def test_stops_interrupt_a_fault_and_the_pace_settles_before_tracking_resumes() -> None:
    # Fault from 900 s; the runner stops 905-960 s: no cue until resume_settle_s + min_duration_s after.
    s = AlertsSettings()
    _, cues, _ = run(quiet(1300, Drift("trunk_lean_deg", 900, 4.0), stops=[(905, 960)]), s)
    assert cues and cues[0].time_s >= 960 + s.resume_settle_s + s.rules.trunk_lean.min_duration_s


def test_records_of_other_runners_are_ignored() -> None:
    items = quiet(1200, Drift("trunk_lean_deg", 900, 4.0))
    _, cues, states = run(items, runner="someone-else")
    assert cues == [] and states == []


def test_step_metrics_alone_drive_the_rules_too() -> None:
    spec = StreamSpec(1500, [Drift("trunk_lean_deg", 900, 4.0), Drift("impact_g", 900, 25.0)], seed=3)
    _, cues, states = run(step_stream(spec))
    kinds = [c.kind for c in cues]
    assert CueKind.TRUNK_LEAN in kinds and CueKind.IMPACT in kinds
    assert all(c.time_s > 900 for c in cues)
    assert states[-1].baseline_ready


def test_missing_metrics_are_simply_not_tracked() -> None:
    items = quiet(1200, Drift("cadence_spm", 900, -4.0), metrics=("cadence_spm",))
    engine, cues, _ = run(items)
    assert set(engine.baselines) == {"cadence_spm"}
    assert {c.kind for c in cues} == {CueKind.OVERSTRIDE}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_steady_noisy_hour_gives_no_cue(seed: int) -> None:
    _, cues, states = run(rolling_stream(StreamSpec(3600, seed=seed)))
    assert cues == []
    assert max(s.score for s in states) < 30


def test_a_noisy_fatigue_run_still_gives_the_right_cues() -> None:
    fatigue = [Drift("trunk_lean_deg", 1200, 4.0, 300), Drift("cadence_spm", 1200, -4.0, 300),
               Drift("impact_g", 1200, 20.0, 300), Drift("contact_time_ms", 1200, 8.0, 300)]
    _, cues, _ = run(rolling_stream(StreamSpec(1920, fatigue, seed=7)))
    assert all(c.time_s > 1200 for c in cues)
    first = {}
    for c in cues:
        first.setdefault(c.kind, c.time_s)
    assert set(first) == {CueKind.TRUNK_LEAN, CueKind.OVERSTRIDE, CueKind.IMPACT, CueKind.FATIGUE}
    assert max(first.values()) < 1200 + 300 + 120


def test_a_short_burst_of_wild_values_is_clipped_and_not_cued() -> None:
    # Five seconds of +30 deg lean (a sensor knocked, a glitch) must not read as half a minute of fault.
    burst = [Drift("trunk_lean_deg", 900, 30.0), Drift("trunk_lean_deg", 905, -30.0)]
    _, cues, _ = run(quiet(1200, *burst))
    assert cues == []
