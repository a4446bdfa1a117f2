"""Short soaks (CI): the long ones are bench/soak_marathon.py (3 h) and bench/soak_runners.py
(20 runners, 10 min). Same composition and checks (bench/soak_common.py): memory flat after
warm-up, no task outlives the session, and no sample lost beyond the injected packet loss:
the recording holds every sample the simulator delivered and a gap for every one it lost.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench.soak_common import SoakPlan, run_soak

pytestmark = pytest.mark.slow


async def test_a_marathon_flat_out_keeps_memory_flat_and_loses_only_injected_samples(tmp_path: Path) -> None:
    plan = SoakPlan(runners=1, duration_s=360.0, speed=math.inf, loss_fraction=0.003, fatigue_onset_s=120.0,
                    warmup_fraction=0.3, rss_every_s=0.05)
    result = await run_soak(plan, tmp_path)
    assert not result.problems(), result.problems()
    assert len(result.rss) >= 8  # memory really was sampled along the run
    assert all(c["injected_lost"] > 0 for c in result.sensors.values())  # the fault was injected
    assert result.steps > 900


async def test_twenty_runners_in_real_time_lose_nothing_and_leak_no_task(tmp_path: Path) -> None:
    plan = SoakPlan(runners=20, duration_s=15.0, speed=1.0, loss_fraction=0.003)
    result = await run_soak(plan, tmp_path)
    assert not result.problems(memory=False), result.problems(memory=False)
    assert len(result.sensors) == 60 and sum(c["injected_lost"] for c in result.sensors.values()) > 0
