"""The metrics stage's records depend on the data, not on how it was cut into blocks.

A replay may re-cut a recording on a grid (1-s blocks cost a fraction of the live 40-ms ones)
and must still give the live run's records bit for bit. So: simulated runners, fed as live
8-sample items, and the same samples re-cut on a grid the way ``sensorkit.store.recording.grid``
does (every sensor cut at multiples of the grid and at its gaps, items ordered by the time
they became known live), must give equal records of every type, exactly.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import numpy as np
import pytest

from sensorkit.metrics import MetricsSettings, analyze_items
from sensorkit.model import (
    Gap,
    PhoneWear,
    Placement,
    Record,
    RunnerInfo,
    SampleBlock,
    SensorInfo,
    SessionInfo,
    SourceItem,
    SpeedSample,
)
from sensorkit.sources.replay import replay_block_s
from sensorkit.sources.simulator import demo_runners, steady_config
from sensorkit.sources.simulator.feed import ItemFeed
from sensorkit.sources.simulator.profile import SimulationConfig
from sensorkit.sources.simulator.run import SimulatedRun
from sensorkit.store.recording.grid import gap_cut_s

DURATION_S = 40.0

Tweak = Callable[[tuple[SensorInfo, ...], list[SourceItem]], tuple[tuple[SensorInfo, ...], list[SourceItem]]]


def _acc_only_shoes_nan_rows_and_reclip(at_s: float) -> Tweak:
    """Shoes without gyro, a few NaN rows, and the back pod turned by 46 deg from ``at_s``."""
    c, s = math.cos(0.8), math.sin(0.8)
    rot = np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])

    def tweak(sensors: tuple[SensorInfo, ...], items: list[SourceItem]) -> tuple[tuple[SensorInfo, ...],
                                                                                  list[SourceItem]]:
        feet = {x.sensor_id for x in sensors if x.placement in (Placement.LEFT_FOOT, Placement.RIGHT_FOOT)}
        back = next(x.sensor_id for x in sensors if x.placement is Placement.LOWER_BACK)
        sensors = tuple(dataclasses.replace(x, has_gyro=False) if x.sensor_id in feet else x for x in sensors)
        rng = np.random.default_rng(1)
        out: list[SourceItem] = []
        for it in items:
            if isinstance(it, SampleBlock):
                acc = it.acc_g.copy()
                gyr = None if it.gyr_dps is None or it.sensor_id in feet else it.gyr_dps.copy()
                if it.sensor_id == back and it.start_s > at_s:
                    acc = acc @ rot.T
                    gyr = None if gyr is None else gyr @ rot.T
                if rng.random() < 0.003:
                    acc[rng.integers(len(acc))] = np.nan
                it = dataclasses.replace(it, acc_g=acc, gyr_dps=gyr)
            out.append(it)
        return sensors, out

    return tweak


def _lossy(cfg: SimulationConfig, placements: Sequence[Placement]) -> SimulationConfig:
    """``cfg`` with clock drift and 1 % packet loss on the pods at ``placements``."""
    pods = tuple(dataclasses.replace(p, clock_drift_ppm=30.0, loss_fraction=0.01)
                 if p.placement in placements else p for p in cfg.pods)
    return dataclasses.replace(cfg, pods=pods)


def _runner2() -> SimulationConfig:
    """The demo's runner2: 208 Hz pods, rotated back pod, drift, 1 % loss; a 5-s pause."""
    cfg = demo_runners(2, duration_s=DURATION_S)[1]
    return dataclasses.replace(cfg, runner=dataclasses.replace(cfg.runner, pauses=((20.0, 5.0),)))


def _disconnected(placement: Placement, from_s: float, to_s: float) -> Tweak:
    """The pod at ``placement`` silent from ``from_s`` to ``to_s`` (longer than ``stale_s``), the
    gap reported when it reconnects, as a BLE source does."""

    def tweak(sensors: tuple[SensorInfo, ...], items: list[SourceItem]) -> tuple[tuple[SensorInfo, ...],
                                                                                  list[SourceItem]]:
        sid = next(x.sensor_id for x in sensors if x.placement is placement)
        out: list[SourceItem] = []
        last_s = math.nan
        for it in items:
            if isinstance(it, SampleBlock) and it.sensor_id == sid:
                if from_s <= it.start_s < to_s:
                    continue
                if it.start_s >= to_s and last_s < to_s:
                    out.append(Gap(sid, last_s, it.start_s, "disconnected"))
                last_s = it.end_s
            out.append(it)
        return sensors, out

    return tweak


RUNNERS: dict[str, tuple[Callable[[], SimulationConfig], Tweak | None]] = {
    "steady": (lambda: steady_config(duration_s=DURATION_S, seed=0, name="r0"), None),
    "fatiguing": (lambda: demo_runners(1, duration_s=DURATION_S, fatigue_onset_s=10.0)[0], None),
    "phone": (lambda: demo_runners(1, duration_s=DURATION_S, phone=PhoneWear.POCKET)[0], None),
    "lossy shoes": (lambda: _lossy(demo_runners(1, duration_s=DURATION_S)[0],
                                   (Placement.LEFT_FOOT, Placement.RIGHT_FOOT)), None),
    "lossy all": (_runner2, None),
    "acc-only shoes, re-clip": (lambda: demo_runners(1, duration_s=DURATION_S)[0],
                                _acc_only_shoes_nan_rows_and_reclip(DURATION_S / 2)),
    "back pod disconnected": (lambda: demo_runners(1, duration_s=DURATION_S)[0],
                              _disconnected(Placement.LOWER_BACK, 20.3, 23.5)),
}

@cache
def _live(name: str) -> tuple[SessionInfo, tuple[SourceItem, ...]]:
    make, tweak = RUNNERS[name]
    run = SimulatedRun(make())
    sensors = tuple(run.sensors)
    items = [it for w in ItemFeed(run, 0.04, 1.0).windows() for _, it in w]  # 8 samples at 200 Hz
    if tweak is not None:
        sensors, items = tweak(sensors, items)
    info = SessionInfo("s", 0.0, (RunnerInfo(run.runner.name),), sensors, "test", {})
    return info, tuple(items)


def recut(items: Sequence[SourceItem], grid_s: float) -> list[SourceItem]:
    """The samples of ``items`` cut on a ``grid_s`` grid and at gaps, in the order they became
    known live (a block at its last sample but not before a gap before it, a gap at its end;
    ties: gap, block, others)."""
    per_sensor: dict[str, list[SampleBlock | Gap]] = defaultdict(list)
    rows: list[tuple[float, int, int, int, Any]] = []
    for i, it in enumerate(items):
        if isinstance(it, SampleBlock | Gap):
            per_sensor[it.sensor_id].append(it)
        else:
            rows.append((it.time_s, 2, 0, i, it))
    for pos, (sid, its) in enumerate(per_sensor.items()):
        gaps = [g for g in its if isinstance(g, Gap)]
        rows.extend((g.end_s, 0, pos, 0, g) for g in gaps)
        blocks = [b for b in its if isinstance(b, SampleBlock) and len(b)]
        if not blocks:
            continue
        whole = SampleBlock.concat(blocks)
        t = whole.time_s
        edges = np.arange(math.floor(t[0] / grid_s) + 1, math.floor(t[-1] / grid_s) + 1) * grid_s
        cuts = np.unique(np.concatenate([[0, len(t)], np.searchsorted(t, edges, "left"),
                                         np.searchsorted(t, [gap_cut_s(g) for g in gaps], "right")]))
        known = -math.inf
        for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
            block = SampleBlock(sid, t[a:b], whole.acc_g[a:b], None if whole.gyr_dps is None else whole.gyr_dps[a:b],
                                None if whole.mag_ut is None else whole.mag_ut[a:b])
            after_gap = max((g.end_s for g in gaps if gap_cut_s(g) < t[a]), default=-math.inf)
            known = max(known, float(t[b - 1]), after_gap)
            rows.append((known, 1, pos, a, block))
    rows.sort(key=lambda r: r[:4])
    return [r[4] for r in rows]


def _tables(records: list[Record]) -> dict[str, list[str]]:
    """Records per type (StepEvents per sensor), each as its exact repr (floats to the last bit)."""
    out: dict[str, list[str]] = defaultdict(list)
    for r in records:
        key = type(r).__name__ + ("/" + r.sensor_id if hasattr(r, "sensor_id") else "")
        out[key].append(repr(r))
    return dict(out)


def _cases() -> list[Any]:
    out = []
    for name in RUNNERS:
        for grid_s in (1.0, 0.2):
            out.append(pytest.param(name, grid_s, id=f"{name}-{grid_s}s"))
    return out


@pytest.mark.parametrize(("name", "grid_s"), _cases())
def test_records_on_a_grid_equal_the_live_records(name: str, grid_s: float) -> None:
    info, items = _live(name)
    live = _tables(analyze_items(info, items))
    assert {"StepMetrics", "RollingMetrics", "PostureSample"} <= set(live)
    assert any(k.startswith("Calibration/") for k in live) and any(k.startswith("StepEvent/") for k in live)
    assert len(live["StepMetrics"]) > 60 and len(live["RollingMetrics"]) >= DURATION_S - 3
    grid = _tables(analyze_items(info, recut(items, grid_s)))
    assert grid.keys() == live.keys()
    for key, rows in live.items():
        assert grid[key] == rows, key


def test_single_sample_blocks_give_the_live_records() -> None:
    info, items = _live("lossy shoes")
    short = [it for it in items if getattr(it, "end_s", getattr(it, "time_s", 0.0)) < 15.0]
    singles: list[SourceItem] = []
    for it in short:
        if isinstance(it, SampleBlock):
            singles.extend(SampleBlock(it.sensor_id, it.time_s[i:i + 1], it.acc_g[i:i + 1],
                                       None if it.gyr_dps is None else it.gyr_dps[i:i + 1])
                           for i in range(len(it)))
        else:
            singles.append(it)
    assert _tables(analyze_items(info, singles)) == _tables(analyze_items(info, short))


def test_the_recut_keeps_every_sample_and_puts_gaps_between_their_neighbours() -> None:
    info, items = _live("lossy all")
    cut = recut(items, 1.0)
    for sid in {s.sensor_id for s in info.sensors}:
        mine = [it for it in items if isinstance(it, SampleBlock) and it.sensor_id == sid]
        theirs = [it for it in cut if isinstance(it, SampleBlock) and it.sensor_id == sid]
        assert np.array_equal(SampleBlock.concat(mine).time_s, SampleBlock.concat(theirs).time_s)
        last = -math.inf
        for it in cut:
            if isinstance(it, SampleBlock) and it.sensor_id == sid:
                assert it.start_s > last
                last = it.end_s
            elif isinstance(it, Gap) and it.sensor_id == sid:
                assert last <= it.start_s + 1e-9
    assert sum(isinstance(it, Gap) for it in cut) == sum(isinstance(it, Gap) for it in items) > 0
    assert sum(isinstance(it, SpeedSample) for it in cut) == sum(isinstance(it, SpeedSample) for it in items) > 0


def test_the_replay_grid_stays_under_half_the_stale_time_and_so_keeps_the_records() -> None:
    assert replay_block_s(math.inf) == 1.0 and replay_block_s(1000.0) is None
    settings = MetricsSettings(stale_s=1.0)  # a pod silent for 1 s is no longer waited for
    grid_s = replay_block_s(math.inf, settings.stale_s)
    assert grid_s == 0.5
    info, items = _live("back pod disconnected")
    live = _tables(analyze_items(info, items, settings))
    assert _tables(analyze_items(info, recut(items, grid_s), settings)) == live
    # a cell as long as stale_s would let one pod's data run so far ahead that another looks silent
    assert _tables(analyze_items(info, recut(items, 2 * grid_s), settings)) != live
