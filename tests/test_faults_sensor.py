"""Sensor saturation: a pod whose range is too small for the impacts clips them.

Outcome (RELIABILITY.md): the samples pass through as measured (clipped at full scale, never
wrapped around), every step is still found with its timing metrics, and the impact is
reported as a lower bound with ``impact_saturated`` set so nobody reads it as the true peak.
"""

from __future__ import annotations

import numpy as np
import pytest

from sensorkit.ble.profiles import diy_pod
from sensorkit.metrics import analyze_items
from sensorkit.model import Placement, RunnerInfo, SessionInfo, StepMetrics
from sensorkit.sources.simulator import PodConfig, RunnerProfile, SimulatedRun, SimulationConfig
from sensorkit.sources.simulator.feed import ItemFeed

BACK, LEFT, RIGHT = Placement.LOWER_BACK, Placement.LEFT_FOOT, Placement.RIGHT_FOOT


def steps_of(pods: tuple[PodConfig, ...], duration_s: float = 40.0) -> tuple[SimulatedRun, list[StepMetrics]]:
    sim = SimulatedRun(SimulationConfig(runner=RunnerProfile(), pods=pods, duration_s=duration_s, seed=0,
                                        speed_output_hz=None))
    items = [item for window in ItemFeed(sim).windows() for _, item in window]
    info = SessionInfo("sat", 0.0, (RunnerInfo(sim.runner.name),), sim.sensors, "test")
    return sim, [r for r in analyze_items(info, items) if isinstance(r, StepMetrics)]


@pytest.mark.parametrize(("pods", "range_g"), [
    ((PodConfig(BACK), PodConfig(LEFT, acc_range_g=4.0), PodConfig(RIGHT, acc_range_g=4.0)), 4.0),
    ((PodConfig(BACK, acc_range_g=2.0),), 2.0),
], ids=["shoes_at_4g", "back_at_2g"])
def test_clipped_impacts_are_flagged_lower_bounds_and_the_steps_are_all_there(
        pods: tuple[PodConfig, ...], range_g: float) -> None:
    sim, steps = steps_of(pods)
    _, unclipped = steps_of(tuple(PodConfig(p.placement) for p in pods))
    assert sim.truth.steps.shoe_saturated.all() or sim.truth.steps.back_saturated.all()  # the fault is real
    assert len(steps) == len(unclipped) > 80  # saturation costs no step
    assert all(s.impact_saturated for s in steps) and not any(s.impact_saturated for s in unclipped)
    impact = np.array([s.impact_g for s in steps], dtype=float)
    true_impact = np.array([s.impact_g for s in unclipped], dtype=float)
    assert np.all(impact >= range_g * 0.99)  # at least the full scale ...
    assert np.all(impact <= range_g * np.sqrt(3) + 0.1) and np.median(impact) < np.median(true_impact)  # ... a bound
    for name in ("cadence_spm", "contact_time_ms"):
        clipped = np.array([getattr(s, name) for s in steps], dtype=float)
        reference = np.array([getattr(s, name) for s in unclipped], dtype=float)
        assert np.array_equal(np.isfinite(clipped), np.isfinite(reference))  # unknown only where it is anyway
        assert np.isfinite(clipped).sum() >= len(steps) - 1
        assert np.nanmedian(np.abs(clipped - reference)) <= 0.05 * np.nanmedian(reference), name


def test_full_scale_counts_decode_to_the_range_never_wrapped() -> None:
    raw = np.array([[32767, -32768, 0, 32767, -32768, 0]], dtype=np.int16)
    packet = diy_pod.decode_packet(diy_pod.encode_packet(7, 1_000_000, raw), acc_range_g=16, gyr_range_dps=2000)
    assert packet.acc_g is not None and packet.gyr_dps is not None
    assert packet.acc_g[0, 0] == pytest.approx(16.0, rel=1e-3) and packet.acc_g[0, 1] == pytest.approx(-16.0)
    assert packet.gyr_dps[0, 0] == pytest.approx(2000.0, rel=1e-3) and packet.gyr_dps[0, 1] == pytest.approx(-2000.0)
