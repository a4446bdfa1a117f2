"""Ground truth from the simulator: the metrics stage recovers what the simulated runner did."""

from __future__ import annotations

import numpy as np
import pytest

from sensorkit.metrics import analyze_items
from sensorkit.model import Placement, RunnerInfo, SampleBlock, SessionInfo, StepMetrics

sim_mod = pytest.importorskip("sensorkit.sources.simulator.run", reason="simulator not available")
profile = pytest.importorskip("sensorkit.sources.simulator.profile", reason="simulator not available")


def _items(sim, duration_s: float, block_s: float = 0.1) -> list[SampleBlock]:
    """Interleaved blocks of about ``block_s`` per sensor, as a live source would deliver them."""
    chunks = [sim.samples(s.sensor_id, 0.0, duration_s) for s in sim.sensors]
    out = []
    n_blocks = int(np.ceil(duration_s / block_s))
    for b in range(n_blocks):
        for ch, info in zip(chunks, sim.sensors, strict=True):
            n = round(block_s * info.sampling_rate_hz)
            sl = slice(b * n, (b + 1) * n)
            if len(ch.time_s[sl]):
                out.append(SampleBlock(ch.sensor_id, ch.time_s[sl], ch.acc_g[sl], ch.gyr_dps[sl]))
    return out


def _run(placements, duration_s=40.0, mount=(10.0, -20.0, 40.0)):
    pods = tuple(profile.PodConfig(p, mount_rpy_deg=mount) for p in placements)
    sim = sim_mod.SimulatedRun(profile.SimulationConfig(pods=pods, duration_s=duration_s))
    info = SessionInfo("s", 0.0, (RunnerInfo(sim.runner.name),), sim.sensors, "test")
    recs = analyze_items(info, _items(sim, duration_s))
    steps = [r for r in recs if isinstance(r, StepMetrics)]
    return sim, steps


def _match(sim, steps):
    truth = sim.truth.steps
    pairs = []
    for s in steps:
        i = int(np.argmin(np.abs(truth.ic_s - s.time_s)))
        if abs(truth.ic_s[i] - s.time_s) < 0.1:
            pairs.append((s, i))
    return truth, pairs


def test_back_pod_alone_finds_every_step_with_its_side_and_cadence() -> None:
    sim, steps = _run([Placement.LOWER_BACK])
    truth, pairs = _match(sim, steps)
    running = truth.between(steps[0].time_s - 0.1, steps[-1].time_s + 0.1)
    assert len(pairs) == len(steps) == len(running)
    assert all(s.side.value == truth.side[i] for s, i in pairs)
    ic_err = np.array([s.time_s - truth.ic_s[i] for s, i in pairs])
    assert np.median(np.abs(ic_err)) < 0.020
    cad = np.array([s.cadence_spm - truth.cadence_spm[i] for s, i in pairs
                    if s.cadence_spm is not None and np.isfinite(truth.cadence_spm[i])])
    assert np.median(np.abs(cad)) < 2.0

