"""Shared helpers for the DSP/metrics tests: simulated runs and their items (no tests here)."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from sensorkit.model import Placement, RunnerInfo, SampleBlock, SessionInfo
from sensorkit.sources.simulator.profile import PodConfig, RunnerProfile, SimulationConfig
from sensorkit.sources.simulator.run import SimulatedRun

MOUNT = (10.0, -20.0, 40.0)
"""A pod clipped on crooked: roll, pitch, yaw in degrees."""


@functools.lru_cache(maxsize=16)
def sim_run(placements: tuple[Placement, ...], duration_s: float = 40.0, mount: tuple[float, ...] = MOUNT,
            runner: RunnerProfile | None = None, seed: int = 0) -> SimulatedRun:
    pods = tuple(PodConfig(p, mount_rpy_deg=mount) for p in placements)  # type: ignore[arg-type]
    cfg = SimulationConfig(runner=runner or RunnerProfile(), pods=pods, duration_s=duration_s, seed=seed)
    return SimulatedRun(cfg)


def session_of(sim: SimulatedRun) -> SessionInfo:
    return SessionInfo("sim", 0.0, (RunnerInfo(sim.runner.name),), sim.sensors, "test")


def items(sim: SimulatedRun, duration_s: float, block_s: float = 0.1) -> list[SampleBlock]:
    """Interleaved blocks of about ``block_s`` per sensor, as a live source would deliver them."""
    chunks = [sim.samples(s.sensor_id, 0.0, duration_s) for s in sim.sensors]
    out = []
    for b in range(int(np.ceil(duration_s / block_s))):
        for ch, info in zip(chunks, sim.sensors, strict=True):
            n = max(round(block_s * info.sampling_rate_hz), 1)
            sl = slice(b * n, (b + 1) * n)
            if len(ch.time_s[sl]):
                out.append(SampleBlock(ch.sensor_id, ch.time_s[sl], ch.acc_g[sl], ch.gyr_dps[sl]))
    return out


def blocks_of(t: np.ndarray, acc: np.ndarray, gyr: np.ndarray | None, size: int,
              sid: str = "s") -> Sequence[SampleBlock]:
    return [SampleBlock(sid, t[i:i + size], acc[i:i + size], None if gyr is None else gyr[i:i + size])
            for i in range(0, len(t), size)]


def match(truth_ic: np.ndarray, ic: np.ndarray, tol_s: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Indices (truth, detected) of one-to-one nearest matches within ``tol_s``."""
    ti, di = [], []
    used = set()
    for j, t in enumerate(ic):
        i = int(np.argmin(np.abs(truth_ic - t)))
        if abs(truth_ic[i] - t) <= tol_s and i not in used:
            used.add(i)
            ti.append(i)
            di.append(j)
    return np.asarray(ti, dtype=int), np.asarray(di, dtype=int)
