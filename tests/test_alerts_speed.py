"""Speed awareness: faster or slower running is not fatigue when the speed is known."""

from __future__ import annotations

import numpy as np
import pytest

from sensorkit.alerts import AlertsSettings, CueEngine
from sensorkit.alerts.baseline import fit_baseline, robust_sd
from sensorkit.alerts.settings import DEFAULT_METRICS
from sensorkit.alerts.synthetic import TRUE_SLOPES, Drift, StreamSpec, interval_speed, rolling_stream
from sensorkit.model import Cue, CueKind


def cues_of(items, settings: AlertsSettings | None = None) -> list[Cue]:
    engine = CueEngine("r1", settings)
    return [r for it in items for r in engine.update(it) if isinstance(r, Cue)]


INTERVALS = StreamSpec(2400, speed=interval_speed(2.8, 4.0, 240, start_s=600), seed=5)


def test_intervals_after_a_steady_warm_up_give_no_cue_when_speed_aware() -> None:
    assert cues_of(rolling_stream(INTERVALS)) == []


def test_the_same_intervals_do_fire_cues_when_speed_is_ignored() -> None:
    # Proves the previous test is not vacuous: at 4 m/s impact is +18 % and contact time -14 %.
    cues = cues_of(rolling_stream(INTERVALS), AlertsSettings(speed_aware=False))
    assert CueKind.IMPACT in {c.kind for c in cues}


def test_a_warm_up_at_varied_speeds_fits_the_runners_own_slope() -> None:
    spec = StreamSpec(1200, speed=interval_speed(2.8, 3.8, 60, start_s=0), seed=2)
    engine = CueEngine("r1")
    for it in rolling_stream(spec):
        engine.update(it)
    cad = engine.baselines["cadence_spm"]
    assert cad.slope_fitted
    assert cad.slope_per_mps == pytest.approx(TRUE_SLOPES["cadence_spm"] / 100 * 170.0, rel=0.25)
    assert cad.expected(3.2) == pytest.approx(170.0, abs=1.0)


def test_fatigue_is_still_found_through_speed_changes() -> None:
    spec = StreamSpec(2400, [Drift("trunk_lean_deg", 1500, 4.0, 120)],
                      speed=interval_speed(2.8, 4.0, 240, start_s=600), seed=5)
    cues = cues_of(rolling_stream(spec))
    assert cues and cues[0].kind is CueKind.TRUNK_LEAN and cues[0].time_s > 1500


def test_unknown_speed_falls_back_to_the_plain_baseline() -> None:
    spec = StreamSpec(1500, [Drift("impact_g", 900, 25.0)], speed_known=False, seed=1)
    engine = CueEngine("r1")
    cues = [r for it in rolling_stream(spec) for r in engine.update(it) if isinstance(r, Cue)]
    assert engine.baselines["impact_g"].speed0_mps is None
    assert [c.kind for c in cues][:1] == [CueKind.IMPACT]


def test_baseline_statistics_are_robust_to_outliers() -> None:
    rng = np.random.default_rng(0)
    x = 170 + rng.standard_normal(300)
    x[::25] = 40.0  # dropouts from a bad window
    t = np.arange(x.size, dtype=float)
    base = fit_baseline("cadence_spm", DEFAULT_METRICS["cadence_spm"], t, x, np.full_like(x, np.nan),
                        speed_aware=True, fit_min_range_mps=0.6, max_speed_delta_mps=2.0, ewma_tau_s=15)
    assert base.median == pytest.approx(170.0, abs=0.3)
    assert robust_sd(x) == pytest.approx(1.0, rel=0.2)
    assert base.drift(170 * 0.96, None) == pytest.approx(4.0, abs=0.3)  # percent below baseline
