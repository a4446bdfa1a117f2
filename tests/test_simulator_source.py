"""SimulatorSource: the simulated runner behind the one Source protocol."""

from __future__ import annotations

import asyncio
import dataclasses
import math

import numpy as np
import pytest

from sensorkit.errors import SourceError
from sensorkit.model import Gap, Placement, SampleBlock, SensorHealth, SourceItem, SpeedSample
from sensorkit.sources import Source
from sensorkit.sources.simulator import (
    PodConfig,
    RunnerProfile,
    SimulatedRun,
    SimulationConfig,
    SimulatorSettings,
    SimulatorSource,
    default_pods,
    demo_runners,
)


async def collect(source: SimulatorSource) -> list[SourceItem]:
    async with source:
        return [item async for item in source.items()]


def blocks_of(items: list[SourceItem], sensor_id: str) -> list[SampleBlock]:
    return [i for i in items if isinstance(i, SampleBlock) and i.sensor_id == sensor_id]


CFG = SimulationConfig(RunnerProfile(name="ann"), default_pods(200.0), duration_s=12.0, seed=4)


def test_it_is_a_source_listing_one_sensor_per_pod() -> None:
    cfg = dataclasses.replace(CFG, pods=(*default_pods(208.0),
                                         PodConfig(Placement.PHONE, 100.0, acc_range_g=8.0,
                                                   phone_wear="pocket")))  # type: ignore[arg-type]
    src = SimulatorSource(cfg)
    assert isinstance(src, Source)
    ids = [s.sensor_id for s in src.sensors]
    assert ids == ["ann/lower_back", "ann/left_foot", "ann/right_foot", "ann/phone"]
    for s in src.sensors:
        assert s.runner == "ann" and s.device == "simulator" and s.has_gyro
        assert s.acc_range_g is not None and s.gyr_range_dps is not None
    assert src.sensors[3].sampling_rate_hz == 100.0 and src.sensors[0].sampling_rate_hz == 208.0


async def test_items_come_in_arrival_order_and_stop_when_the_run_ends() -> None:
    items = await collect(SimulatorSource(CFG, speed=math.inf))
    times = [i.end_s if isinstance(i, SampleBlock) else i.time_s for i in items
             if isinstance(i, SampleBlock | SensorHealth)]
    assert times == sorted(times)
    for info in SimulatorSource(CFG).sensors:
        blocks = blocks_of(items, info.sensor_id)
        assert all(len(b) == 8 for b in blocks[:-1]), "40 ms blocks at 200 Hz"
        assert blocks[-1].end_s < CFG.duration_s
        assert sum(len(b) for b in blocks) == 200 * 12
        assert all(b.gyr_dps is not None for b in blocks)


async def test_blocks_of_any_size_concatenate_to_the_same_samples() -> None:
    a = await collect(SimulatorSource(CFG, speed=math.inf, block_duration_s=0.04))
    b = await collect(SimulatorSource(CFG, speed=math.inf, block_duration_s=0.013))
    run = SimulatedRun(CFG)
    for sid in ("ann/lower_back", "ann/right_foot"):
        ca, cb = SampleBlock.concat(blocks_of(a, sid)), SampleBlock.concat(blocks_of(b, sid))
        assert len(blocks_of(b, sid)) > len(blocks_of(a, sid))
        np.testing.assert_array_equal(ca.time_s, cb.time_s)
        np.testing.assert_array_equal(ca.acc_g, cb.acc_g)
        np.testing.assert_array_equal(ca.gyr_dps, cb.gyr_dps)
        direct = run.samples(sid, 0.0, CFG.duration_s)
        np.testing.assert_array_equal(ca.acc_g, direct.acc_g)


async def test_lost_packets_become_gaps_whose_counts_match() -> None:
    pods = tuple(dataclasses.replace(p, loss_fraction=0.05, loss_burst_packets=3.0) for p in default_pods())
    cfg = dataclasses.replace(CFG, pods=pods, duration_s=60.0)
    src = SimulatorSource(cfg, speed=math.inf)
    items = await collect(src)
    for info in src.sensors:
        sid = info.sensor_id
        mine = [i for i in items if isinstance(i, SampleBlock | Gap) and i.sensor_id == sid]
        gaps = [i for i in mine if isinstance(i, Gap)]
        blocks = [i for i in mine if isinstance(i, SampleBlock)]
        received = sum(len(b) for b in blocks)
        lost = sum(g.lost_samples or 0 for g in gaps)
        assert received + lost == 200 * 60
        assert 0.02 < lost / (received + lost) < 0.09
        assert all(g.reason == "packet_loss" for g in gaps)
        # every gap spans from the last sample before to the first after; nothing is interpolated
        expected_first = 0.0
        for item in mine:
            if isinstance(item, Gap):
                assert item.start_s == pytest.approx(expected_first - 1 / 200.0)
                assert item.end_s - item.start_s == pytest.approx((item.lost_samples + 1) / 200.0)
                expected_first = item.end_s
            else:
                assert item.start_s == pytest.approx(expected_first)
                expected_first = item.end_s + 1 / 200.0
        last = [i for i in items if isinstance(i, SensorHealth) and i.sensor_id == sid][-1]
        assert (last.samples, last.lost_samples, last.gaps) == (received, lost, len(gaps))
        assert src.counters[sid].gaps == len(gaps)


async def test_health_once_a_second_per_pod_and_speed_when_enabled() -> None:
    cfg = dataclasses.replace(CFG, speed_output_hz=1.0, duration_s=20.0)
    src = SimulatorSource(cfg, speed=math.inf)
    items = await collect(src)
    health = [i for i in items if isinstance(i, SensorHealth)]
    for info in src.sensors:
        mine = [h for h in health if h.sensor_id == info.sensor_id]
        assert [h.time_s for h in mine] == [float(s) for s in range(1, 21)]
        assert all(h.connected and h.runner == "ann" for h in mine)
        assert [h.samples for h in mine] == sorted(h.samples for h in mine)
    speed = [i for i in items if isinstance(i, SpeedSample)]
    assert len(speed) == 20
    assert all(s.sensor_id == "ann/right_foot" for s in speed)
    (start, stop), = src.run.truth.running_s
    standing = [s for s in speed if not start <= s.time_s < stop]
    running = [s for s in speed if start <= s.time_s < stop]
    assert len(standing) >= 4 and all(s.speed_mps == 0.0 for s in standing)
    assert np.mean([s.speed_mps for s in running]) == pytest.approx(3.0, rel=0.03)
    assert np.mean([s.cadence_spm for s in running]) == pytest.approx(170.0, rel=0.02)
    dist = [s.distance_m for s in speed]
    assert dist == sorted(dist) and dist[-1] == pytest.approx(3.0 * (stop - start))


async def test_a_drifting_pod_is_aligned_onto_the_host_timeline_like_a_ble_pod() -> None:
    # The pod's own clock runs 800 ppm fast: 40 ms off after 50 s if its stamps were trusted.
    pods = (PodConfig(Placement.LOWER_BACK, 100.0, clock_drift_ppm=800.0),
            PodConfig(Placement.LEFT_FOOT, 100.0, clock_drift_ppm=-300.0))
    cfg = dataclasses.replace(CFG, pods=pods, duration_s=50.0)
    items = await collect(SimulatorSource(cfg, speed=math.inf))
    for k, drift in enumerate((800.0, -300.0)):
        sid = f"{cfg.runner.name}/{pods[k].placement.value}"
        blocks = [i for i in items if isinstance(i, SampleBlock) and i.sensor_id == sid]
        n = sum(len(b) for b in blocks)
        assert n == math.ceil(50.0 * 100 * (1 + drift * 1e-6))  # the pod really sampled at its own rate
        t = np.concatenate([b.time_s for b in blocks])
        true_t = np.arange(n) / (100.0 * (1 + drift * 1e-6))
        assert np.all(np.diff(t) > 0)
        late = true_t > 25.0  # once the fit has seen the drift
        assert np.max(np.abs(t[late] - true_t[late])) < 0.005


async def test_cancellation_stops_a_real_time_source() -> None:
    src = SimulatorSource(dataclasses.replace(CFG, duration_s=3600.0), speed=1.0)
    got: list[SourceItem] = []
    first = asyncio.Event()

    async def consume() -> None:
        async with src:
            async for item in src.items():
                got.append(item)
                first.set()

    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(consume())
        await first.wait()
        task.cancel()
    assert task.cancelled()
    assert 0 < len(got) < 1000


async def test_an_endless_run_streams_until_the_consumer_stops() -> None:
    src = SimulatorSource(dataclasses.replace(CFG, duration_s=math.inf), speed=math.inf)
    last = 0.0
    async with src:
        items = src.items()
        async for item in items:
            if isinstance(item, SampleBlock):
                last = item.end_s
                if last > 30.0:
                    break
        await items.aclose()  # type: ignore[attr-defined]
    assert 30.0 < last < 30.1
    assert src.counters["ann/lower_back"].samples >= 30 * 200  # counted as produced, a window ahead


async def test_flat_out_source_still_lets_other_tasks_run() -> None:
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    async with asyncio.TaskGroup() as tg:
        tg.create_task(ticker())
        items = await collect(SimulatorSource(CFG, speed=math.inf))
        done.set()
    assert ticks > len(items) // 64


async def test_items_needs_the_context_and_runs_once() -> None:
    src = SimulatorSource(CFG, speed=math.inf)
    with pytest.raises(SourceError):
        async for _ in src.items():
            pass
    await collect(src)
    with pytest.raises(SourceError):
        await collect(src)


def test_demo_runners_differ_and_runner1_fatigues() -> None:
    cfgs = demo_runners(5, duration_s=600.0)
    assert [c.runner.name for c in cfgs] == ["runner1", "runner2", "runner3", "runner4", "runner5"]
    assert cfgs[0].runner.fatigue is not None and all(c.runner.fatigue is None for c in cfgs[1:])
    assert len({c.runner.cadence_spm for c in cfgs}) == 5
    assert len({c.runner.strike_class for c in cfgs[:3]}) == 3
    assert len({c.seed for c in cfgs}) == 5
    srcs = SimulatorSettings(runners=2, duration_s=60.0).sources(speed=math.inf)
    assert [s.sensors[0].runner for s in srcs] == ["runner1", "runner2"]


async def test_two_simulated_runners_go_through_a_session() -> None:
    from sensorkit.model import RunnerInfo, SessionInfo
    from sensorkit.pipeline.session import Session
    from tests.support.sources import CollectSink

    sources = SimulatorSettings(runners=2, duration_s=8.0).sources(speed=math.inf)
    info = SessionInfo("sim", 0.0, tuple(RunnerInfo(s.sensors[0].runner) for s in sources),
                       tuple(x for s in sources for x in s.sensors), "test")
    sink = CollectSink()
    stats = await Session(info, sources, {}, [sink]).run()
    assert not stats.errors
    got = {i.sensor_id for i in sink.items if isinstance(i, SampleBlock)}
    assert got == {x.sensor_id for x in info.sensors}
