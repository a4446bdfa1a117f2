"""Ground truth from the simulator: the metrics stage recovers what the simulated runner did."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sensorkit.metrics import MetricsSettings, RunnerMetrics, analyze_items
from sensorkit.model import (
    Calibration,
    EventKind,
    Gap,
    Placement,
    PostureSample,
    RollingMetrics,
    RunnerInfo,
    SampleBlock,
    SessionInfo,
    Side,
    SpeedSample,
    StepEvent,
    StepMetrics,
    StrikeClass,
)
from sensorkit.sources.simulator.feed import ItemFeed
from sensorkit.sources.simulator.profile import PodConfig, RunnerProfile, SimulationConfig
from sensorkit.sources.simulator.run import SimulatedRun
from tests.test_dsp_helpers import items, match, session_of, sim_run

ALL = (Placement.LOWER_BACK, Placement.LEFT_FOOT, Placement.RIGHT_FOOT)
DURATION_S = 40.0


def _analyse(placements: tuple[Placement, ...], duration_s: float = DURATION_S, **kw):  # type: ignore[no-untyped-def]
    sim = sim_run(placements, duration_s, **kw)
    return sim, analyze_items(session_of(sim), items(sim, duration_s))


def _steps(recs: list) -> list[StepMetrics]:
    return [r for r in recs if isinstance(r, StepMetrics)]


def _paired(sim: SimulatedRun, steps: list[StepMetrics], tol_s: float = 0.05):  # type: ignore[no-untyped-def]
    truth = sim.truth.steps
    ti, di = match(truth.ic_s, np.array([s.time_s for s in steps]), tol_s)
    return truth, ti, di


def test_back_pod_alone_finds_every_step_with_its_side_and_cadence() -> None:
    sim, recs = _analyse((Placement.LOWER_BACK,))
    steps = _steps(recs)
    truth, ti, di = _paired(sim, steps, 0.1)
    running = truth.between(steps[0].time_s - 0.1, steps[-1].time_s + 0.1)
    assert len(di) == len(steps) == len(running)
    assert all(steps[d].side.value == truth.side[i] for i, d in zip(ti, di, strict=True))
    ic_err = np.array([steps[d].time_s - truth.ic_s[i] for i, d in zip(ti, di, strict=True)])
    assert np.median(np.abs(ic_err)) < 0.010
    cad = [steps[d].cadence_spm - truth.cadence_spm[i] for i, d in zip(ti, di, strict=True)
           if steps[d].cadence_spm is not None and np.isfinite(truth.cadence_spm[i])]
    assert np.median(np.abs(cad)) < 2.0
    assert all(s.strike_class is StrikeClass.UNKNOWN and s.strike_angle_deg is None for s in steps)
    assert all(s.vertical_oscillation_cm is not None for s in steps[:-1])


def test_three_pods_fused_give_every_metric_of_every_step() -> None:
    sim, recs = _analyse(ALL)
    steps = _steps(recs)
    truth, ti, di = _paired(sim, steps)
    assert len(di) == len(steps) >= 90
    pairs = list(zip(ti, di, strict=True))
    contact = np.array([steps[d].contact_time_ms - truth.contact_time_ms[i] for i, d in pairs
                        if steps[d].contact_time_ms is not None])
    assert np.sqrt(np.mean(contact ** 2)) < 20.0
    fsa = np.array([steps[d].strike_angle_deg - truth.strike_angle_deg[i] for i, d in pairs])  # type: ignore[operator]
    assert np.sqrt(np.mean(fsa ** 2)) < 3.0
    assert all(steps[d].strike_class is StrikeClass.REARFOOT for _, d in pairs)  # 12 deg default runner
    vo = np.array([steps[d].vertical_oscillation_cm - truth.vertical_oscillation_cm[i] for i, d in pairs
                   if steps[d].vertical_oscillation_cm is not None])
    assert np.sqrt(np.mean(vo ** 2)) < 1.0
    lean = np.array([steps[d].trunk_lean_deg - truth.trunk_lean_deg[i] for i, d in pairs
                     if steps[d].trunk_lean_deg is not None])
    assert np.sqrt(np.mean(lean ** 2)) < 1.5
    inner = steps[1:-1]
    for s in inner:
        assert s.sources == "left_foot+lower_back" or s.sources == "right_foot+lower_back"
        assert s.impact_g is not None and 5.0 < s.impact_g < 12.0  # the shoe's impact, not the back's
        assert s.duty_factor is not None and 0.25 < s.duty_factor < 0.5
        assert s.cadence_smooth_spm is not None and abs(s.cadence_smooth_spm - 170) < 6
    assert {s.side for s in steps} == {Side.LEFT, Side.RIGHT}


def test_step_metrics_come_within_one_step_plus_the_documented_look_ahead() -> None:
    sim = sim_run(ALL, DURATION_S)
    info = session_of(sim)
    stage = RunnerMetrics(info.runners[0], info.sensors)
    emitted_at: list[tuple[StepMetrics, float]] = []
    data_time = 0.0
    for it in items(sim, DURATION_S, block_s=0.02):
        data_time = max(data_time, it.end_s)
        emitted_at += [(r, data_time) for r in stage.update(it) if isinstance(r, StepMetrics)]
    assert len(emitted_at) > 80
    steps = [s for s, _ in emitted_at]
    for k, (s, t_emit) in enumerate(emitted_at[:-1]):
        if s.time_s < 10.0:
            continue  # the first steps wait for the mounting calibration
        nxt = steps[k + 1].time_s
        # one step (to the next IC) plus the slowest look-ahead: the back's next-IC confirmation
        # (~0.1 s) and the shoe's push-off window (~0.35 s), and one block
        assert t_emit - nxt <= 0.45, f"step at {s.time_s:.2f} emitted at {t_emit:.2f}, next IC {nxt:.2f}"


def test_trunk_lean_at_10_hz_under_impacts_mounting_tilt_and_gyro_bias() -> None:
    runner = RunnerProfile(trunk_lean_deg=10.0)
    pods = (PodConfig(Placement.LOWER_BACK, mount_rpy_deg=(8.0, -25.0, 60.0), acc_bias_g=(0.02, -0.01, 0.015),
                      gyr_bias_dps=(0.8, -0.5, 0.3)),)
    sim = SimulatedRun(SimulationConfig(runner=runner, pods=pods, duration_s=60.0, seed=3))
    recs = analyze_items(session_of(sim), items(sim, 60.0))
    post = [r for r in recs if isinstance(r, PostureSample)]
    t = np.array([p.time_s for p in post])
    assert np.median(np.diff(t)) <= 0.1 + 1e-9
    lean = np.array([p.trunk_lean_deg for p in post])
    running = t > 10.0
    err = lean[running] - sim.lean_deg(t[running])
    assert np.sqrt(np.mean(err ** 2)) < 1.5
    assert all(p.lateral_lean_deg is not None for p in post)


def test_trunk_lean_stays_right_through_lost_packets_on_a_pod_clipped_nearly_upside_down() -> None:
    # Lost packets must not make the AHRS re-learn gravity from running accelerations.
    runner = RunnerProfile(trunk_lean_deg=5.0)
    pods = (PodConfig(Placement.LOWER_BACK, mount_rpy_deg=(3.0, -85.0, 90.0), loss_fraction=0.03,
                      loss_burst_packets=3),)
    sim = SimulatedRun(SimulationConfig(runner=runner, pods=pods, duration_s=90.0, seed=5))
    feed = [item for window in ItemFeed(sim).windows() for _, item in window]  # what the live source yields
    recs = analyze_items(session_of(sim), feed)
    assert sum(isinstance(x, Gap) for x in feed) >= 10
    post = [r for r in recs if isinstance(r, PostureSample) and r.time_s > 15.0]
    t = np.array([p.time_s for p in post])
    err = np.array([p.trunk_lean_deg for p in post]) - sim.lean_deg(t)
    assert np.sqrt(np.mean(err ** 2)) < 1.5
    assert np.max(np.abs(err)) < 8.0


def test_rolling_metrics_every_second_with_balance_strike_mix_speed_and_distance() -> None:
    cfg = SimulationConfig(runner=RunnerProfile(contact_asymmetry_pct=10.0), pods=tuple(PodConfig(p) for p in ALL),
                           duration_s=DURATION_S, speed_output_hz=1.0)
    sim = SimulatedRun(cfg)
    feed = items(sim, DURATION_S)
    speeds = [SpeedSample(sim.sensors[2].sensor_id, t, v, c, None, d) for t, v, c, d in
              (sim.speed_reading(n) for n in range(int(DURATION_S) - 1))]
    merged = sorted([*feed, *speeds], key=lambda x: x.time_s if isinstance(x, SpeedSample) else x.end_s)
    recs = analyze_items(session_of(sim), merged, MetricsSettings(rolling_window_s=10.0))
    roll = [r for r in recs if isinstance(r, RollingMetrics)]
    assert np.allclose(np.diff([r.time_s for r in roll]), 1.0)
    late = [r for r in roll if r.time_s > 25]
    assert late and all(r.moving for r in late)
    assert all(r.rearfoot_pct == 100.0 for r in late)
    # left contacts 10 % longer than right (x1.05 and x0.95): left share of contact time 52.5 %
    assert np.mean([r.balance_left_pct for r in late]) == pytest.approx(100 * 1.05 / (1.05 + 0.95), abs=1.0)
    assert all(r.speed_mps is not None and abs(r.speed_mps - 3.0) < 0.3 for r in late)
    assert late[-1].distance_m == pytest.approx(sim.distance_m(late[-1].time_s), abs=5.0)
    standing = [r for r in roll if r.time_s < 4.0]
    assert standing and not any(r.moving for r in standing)


def test_lost_packets_never_make_phantom_steps() -> None:
    pods = tuple(PodConfig(p, loss_fraction=0.05, loss_burst_packets=3.0) for p in ALL)
    sim = SimulatedRun(SimulationConfig(pods=pods, duration_s=DURATION_S, seed=5))
    from sensorkit.sources.simulator.source import SimulatorSource

    src = SimulatorSource(sim.config, speed=math.inf)
    import asyncio

    async def collect() -> list:
        out = []
        async with src:
            async for it in src.items():
                if isinstance(it, SampleBlock | Gap):
                    out.append(it)
        return out

    feed = asyncio.run(collect())
    assert any(isinstance(x, Gap) for x in feed)
    recs = analyze_items(session_of(sim), feed)
    steps = _steps(recs)
    truth = sim.truth.steps
    for s in steps:  # every reported step is a real one
        assert np.min(np.abs(truth.ic_s - s.time_s)) < 0.05
    events = [r for r in recs if isinstance(r, StepEvent) and r.kind is EventKind.INITIAL_CONTACT]
    for e in events:
        assert np.min(np.abs(truth.ic_s - e.time_s)) < 0.1
    assert len(steps) > 0.8 * len(truth.between(6.0, DURATION_S - 1.0))


def test_every_pod_reports_its_mounting_calibration() -> None:
    sim, recs = _analyse(ALL)
    cals = [r for r in recs if isinstance(r, Calibration)]
    assert {c.sensor_id for c in cals} == {s.sensor_id for s in sim.sensors}
    for c in cals:
        truth = np.asarray(sim.truth.sf_to_bf[c.sensor_id]).reshape(3, 3)
        err = np.asarray(c.sf_to_bf).reshape(3, 3) @ truth.T
        assert math.degrees(math.acos(min(1.0, (np.trace(err) - 1) / 2))) < 3.0
        assert c.method == "standing"


def test_runner_metrics_ignores_other_runners_and_unknown_items() -> None:
    sim = sim_run((Placement.LOWER_BACK,), 20.0)
    other = SessionInfo("s", 0.0, (RunnerInfo("someone-else"),), (), "test")
    stage = RunnerMetrics(other.runners[0], sim.sensors)
    assert all(stage.update(it) == [] for it in items(sim, 20.0)[:50])
    assert stage.finish() == []
